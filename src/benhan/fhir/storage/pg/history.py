"""History at instance, type and system level (FHIR R4 http.html#history).

Versions live in two tables (current in ``resource``, older ones in ``resource_history``); history reads
the union, newest first.  ``_at`` gives, per resource, the version current at that instant.
"""

from __future__ import annotations

from benhan.fhir.storage.pg.rows import to_stored
from benhan.fhir.storage.protocol import HistoryPage, HistoryQuery
from benhan.kernel.db import Conn

COLS = "rid, type, id, version, last_updated, deleted, patient_id, content"


def _filters(query: HistoryQuery, rid: int | None, first: list[object]) -> tuple[str, list[object]]:
    clauses: list[str] = []
    args: list[object] = list(first)
    if rid is not None:
        args.append(rid)
        clauses.append(f"rid = ${len(args)}")
    elif query.type:
        args.append(query.type)
        clauses.append(f"type = ${len(args)}")
    if query.since is not None:
        args.append(query.since)
        clauses.append(f"last_updated >= ${len(args)}")
    if query.snapshot is not None:
        args.append(query.snapshot)
        clauses.append(f"last_updated <= ${len(args)}")
    return (" AND ".join(clauses) or "true"), args


async def history(
    conn: Conn, query: HistoryQuery, rid: int | None, access: str | None = None, access_args: list[object] | None = None
) -> HistoryPage:
    """``access``: the access predicate over alias ``r`` with ``$1..$k`` = ``access_args`` (issue 4)."""
    where, args = _filters(query, rid, access_args or [])
    union = f"SELECT {COLS} FROM resource WHERE {where} UNION ALL SELECT {COLS} FROM resource_history WHERE {where}"
    if access:
        # Tombstones carry no patient; on instance history the instance decision already covered them.
        tomb = "r.deleted OR " if rid is not None else ""
        union = f"SELECT * FROM ({union}) r WHERE {tomb}{access}"
    if query.at is not None:
        # The version of each resource that was current at `_at`: the newest one not after it.
        args.append(query.at)
        union = (
            f"SELECT DISTINCT ON (rid) * FROM ({union}) v WHERE last_updated <= ${len(args)}"
            " ORDER BY rid, version DESC"
        )
    args.extend([query.count + 1, query.offset])
    sql = (
        f"SELECT * FROM ({union}) page ORDER BY last_updated DESC, rid DESC, version DESC "
        f"LIMIT ${len(args) - 1} OFFSET ${len(args)}"
    )
    rows = await conn.fetch(sql, *args)
    more = len(rows) > query.count
    return HistoryPage(entries=[to_stored(r) for r in rows[: query.count]], more=more)
