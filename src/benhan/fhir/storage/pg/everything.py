"""Data for ``Patient/[id]/$everything`` (FHIR R4 patient-operation-everything.html).

The patient, every current resource in its compartment (``resource.patient_id``, indexed), and the
resources those refer to outside the compartment (practitioners, organisations, medications ...) as
includes. ``start``/``end`` filter on the clinical date index when a resource has one; resources without
any date are kept, as the operation asks. Paging is by (type, rid), one index range scan.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from benhan.fhir.search.result import Row, SearchResult
from benhan.fhir.search.values import MAX_INSTANT, MIN_INSTANT
from benhan.fhir.storage.content import unpack
from benhan.kernel.db import Conn, custom_plans

__all__ = ["everything"]

_COLS = "r.rid, r.type, r.id, r.version, r.last_updated, r.content"


def _row(r: asyncpg.Record) -> Row:
    return (r["type"], r["id"], r["version"], r["last_updated"], unpack(r["content"]))


@custom_plans
async def everything(
    conn: Conn, patient_id: str, start: datetime | None = None, end: datetime | None = None,
    since: datetime | None = None, types: list[str] | None = None, count: int = 1000, offset: int = 0,
    *, access_filter: str | None = None, access_args: list[object] | None = None,
) -> SearchResult:
    """One page of the patient's record. ``next_cursor`` is the next offset (as text) when more follow."""
    args: list[object] = list(access_args or [])

    def arg(v: object) -> str:
        args.append(v)
        return f"${len(args)}"

    pid = arg(patient_id)
    where = [f"(r.patient_id = {pid} OR (r.type = 'Patient' AND r.id = {pid}))", "NOT r.deleted"]
    if access_filter:
        where.append(f"({access_filter})")
    if since is not None:
        where.append(f"r.last_updated >= {arg(since)}")
    if types:
        where.append(f"r.type = ANY({arg(types)}::text[])")
    if start is not None or end is not None:
        lo, hi = arg(start or MIN_INSTANT), arg(end or MAX_INSTANT)
        where.append(f"(NOT EXISTS (SELECT 1 FROM sp_date d WHERE d.rid = r.rid) OR EXISTS (SELECT 1 FROM sp_date d "
                     f"WHERE d.rid = r.rid AND d.high > {lo}::timestamptz AND d.low < {hi}::timestamptz))")
    rows = await conn.fetch(
        f"SELECT {_COLS} FROM resource r WHERE {' AND '.join(where)} "
        f"ORDER BY r.type <> 'Patient', r.type, r.rid LIMIT {count + 1} OFFSET {offset}", *args)
    more = len(rows) > count
    rows = rows[:count]
    includes = await _referenced(conn, rows, access_filter, access_args)
    return SearchResult(
        matches=[_row(r) for r in rows], includes=includes, total=None if more or offset else len(rows),
        next_cursor=str(offset + count) if more else None,
        previous_cursor=str(max(0, offset - count)) if offset else None,
    )


async def _referenced(
    conn: Conn, rows: list[asyncpg.Record], access_filter: str | None, access_args: list[object] | None
) -> list[Row]:
    """Resources outside any patient compartment referred to by the page (search.html#include-like).

    The page's references are read first (``sp_reference`` by rid); those to resources already on the page
    are dropped here, and the rest are fetched by one ``(type, id)`` index probe each (LATERAL: a plain
    ``(type, id) IN (...)`` lets the planner hash-join a scan of every resource: 0.5 s at a million)."""
    if not rows:
        return []
    refs = await conn.fetch("SELECT DISTINCT ref_type, ref_id FROM sp_reference WHERE rid = ANY($1::int8[]) "
                            "AND ref_type <> ''", [r["rid"] for r in rows])
    shown = {(r["type"], r["id"]) for r in rows}
    wanted = [(t["ref_type"], t["ref_id"]) for t in refs if (t["ref_type"], t["ref_id"]) not in shown]
    if not wanted:
        return []
    args: list[object] = [*(access_args or []), [w[0] for w in wanted], [w[1] for w in wanted]]
    acc = f" AND ({access_filter})" if access_filter else ""
    n = len(args)
    found = await conn.fetch(
        f"SELECT {_COLS} FROM unnest(${n - 1}::text[], ${n}::text[]) AS t(type, id) CROSS JOIN LATERAL "
        f"(SELECT * FROM resource r WHERE r.type = t.type AND r.id = t.id OFFSET 0) r "
        f"WHERE r.patient_id IS NULL AND r.type <> 'Patient' AND NOT r.deleted{acc}", *args)
    return [_row(r) for r in found]
