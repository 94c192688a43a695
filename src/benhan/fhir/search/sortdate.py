"""The sort date of a resource: the column ``resource.sort_date`` (migrations 0014).

A patient's chart lists a type "newest first": ``Observation?patient=X&category=vital-signs&_sort=-date``.
Sorting by a search parameter reads the key from the index rows of each match (``max(high)`` of its
``sp_date`` rows), so PostgreSQL computed it for every Observation of the patient — a thousand for a long
record — before it could keep the first page.  The key of ``_sort=-date`` is therefore also stored on the
resource row, where the index ``resource (patient_id, type, sort_date DESC NULLS LAST)`` hands a
patient's resources over in that order and the search stops after one page.

The value is exactly the sort key the index rows give: the latest instant (the exclusive upper bound,
``extract`` / FHIR R4 search.html#date) of the type's ``date`` parameter, NULL when the resource has
none or the type has no ``date`` parameter.  Only the descending sort uses it; ascending and other keys
are read from the index rows as before.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache

from benhan.fhir.search import registry
from benhan.fhir.search.registry import SearchParam
from benhan.fhir.search.rows import IndexRows

PARAM = "date"


def param_of(resource_type: str) -> SearchParam | None:
    """The parameter whose descending sort ``resource.sort_date`` answers for ``resource_type``."""
    p = registry.lookup(resource_type, PARAM)
    return p if p is not None and p.type == "date" else None


@cache
def pids_of(resource_type: str) -> frozenset[int]:
    """The ids of the ``sp_date`` rows that answer the type's ``date`` parameter (its own, or those of the
    parameters it aliases: registry.SearchParam.stored)."""
    p = param_of(resource_type)
    if p is None:
        return frozenset()
    owners = [p] if p.indexed else [o for o in (registry.lookup(resource_type, c) for c in p.stored) if o]
    return frozenset(o.pid for o in owners)


def sort_date(resource_type: str, rows: IndexRows) -> datetime | None:
    """``max(high)`` of the resource's rows of its type's ``date`` parameter; None when it has none."""
    pids = pids_of(resource_type)
    if not pids:
        return None
    return max((high for pid, _low, high in rows.dates if pid in pids), default=None)
