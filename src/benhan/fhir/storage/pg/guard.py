"""The repository's policy point: fetch the facts, ask the policy, refuse or audit (issue 4).

``PgRepository`` calls a :class:`Guard` in every method.  Without an access policy (unit tests of the
store, bulk loaders) the guard only fetches rows; with one, every interaction is decided and audited:
writes in their own transaction, reads/searches/denials durably through :class:`AuditLog`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import asyncpg

from benhan.fhir.storage.access_types import AuditInfo, AuditRecord, Decision, Derived, Target
from benhan.fhir.storage.content import unpack
from benhan.fhir.storage.pg import access_sql, rows
from benhan.fhir.storage.pg.audit import AuditLog, append
from benhan.fhir.storage.protocol import AccessPolicy, JsonObj
from benhan.kernel.context import RequestContext
from benhan.kernel.db import Conn
from benhan.kernel.errors import BenhanError, ErrorCode

#: types whose writes maintain access facts (care links, Consent opt-outs, the organisation tree)
FACT_TYPES = frozenset({"Encounter", "EpisodeOfCare", "ServiceRequest", "CareTeam", "Consent", "Organization"})
#: non-patient types that belong to one facility (benhan.access.care.owners): writes are scoped to it
OWNED_TYPES = frozenset({"Organization", "Location", "PractitionerRole", "HealthcareService", "Endpoint"})
WRITE_ACTIONS = frozenset({"create", "update", "patch", "delete"})


def _patient_of(resource: JsonObj) -> str | None:
    from benhan.fhir.search.compartment import patient_compartment

    return patient_compartment(resource)


class Guard:
    def __init__(self, access: AccessPolicy | None, audit: AuditLog | None) -> None:
        self.access = access
        self.audit_log = audit
        #: audit records of a unit of work, appended just before it commits
        self.pending: list[Any] | None = None

    # -- decisions ----------------------------------------------------------------------------------
    async def refuse(self, ctx: RequestContext, info: AuditInfo, decision: Decision) -> BenhanError:
        """Audit a denial durably (outside the failing transaction) and build the error to raise."""
        await self.record(ctx, AuditInfo(info.action, "denied", info.type, info.id, info.version, info.patient_id,
                                         info.query, decision.reason))
        if decision.status == 404 and info.action == "vread":
            return BenhanError(ErrorCode.VERSION_NOT_FOUND, f"{info.type}/{info.id} has no version {info.version}")
        if decision.status == 404:
            # The same answer as for a resource that does not exist (FHIR R4 security.html#AccessDenied).
            return BenhanError(ErrorCode.NOT_FOUND, f"{info.type}/{info.id} is not known")
        return BenhanError(ErrorCode.FORBIDDEN, f"Access denied: {decision.reason}")

    async def fetch(
        self, conn: Conn, ctx: RequestContext, action: str, type_: str, id_: str, *, lock: bool = False
    ) -> asyncpg.Record | None:
        """The current row if this context may ``action`` it; None if absent; raises when refused."""
        if self.access is None or ctx.is_system:
            return await (rows.lock_current(conn, type_, id_) if lock else rows.fetch_current(conn, type_, id_))
        await self.check_type(ctx, action, type_)
        row = await access_sql.fetch_current_with_facts(conn, type_, id_, lock)
        if row is None:
            if action in ("read", "vread", "history"):  # guessed ids leave a trace
                await self.record(ctx, AuditInfo(action, "failed", type_, id_, detail="not found"))
            return None
        target = access_sql.target_from(row, type_, id_, row["patient_id"])
        if action in WRITE_ACTIONS and row["patient_id"] is None and type_ in OWNED_TYPES and row["content"]:
            # Whose is it now (a write may not take another facility's bed or department over)?
            owner = await access_sql.owner_facility(conn, self.access.derive(stored_json(row["content"])).owners)
            target = replace(target, owner_facility=owner)
        decision = self.access.decide(ctx, action, target)
        if not decision.allowed:
            raise await self.refuse(ctx, AuditInfo(action, type=type_, id=id_, patient_id=row["patient_id"]), decision)
        return row

    async def check_type(self, ctx: RequestContext, action: str, type_: str) -> None:
        """Refuse (403) before touching storage when no role or scope allows ``action`` on the type at all."""
        if self.access is None or ctx.is_system or action in ("create", "update", "patch", "delete"):
            return
        # A type-level decision (no patient): what roles and scopes allow, whatever the resource.
        decision = self.access.decide(ctx, action if action in ("search", "export") else "read", Target(type=type_))
        if not decision.allowed:
            raise await self.refuse(ctx, AuditInfo(action, type=type_), decision)

    async def check_version(self, conn: Conn, ctx: RequestContext, type_: str, id_: str, row: asyncpg.Record) -> bool:
        """vread: decide on the patient of that version; returns the break-the-glass flag."""
        if self.access is None or ctx.is_system:
            return False
        patient = _patient_of(stored_json(row["content"])) if row["content"] else None
        facts = await access_sql.fetch_patient_facts(conn, patient, None) if patient else None
        decision = self.access.decide(ctx, "vread", access_sql.target_from(facts, type_, id_, patient))
        if not decision.allowed:
            info = AuditInfo("vread", type=type_, id=id_, version=row["version"], patient_id=patient)
            raise await self.refuse(ctx, info, decision)
        return decision.break_glass

    async def check_new(
        self, conn: Conn, ctx: RequestContext, action: str, resource: JsonObj, rid: int | None = None
    ) -> None:
        """Decide on the content about to be written (its patient, with the care links it creates)."""
        if self.access is None or ctx.is_system:
            return
        type_ = str(resource.get("resourceType"))
        patient = _patient_of(resource)
        act = "create" if rid is None else action
        # What is written now is recorded at the writer's facility, so a Consent opt-out (which hides what
        # other facilities recorded) does not apply; relationships only ever add permission.  So when the
        # decision without any facts already allows, the facts need not be fetched.
        bare = Target(type=type_, id=resource.get("id"), patient_id=patient, origin_facility=ctx.facility_id)
        if patient is None and type_ in OWNED_TYPES:
            owners = self.access.derive(resource).owners
            bare = replace(bare, owner_facility=await access_sql.owner_facility(conn, owners))
        if self.access.decide(ctx, act, bare).allowed:
            return
        facts = await access_sql.fetch_patient_facts(conn, patient, rid) if patient else None
        target = access_sql.target_from(facts, type_, resource.get("id"), patient)
        target = replace(target, origin_facility=ctx.facility_id, consent_blocks=(), owner_facility=bare.owner_facility)
        derived = self.access.derive(resource)
        if derived.care:
            units = await access_sql.org_units(conn, [c.organization_id for c in derived.care if c.organization_id])
            target = access_sql.with_new_relations(target, derived, units)
        decision = self.access.decide(ctx, act, target)
        if not decision.allowed:
            info = AuditInfo(action, type=type_, id=str(resource.get("id") or "") or None, patient_id=patient)
            raise await self.refuse(ctx, info, decision)

    async def filter(self, conn: Conn, ctx: RequestContext, action: str, types: tuple[str, ...] | None,
                     first_arg: int = 1, *, only: bool = False) -> tuple[str | None, list[Any]]:
        """The SQL predicate limiting a search/history to what ``ctx`` may see (None: no limit).  It covers
        every type, not only ``types``: ``_include``, ``_revinclude`` and chains reach other types, and the same
        rules must hold there.  ``only``: a statement that reads nothing but ``types`` gets the rules of
        those types alone (rows of other types fail it).  Explicitly named types the context may not search
        are refused by :meth:`check_type` first."""
        return self.predicate(ctx, action, types, first_arg, only=only, consent=await self.consent(conn, ctx))

    async def consent(self, conn: Conn, ctx: RequestContext) -> bool:
        """Whether Consent opt-outs can hide anything from ``ctx`` now (one small query; see access_sql)."""
        if self.access is None or ctx.is_system:
            return False
        return await access_sql.consent_applies(conn, ctx.facility_id)

    def predicate(self, ctx: RequestContext, action: str, types: tuple[str, ...] | None, first_arg: int = 1, *,
                  only: bool = False, consent: bool = True) -> tuple[str | None, list[Any]]:
        """:meth:`filter` with the answer of :meth:`consent` already known (several predicates, one query)."""
        if self.access is None or ctx.is_system:
            return None, []
        vis, _refused = self.access.visibility(ctx, action, types if only else None)
        return access_sql.visibility_sql(vis, first_arg, consent)

    async def visible(self, conn: Conn, ctx: RequestContext, type_: str, rids: list[int]) -> set[int]:
        if self.access is None or ctx.is_system or not rids:
            return set(rids)
        vis, _refused = self.access.visibility(ctx, "search", (type_,))
        return await access_sql.visible_rids(conn, rids, vis)

    # -- facts and audit ----------------------------------------------------------------------------
    async def written(
        self, conn: Conn, ctx: RequestContext | None, action: str, rid: int, type_: str, id_: str, version: int,
        stored: JsonObj | None,
    ) -> None:
        """After a write, in its transaction: maintain access facts and append the audit record."""
        if self.access is None:
            return
        derived = self.access.derive(stored) if stored is not None else Derived()
        origin = ctx.facility_id if ctx is not None and action == "create" else None
        record = self._write_record(ctx, action, type_, id_, version, stored) if ctx is not None else None
        if record is not None and self.pending is not None:
            self.pending.append(record)
            record = None  # appended with the unit of work's other records
        if type_ in FACT_TYPES or origin:  # the facts and the record in one statement
            await access_sql.maintain(conn, rid, derived, origin, deleted=stored is None,
                                      audit=[record] if record is not None else None)
        elif record is not None:
            await append(conn, [record])

    def inline_create(self, ctx: RequestContext, type_: str, id_: str, stored: JsonObj
                      ) -> tuple[str | None, list[AuditRecord], Derived | None]:
        """What :meth:`written` would do for a create, as data for the INSERT statement itself: the origin
        facility, the audit record and, for the types that make them, the other access facts (None for the
        rest).  Only outside a unit of work (``pending`` is None)."""
        assert self.pending is None
        if self.access is None:
            return None, [], None
        facts = self.access.derive(stored) if type_ in FACT_TYPES else None
        return ctx.facility_id, [self._write_record(ctx, "create", type_, id_, 1, stored)], facts

    def inline_audit(self, ctx: RequestContext | None, action: str, type_: str, id_: str, version: int,
                     stored: JsonObj | None) -> tuple[list[AuditRecord], Derived | None] | None:
        """An update's or delete's audit records, and the access facts it makes (for :data:`FACT_TYPES`; a
        deletion's are none), to write in its own statement; None when :meth:`written` must run instead (a
        unit of work collecting records, no policy)."""
        if self.access is None or ctx is None or self.pending is not None:
            return None
        facts = None
        if type_ in FACT_TYPES:
            facts = self.access.derive(stored) if stored is not None else Derived()
        return [self._write_record(ctx, action, type_, id_, version, stored)], facts

    def _write_record(self, ctx: RequestContext, action: str, type_: str, id_: str, version: int,
                      stored: JsonObj | None) -> AuditRecord:
        assert self.access is not None
        patient = _patient_of(stored) if stored is not None else None
        return self.access.audit(ctx, AuditInfo(action, type=type_, id=id_, version=version, patient_id=patient))

    async def record(self, ctx: RequestContext, info: AuditInfo) -> None:
        """Audit a read, search or denial durably (group commit)."""
        if self.access is None or self.audit_log is None:
            return
        await self.audit_log.record([self.access.audit(ctx, info)])

    async def flush_pending(self, conn: Conn) -> None:
        if self.pending:
            await append(conn, self.pending)
            self.pending = []


def stored_json(content: bytes) -> JsonObj:
    """The resource held in a stored ``content`` value (storage/content.py)."""
    import orjson

    data: JsonObj = orjson.loads(unpack(content))
    return data
