"""Reports over the audit log (issue 4): the auditor's search, one event, "who viewed this record" and the
head of department's break-the-glass review.  Who may ask is decided by ``benhan.admin.audit_reports``."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from benhan.fhir.storage.admin_types import AuditFilter, AuditRow
from benhan.fhir.storage.content import unpack
from benhan.kernel.db import Conn

_COLS = ("chain, seq, recorded, action, outcome, user_name, user_id, client_id, facility_id, department_id,"
         " patient_id, break_glass, entity, content")


def _row(r: asyncpg.Record) -> AuditRow:
    return AuditRow(
        chain=r["chain"], seq=r["seq"], recorded=r["recorded"], action=r["action"], outcome=r["outcome"],
        user_name=r["user_name"], user_id=r["user_id"], client_id=r["client_id"], facility_id=r["facility_id"],
        department_id=r["department_id"], patient_id=r["patient_id"], break_glass=r["break_glass"],
        entity=tuple(r["entity"]), content=unpack(r["content"]),
    )


async def search_audit(conn: Conn, where: AuditFilter, offset: int = 0, limit: int = 200) -> list[AuditRow]:
    """Newest first, by any of user, patient, action, outcome, time range, break-the-glass and facility."""
    filters: dict[str, str | bool | datetime | None] = {
        "user_name = ": where.user_name, "patient_id = ": where.patient_id, "action = ": where.action,
        "outcome = ": where.outcome, "recorded >= ": where.since, "recorded < ": where.until,
        "break_glass = ": where.break_glass, "facility_id = ": where.facility_id,
        "department_id = ": where.department_id,
    }
    used = [(sql, value) for sql, value in filters.items() if value is not None]
    clause = " AND ".join(f"{sql}${i + 1}" for i, (sql, _v) in enumerate(used)) or "true"
    rows = await conn.fetch(
        f"SELECT {_COLS} FROM audit_log WHERE {clause} ORDER BY recorded DESC, chain, seq"
        f" OFFSET {int(offset)} LIMIT {int(limit)}", *[v for _s, v in used],
    )
    return [_row(r) for r in rows]


class AuditReports:
    """:class:`benhan.fhir.storage.admin_types.AuditReader` over PostgreSQL."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def search(self, where: AuditFilter, offset: int, limit: int) -> list[AuditRow]:
        async with self.pool.acquire() as conn:
            return await search_audit(conn, where, offset, limit)

    async def event(self, chain: int, seq: int) -> AuditRow | None:
        async with self.pool.acquire() as conn:
            r = await conn.fetchrow(f"SELECT {_COLS} FROM audit_log WHERE chain = $1 AND seq = $2", chain, seq)
        return _row(r) if r else None
