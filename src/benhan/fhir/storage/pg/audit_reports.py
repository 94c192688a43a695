"""Reports over the audit log (issue 4): the auditor's search, one event, "who viewed this record" and the
head of department's break-the-glass review.  Who may ask is decided by ``benhan.admin.audit_reports``.
They read ``audit_event``: the audit log's rows and the events of the read audit's blocks (migration 0018)."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from benhan.fhir.storage.admin_types import AuditFilter, AuditRow
from benhan.fhir.storage.pg.audit_trail import EVENT_COLUMNS, event_contents
from benhan.kernel.db import Conn


def _row(r: asyncpg.Record, content: bytes) -> AuditRow:
    return AuditRow(
        chain=r["chain"], seq=r["seq"], recorded=r["recorded"], action=r["action"], outcome=r["outcome"],
        user_name=r["user_name"], user_id=r["user_id"], client_id=r["client_id"], facility_id=r["facility_id"],
        department_id=r["department_id"], patient_id=r["patient_id"], break_glass=r["break_glass"],
        entity=tuple(r["entity"]), content=content, part=r["part"],
    )


async def _rows(conn: Conn, found: list[asyncpg.Record]) -> list[AuditRow]:
    return [_row(r, c) for r, c in zip(found, await event_contents(conn, found), strict=True)]


async def search_audit(conn: Conn, where: AuditFilter, offset: int = 0, limit: int = 200) -> list[AuditRow]:
    """Newest first, by any of user, patient, action, outcome, time range, break-the-glass and facility."""
    filters: dict[str, str | bool | datetime | None] = {
        "user_name = ": where.user_name, "patient_id = ": where.patient_id, "action = ": where.action,
        "outcome = ": where.outcome, "recorded >= ": where.since, "recorded < ": where.until,
        "break_glass = ": where.break_glass, "facility_id = ": where.facility_id,
        "department_id = ": where.department_id,
    }
    # The block-level columns a filter implies (a block holds a match only if they hold), so that
    # PostgreSQL reads a patient's or a user's blocks by their indexes, not every block's events.
    implied = {"user_name = ": "users @> ARRAY[{}]::text[]", "patient_id = ": "patients @> ARRAY[{}]::text[]",
               "recorded >= ": "recorded_to >= {}", "recorded < ": "recorded_from < {}"}
    used = [(sql, value) for sql, value in filters.items() if value is not None]
    clauses = []
    for i, (sql, value) in enumerate(used, 1):
        clauses.append(f"{sql}${i}")
        if sql in implied:
            clauses.append(implied[sql].format(f"${i}"))
        elif sql == "break_glass = " and value is True:
            clauses.append("any_glass")
    rows = await conn.fetch(
        f"SELECT {EVENT_COLUMNS} FROM audit_event WHERE {' AND '.join(clauses) or 'true'}"
        f" ORDER BY recorded DESC, chain, seq, part OFFSET {int(offset)} LIMIT {int(limit)}", *[v for _s, v in used],
    )
    return await _rows(conn, rows)


class AuditReports:
    """:class:`benhan.fhir.storage.admin_types.AuditReader` over PostgreSQL."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def search(self, where: AuditFilter, offset: int, limit: int) -> list[AuditRow]:
        async with self.pool.acquire() as conn:
            return await search_audit(conn, where, offset, limit)

    async def event(self, chain: int, seq: int, part: int = 0) -> AuditRow | None:
        async with self.pool.acquire() as conn:
            r = await conn.fetchrow(f"SELECT {EVENT_COLUMNS} FROM audit_event WHERE chain = $1 AND seq = $2"
                                    " AND part = $3", chain, seq, part)
            return (await _rows(conn, [r]))[0] if r else None
