"""The patient compartment of a resource (FHIR R4 compartmentdefinition-patient), stored on its row so access
control, ``$everything``, patient-scoped searches and a later sharding by patient need no search (pure, no
I/O)."""

from __future__ import annotations

import functools
from typing import Any

from benhan.fhir.search import registry
from benhan.fhir.search.paths import compile_expression
from benhan.fhir.search.registry import SearchParam
from benhan.fhir.search.rows import split_reference

__all__ = ["is_first_single_param", "patient_compartment"]


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


@functools.lru_cache(maxsize=4096)
def is_first_single_param(rtype: str, p: SearchParam) -> bool:
    """Whether ``p`` reads the single-valued element of ``rtype``'s first Patient-compartment parameter: then
    every ``rtype`` whose ``p`` is ``Patient/X`` has :func:`patient_compartment` X, and a search by ``p`` may
    start from the patient's rows (``storage/pg/search_sql.Sql._compartment_hint``)."""
    from benhan.fhir.model.definitions import MODEL

    def storage_of(param: SearchParam | None) -> SearchParam | None:
        return registry.lookup(rtype, param.stored[0]) if param is not None and param.stored else param

    first_code = next(iter(registry.patient_compartment_params().get(rtype, ())), None)
    first = storage_of(registry.lookup(rtype, first_code) if first_code else None)
    stored = storage_of(p)
    if first is None or stored is None or stored.code != first.code:
        return False
    path = first.expression.split("|")[0].strip()
    if "." not in path or path.count(".") != 1 or not path.startswith(rtype + "."):
        return False
    node = MODEL.nodes.get(rtype)
    variants = node.by_name.get(path.split(".", 1)[1]) if node else None
    return bool(variants) and all(v.max == 1 and not v.is_array for v in variants or ())
