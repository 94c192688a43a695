"""Who administers what (docs/security.md "Administration").

A ``facility_admin`` grant at a facility manages the users, roles, departments, wards, beds and OAuth2
clients of that facility only; the same grant at the province (Sở Y tế) Organization makes a provincial
administrator, who manages every facility and registers new ones. The repository's policy already limits
the *types* an administrator may write (directory); this module limits *which* facility's records, which
the per-type policy cannot see. Every refusal is audited (outcome "denied"), like the repository's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import NoReturn

from benhan.access import org
from benhan.access.config import PolicyConfig
from benhan.access.roles import Role
from benhan.fhir.storage.access_types import AuditInfo, OrgUnit
from benhan.fhir.storage.admin_types import AuditReader, UserDirectory
from benhan.fhir.storage.protocol import Repository
from benhan.kernel.context import RequestContext
from benhan.kernel.errors import BenhanError, ErrorCode

#: writes one audit record (``benhan.web.session.Authenticator.audit`` in the app, the CLI's own otherwise)
AuditSink = Callable[[RequestContext, AuditInfo], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class AdminDeps:
    """What the administration use-cases work with; built by the app (``app.state.admin``) and the CLI."""

    repo: Repository
    users: UserDirectory
    reports: AuditReader
    audit: AuditSink
    cfg: PolicyConfig


@dataclass(frozen=True, slots=True)
class AdminScope:
    """``facility_id`` None: the whole province."""

    facility_id: str | None
    #: the province Organization of a provincial administrator (None for the CLI's system context)
    province_id: str | None = None

    @property
    def province(self) -> bool:
        return self.facility_id is None

    def covers(self, facility_id: str | None) -> bool:
        return self.province or (facility_id is not None and facility_id == self.facility_id)


async def refuse(deps: AdminDeps, ctx: RequestContext, what: str, status: ErrorCode = ErrorCode.FORBIDDEN) -> NoReturn:
    """Audit the refusal, then raise it (403, or 404 when the record must not be revealed)."""
    await deps.audit(ctx, AuditInfo("admin", outcome="denied", detail=what))
    raise BenhanError(status, what)


def is_admin(ctx: RequestContext) -> bool:
    return ctx.is_system or Role.FACILITY_ADMIN in ctx.roles


async def admin_scope(deps: AdminDeps, ctx: RequestContext) -> AdminScope:
    """The caller's administrative reach; refuses (403, audited) callers without a facility_admin role."""
    if ctx.is_system:
        return AdminScope(None)
    if not is_admin(ctx) or ctx.facility_id is None:
        await refuse(deps, ctx, "administration needs the facility_admin role")
    where = (await deps.repo.read(ctx, "Organization", ctx.facility_id)).json()
    if org.org_kind(where) == "province":
        return AdminScope(None, ctx.facility_id)
    return AdminScope(ctx.facility_id)


async def org_units(deps: AdminDeps, ctx: RequestContext) -> dict[str, tuple[OrgUnit, str]]:
    """Every Organization of the tree with its name, in one search."""
    found = await deps.repo.search_json(ctx, "Organization", [])
    out: dict[str, tuple[OrgUnit, str]] = {}
    for res in found:
        unit = org.org_unit(res)
        if unit is not None:
            out[unit.id] = (unit, str(res.get("name", "")))
    return out


def facility_of(unit_id: str, units: dict[str, tuple[OrgUnit, str]]) -> str | None:
    return org.facility_of(unit_id, {k: u for k, (u, _n) in units.items()})
