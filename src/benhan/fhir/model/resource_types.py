"""The FHIR R4 resource types and the Patient compartment (FHIR R4 compartmentdefinition-patient)."""

from __future__ import annotations

from typing import Final

from benhan.fhir.model.definitions import MODEL

RESOURCE_TYPES: Final[frozenset[str]] = MODEL.resource_types


def is_resource_type(name: str) -> bool:
    """True for a concrete R4 resource type name ("Patient"); False for "Resource", "patient", ...."""
    return name in RESOURCE_TYPES


def patient_compartment_params(resource_type: str) -> tuple[str, ...]:
    """Search parameter codes that link ``resource_type`` to the Patient compartment.

    Empty when the type is not in the compartment. For ``Patient`` itself the definition names
    ``link``; the resource's own id also places it in its compartment (compartmentdefinition.html).
    """
    return MODEL.compartment.get(resource_type, ())
