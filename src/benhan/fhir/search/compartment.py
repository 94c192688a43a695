"""The patient compartment of a resource (FHIR R4 compartmentdefinition-patient), stored on its row so access
control, ``$everything`` and a later sharding by patient need no search (pure, no I/O)."""

from __future__ import annotations

from typing import Any

from benhan.fhir.search import registry
from benhan.fhir.search.extract import split_reference
from benhan.fhir.search.paths import compile_expression

__all__ = ["patient_compartment"]


def patient_compartment(resource: dict[str, Any]) -> str | None:
    """The Patient id whose compartment holds ``resource`` (FHIR R4 compartmentdefinition-patient).

    A Patient is in its own compartment; other types use the first compartment parameter (in the
    definition's order) that references a Patient. None when the resource is in no Patient compartment.
    """
    rtype = resource.get("resourceType")
    if not isinstance(rtype, str):
        return None
    if rtype == "Patient":
        rid = resource.get("id")
        return rid if isinstance(rid, str) else None
    for code in registry.patient_compartment_params().get(rtype, ()):
        p = registry.lookup(rtype, code)
        if p is None or not p.expression:
            continue
        for value, _t in compile_expression(p.expression, rtype)(resource):
            if isinstance(value, dict) and isinstance(value.get("reference"), str):
                split = split_reference(value["reference"])
                if split and split[0] == "Patient" and "://" not in split[1]:
                    return split[1]
    return None
