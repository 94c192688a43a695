"""The audit log read as FHIR AuditEvent resources (issue 4): ``GET /fhir/AuditEvent`` and ``/AuditEvent/[id]``.

The events of ``audit_event`` (the rows of ``audit_log`` and the events of the read audit's blocks, migration
0018) already hold the BALP-shaped AuditEvent (``benhan.access.audit``) as canonical JSON; a resource is that
content with ``id`` (``<chain>-<seq>`` for a row, ``<chain>-<seq>-<part>`` for a block's event: stable, the
log is append-only) and ``meta``.
The search uses the log's own columns, so only the parameters with a column are supported (the router
lists them).  Who may read is the access policy's decision (the ``audit`` category; by default the auditor
role and clients holding ``system/AuditEvent.rs``), and reading the audit is itself audited.
"""

from __future__ import annotations

import re
from typing import Any

import asyncpg
import orjson

from benhan.fhir.storage.access_types import LEVEL_DEPARTMENT, LEVEL_PROVINCE, AuditInfo, audit_event_id
from benhan.fhir.storage.pg.audit_trail import event_contents
from benhan.fhir.storage.pg.guard import Guard
from benhan.fhir.storage.protocol import AuditQuery, JsonObj
from benhan.kernel.clock import fhir_instant
from benhan.kernel.context import RequestContext
from benhan.kernel.db import Conn
from benhan.kernel.errors import BenhanError, ErrorCode

TYPE = "AuditEvent"
_ID = re.compile(r"^([0-9]{1,4})-([0-9]{1,18})(?:-([0-9]{1,6}))?$")
_OPS = frozenset({">=", ">", "<", "<="})


def to_resource(row: asyncpg.Record, content: bytes) -> JsonObj:
    event: JsonObj = orjson.loads(content)
    event["id"] = audit_event_id(row["chain"], row["seq"], row["part"])
    event["meta"] = {"versionId": "1", "lastUpdated": fhir_instant(row["recorded"])}
    return event


def _scope(guard: Guard, ctx: RequestContext) -> dict[str, str | None]:
    """Column limits from the policy's visibility of AuditEvent: a role whose ``audit`` level is below the
    province sees its facility's (or department's) records; a ``patient/`` scope only its patient's."""
    if guard.access is None or ctx.is_system:
        return {}
    vis, _refused = guard.access.visibility(ctx, "search", (TYPE,))
    limits: dict[str, str | None] = {}
    for rule in vis.rules:
        if TYPE not in rule.types:
            continue
        if rule.patient_id:
            limits["patient_id"] = rule.patient_id
        if rule.min_level > LEVEL_PROVINCE:
            limits["facility_id"] = vis.facility_id
        if rule.min_level >= LEVEL_DEPARTMENT:
            limits["department_id"] = vis.department_id
    return limits


def _where(query: AuditQuery, limits: dict[str, str | None]) -> tuple[str, list[Any]]:
    args: list[Any] = []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    clauses = [f"{col} IS NOT DISTINCT FROM {arg(value)}" for col, value in limits.items()]
    # A block's patients and users (GIN) and time span (BRIN) stand for its events' (migration 0018): named
    # too, so PostgreSQL reads only the blocks that can hold a match before it unnests their events.
    for array, value in (("patients", limits.get("patient_id") or query.patient_id), ("users", query.user_name)):
        if value:
            clauses.append(f"{array} @> ARRAY[{arg(value)}]::text[]")
    if query.patient_id:
        clauses.append(f"patient_id = {arg(query.patient_id)}")
    if query.entity:
        ref = arg(query.entity)
        patient = query.entity.removeprefix("Patient/") if query.entity.startswith("Patient/") else None
        clauses.append(f"({ref} = ANY(entity)" + (f" OR patient_id = {arg(patient)})" if patient else ")"))
    if query.practitioner_id:
        clauses.append(f"user_id IN (SELECT id FROM app_user WHERE practitioner_id = {arg(query.practitioner_id)})")
    for col, value in (("user_name", query.user_name), ("user_id", query.user_id),
                       ("facility_id", query.facility_id)):
        if value:
            clauses.append(f"{col} = {arg(value)}")
    if query.actions:
        clauses.append(f"action = ANY({arg(list(query.actions))}::text[])")
    if query.outcomes:
        clauses.append(f"outcome = ANY({arg(list(query.outcomes))}::text[])")
    for op, when in query.recorded:
        if op not in _OPS:
            raise ValueError(op)
        ref = arg(when)
        clauses.append(f"recorded {op} {ref} AND {'recorded_to' if op[0] == '>' else 'recorded_from'} {op} {ref}")
    return " AND ".join(clauses) or "true", args


async def search(conn: Conn, guard: Guard, ctx: RequestContext, query: AuditQuery) -> tuple[list[JsonObj], bool]:
    await guard.check_type(ctx, "search", TYPE)
    where, args = _where(query, _scope(guard, ctx))
    rows = await conn.fetch(
        f"SELECT chain, seq, part, recorded, content FROM audit_event WHERE {where}"
        f" ORDER BY recorded DESC, chain, seq DESC, part DESC LIMIT {int(query.count) + 1} OFFSET {int(query.offset)}",
        *args,
    )
    page = rows[: query.count]
    found = [to_resource(r, c) for r, c in zip(page, await event_contents(conn, page), strict=True)]
    await guard.record(ctx, AuditInfo("search", type=TYPE, query=query.text,
                                      returned=tuple(f"{TYPE}/{e['id']}" for e in found)))
    return found, len(rows) > query.count


async def read(conn: Conn, guard: Guard, ctx: RequestContext, id_: str) -> JsonObj:
    await guard.check_type(ctx, "read", TYPE)
    m = _ID.match(id_)
    row = None
    if m is not None:
        where, args = _where(AuditQuery(), _scope(guard, ctx))
        args += [int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)]
        row = await conn.fetchrow(
            f"SELECT chain, seq, part, recorded, content FROM audit_event WHERE {where}"
            f" AND chain = ${len(args) - 2} AND seq = ${len(args) - 1} AND part = ${len(args)}", *args,
        )
    if row is None or (m is not None and m.group(3) is not None and row["part"] == 0):
        await guard.record(ctx, AuditInfo("read", "failed", TYPE, id_, detail="not found"))
        raise BenhanError(ErrorCode.NOT_FOUND, f"{TYPE}/{id_} is not known")
    await guard.record(ctx, AuditInfo("read", type=TYPE, id=id_))
    return to_resource(row, (await event_contents(conn, [row]))[0])
