"""Set ``resource.sort_date`` (search/sortdate.py) of every current resource from its ``sp_date`` rows.

Writes keep the column current themselves (``index.py``, ``bulk.py``); this statement fills it for rows
written before migration 0014 and after ``benhan reindex`` (a changed ``date`` parameter changes the
key).  It only rewrites the rows whose value differs.
"""

from __future__ import annotations

from benhan.fhir.model.resource_types import RESOURCE_TYPES
from benhan.fhir.search.sortdate import pids_of

__all__ = ["sync_sql"]


def sync_sql() -> str:
    """One UPDATE (the type -> parameter ids mapping inlined: the migration runs it as plain DDL)."""
    pairs = [(t, sorted(pids_of(t))) for t in sorted(RESOURCE_TYPES) if pids_of(t)]
    values = ", ".join(f"('{t}', ARRAY[{', '.join(map(str, pids))}]::int4[])" for t, pids in pairs)
    return (
        f"WITH p(type, pids) AS (VALUES {values}), "
        "k AS (SELECT r.rid, (SELECT max(x.high) FROM sp_date x WHERE x.rid = r.rid AND x.param = ANY(p.pids)) AS d "
        "FROM resource r LEFT JOIN p ON p.type = r.type WHERE NOT r.deleted) "
        "UPDATE resource r SET sort_date = k.d FROM k WHERE k.rid = r.rid AND r.sort_date IS DISTINCT FROM k.d"
    )
