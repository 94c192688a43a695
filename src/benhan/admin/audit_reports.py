"""Audit reports (issue 4): the auditor's search, one event in full, and "who viewed this record".

Who may search the audit is the policy's answer for reading ``AuditEvent`` (the ``audit`` category: the
auditor by default, configurable per province, docs/security.md); a role granting it at ``facility`` level
sees the events of the active facility only.  Opening a report is itself audited (a search or read of
AuditEvent), and so is every refusal.  :func:`record_accesses` is the listing without the staff check, for
the patient portal to call with its own (the patient's) check.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from benhan.access.config import PolicyConfig
from benhan.access.policy import can_review_break_glass, subject_level
from benhan.admin.scope import AdminDeps, org_units, refuse
from benhan.clinical.registration import PatientSummary
from benhan.fhir.storage.access_types import LEVEL_PROVINCE, AuditInfo, audit_event_id
from benhan.fhir.storage.admin_types import AuditFilter, AuditReader, AuditRow
from benhan.kernel.context import RequestContext
from benhan.kernel.errors import ErrorCode

PAGE_SIZE = 50


@dataclass(frozen=True, slots=True)
class Access:
    """One line of an audit list: who, with which roles, for which facility, when, what, how it ended."""

    row: AuditRow
    roles: tuple[str, ...]
    facility_name: str
    what: str


@dataclass(frozen=True, slots=True)
class AuditPage:
    items: list[Access]
    page: int
    has_more: bool


@dataclass(frozen=True, slots=True)
class WhoViewed:
    patient: PatientSummary
    accesses: AuditPage


@dataclass(frozen=True, slots=True)
class EventDetail:
    access: Access
    remote_addr: str
    user_agent: str
    purpose: tuple[str, ...]
    reason: str
    detail: str
    entities: tuple[str, ...]
    query: str


def audit_reach(ctx: RequestContext, cfg: PolicyConfig) -> int | None:
    """The relationship level at which the caller may read the audit (None: not at all)."""
    if ctx.is_system:
        return LEVEL_PROVINCE
    return subject_level(ctx, cfg, "AuditEvent", False)


def may_audit(ctx: RequestContext, cfg: PolicyConfig) -> bool:
    return audit_reach(ctx, cfg) is not None


def _event(row: AuditRow) -> dict[str, Any]:
    parsed = orjson.loads(row.content) if row.content else {}
    return parsed if isinstance(parsed, dict) else {}


def _roles(event: dict[str, Any]) -> tuple[str, ...]:
    agents = [a for a in event.get("agent") or [] if a.get("requestor")]
    return tuple(c.get("code", "") for a in agents for r in a.get("role") or [] for c in r.get("coding") or [])


def _what(row: AuditRow, event: dict[str, Any]) -> str:
    subtype = next((c.get("display") or c.get("code") for c in event.get("subtype") or []), row.action)
    return " ".join([str(subtype), *row.entity])


async def _accesses(deps: AdminDeps, ctx: RequestContext, rows: list[AuditRow]) -> list[Access]:
    names = {uid: name for uid, (_u, name) in (await org_units(deps, ctx)).items()} if rows else {}
    out = []
    for row in rows:
        event = _event(row)
        facility = names.get(row.facility_id or "", row.facility_id or "")
        out.append(Access(row, _roles(event), facility, _what(row, event)))
    return out


async def record_accesses(reports: AuditReader, patient_id: str, page: int = 1) -> tuple[list[AuditRow], bool]:
    """Every recorded access to one patient's record, newest first, one page (no access check: the caller's)."""
    rows = await reports.search(AuditFilter(patient_id=patient_id), (page - 1) * PAGE_SIZE, PAGE_SIZE + 1)
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE


async def authorise(deps: AdminDeps, ctx: RequestContext, what: str) -> int:
    level = audit_reach(ctx, deps.cfg)
    if level is None:
        await refuse(deps, ctx, f"{what}: no role reads the audit")
    return level


async def search(deps: AdminDeps, ctx: RequestContext, where: AuditFilter, page: int = 1) -> AuditPage:
    """The auditor's search; a facility-level reach is narrowed to the active facility."""
    level = await authorise(deps, ctx, "audit search")
    if level > LEVEL_PROVINCE:
        where = AuditFilter(**{**_fields(where), "facility_id": ctx.facility_id})
    page = max(1, page)
    rows = await deps.reports.search(where, (page - 1) * PAGE_SIZE, PAGE_SIZE + 1)
    query = "&".join(f"{k}={v.isoformat() if isinstance(v, datetime) else v}"
                     for k, v in _fields(where).items() if v is not None)
    await deps.audit(ctx, AuditInfo("search", type="AuditEvent", query=f"{query}&page={page}".lstrip("&")))
    return AuditPage(await _accesses(deps, ctx, rows[:PAGE_SIZE]), page, len(rows) > PAGE_SIZE)


@dataclass(frozen=True, slots=True)
class GlassAccess:
    """One break-the-glass access for the head of department to review: the access and the reason given."""

    access: Access
    reason: str


async def break_glass_review(deps: AdminDeps, ctx: RequestContext, page: int = 1) -> tuple[list[GlassAccess], bool]:
    """Issue 4: every break-the-glass access by staff of the reviewer's department (or facility, for a
    reviewer without one), newest first, with its reason.  Heads of department by default
    (``review_break_glass`` in the policy); opening the list is audited."""
    if not can_review_break_glass(ctx, deps.cfg):
        await refuse(deps, ctx, "break-the-glass review: not a reviewing role")
    where = AuditFilter(break_glass=True, facility_id=ctx.facility_id, department_id=ctx.department_id)
    page = max(1, page)
    rows = await deps.reports.search(where, (page - 1) * PAGE_SIZE, PAGE_SIZE + 1)
    query = f"break_glass=true&facility={ctx.facility_id or ''}&department={ctx.department_id or ''}&page={page}"
    await deps.audit(ctx, AuditInfo("search", type="AuditEvent", query=query))
    accesses = await _accesses(deps, ctx, rows[:PAGE_SIZE])
    out = []
    for access in accesses:
        purposes = _event(access.row).get("purposeOfEvent") or [{}]
        out.append(GlassAccess(access, str(purposes[0].get("text", ""))))
    return out, len(rows) > PAGE_SIZE


def _fields(where: AuditFilter) -> dict[str, Any]:
    return {k: getattr(where, k) for k in AuditFilter.__dataclass_fields__}


async def event_detail(deps: AdminDeps, ctx: RequestContext, chain: int, seq: int, part: int = 0) -> EventDetail:
    level = await authorise(deps, ctx, "audit event")
    row = await deps.reports.event(chain, seq, part)
    if row is None or (level > LEVEL_PROVINCE and row.facility_id != ctx.facility_id):
        await refuse(deps, ctx, f"no audit event {audit_event_id(chain, seq, part)}", ErrorCode.NOT_FOUND)
    await deps.audit(ctx, AuditInfo("read", type="AuditEvent", id=row.event_id))
    event = _event(row)
    person: dict[str, Any] = next((a for a in event.get("agent") or [] if a.get("requestor")), {})
    purposes = event.get("purposeOfEvent") or [{}]
    ua = next((e.get("valueString", "") for e in person.get("extension") or []), "")
    queries = [base64.b64decode(e["query"]).decode(errors="replace") for e in event.get("entity") or [] if "query" in e]
    return EventDetail(
        access=(await _accesses(deps, ctx, [row]))[0],
        remote_addr=(person.get("network") or {}).get("address", ""), user_agent=ua,
        purpose=tuple(c.get("display") or c.get("code", "") for p in purposes for c in p.get("coding") or []),
        reason=str(purposes[0].get("text", "")), detail=str(event.get("outcomeDesc", "")),
        entities=tuple(e["what"]["reference"] for e in event.get("entity") or [] if "reference" in e.get("what", {})),
        query=queries[0] if queries else "",
    )


async def who_viewed(deps: AdminDeps, ctx: RequestContext, patient_id: str, page: int = 1) -> WhoViewed:
    """"Who viewed this record", for staff who may open the patient: the repository reads the Patient first
    (its policy decides, a hidden patient answers 404, and the read is audited)."""
    patient = PatientSummary.of((await deps.repo.read(ctx, "Patient", patient_id)).json())
    page = max(1, page)
    rows, more = await record_accesses(deps.reports, patient_id, page)
    await deps.audit(ctx, AuditInfo("search", type="AuditEvent", patient_id=patient_id,
                                    query=f"patient={patient_id}&page={page}"))
    return WhoViewed(patient, AuditPage(await _accesses(deps, ctx, rows), page, more))
