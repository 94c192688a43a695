"""FHIR operations, one file each with its OperationDefinition beside it (``DEFINITION``).

The router calls :func:`operation_handler` for ``[type]/$op`` and ``[type]/[id]/$op`` and renders the
returned :class:`OperationResult`. See README.md for how to add one more.
"""

from __future__ import annotations

from benhan.fhir.operations import codesystem_lookup, validate_code, valueset_expand
from benhan.fhir.operations.base import Handler, OperationResult, OpRequest

__all__ = ["DEFINITIONS", "Handler", "OpRequest", "OperationResult", "operation_handler"]

_HANDLERS: dict[tuple[str, str], Handler] = {
    ("CodeSystem", "lookup"): codesystem_lookup.handle,
    ("CodeSystem", "validate-code"): validate_code.handle_codesystem,
    ("ValueSet", "expand"): valueset_expand.handle,
    ("ValueSet", "validate-code"): validate_code.handle_valueset,
}

#: every OperationDefinition, for the CapabilityStatement and ``GET OperationDefinition``
DEFINITIONS = (codesystem_lookup.DEFINITION, valueset_expand.DEFINITION, validate_code.DEFINITION)


def operation_handler(resource_type: str, name: str) -> Handler | None:
    """The handler of ``resource_type/$name`` (``name`` with or without the ``$``), or None."""
    return _HANDLERS.get((resource_type, name.removeprefix("$")))
