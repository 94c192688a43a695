"""The access decision (pure): may this context perform this interaction on this target? (docs/security.md)

Three questions, in this order:

1. **scopes** (OAuth2 tokens only): does a SMART scope permit the interaction on the type?
2. **role**: does a role active at the chosen facility reach the type's category, and with which minimum
   relationship to the patient (province, facility, department, assigned)?
3. **relationship and consent** (resources in a patient compartment): does the user's relationship to the
   patient reach that level, and does no Consent opt-out hide this resource from the user's facility?

Break-the-glass lifts 3 for clinicians who gave a reason, for a limited time, and flags the access.
Denials that depend on the resource answer 404 (existence is not revealed, FHIR R4 security.html#AccessDenied);
denials decided from the request alone (role, scope, type) answer 403.
"""

from __future__ import annotations

from datetime import datetime

from benhan.access.config import PolicyConfig
from benhan.access.scopes import grant_of
from benhan.fhir.storage.access_types import (
    LEVEL_ASSIGNED,
    LEVEL_DEPARTMENT,
    LEVEL_FACILITY,
    LEVEL_PROVINCE,
    CareRelation,
    Decision,
    Target,
    Visibility,
    VisibilityRule,
)
from benhan.kernel.context import RequestContext

WRITES = frozenset({"create", "update", "patch", "delete"})
ALLOW = Decision(True, "allowed")
#: ``RequestContext.extra`` keys carrying break-the-glass and SMART launch state
BTG_UNTIL, BTG_PATIENT, LAUNCH_PATIENT = "btg_until", "btg_patient", "patient"


def is_token(ctx: RequestContext) -> bool:
    """OAuth2 token contexts are limited by their scopes; web sessions by roles only."""
    return ctx.client_id is not None


def subject_level(ctx: RequestContext, cfg: PolicyConfig, type_: str, write: bool, export: bool = False) -> int | None:
    """The weakest relationship to a patient with which this subject may touch ``type_``; None: never.
    ``export``: a bulk export, which a ``deidentified`` read level also reaches (province-wide)."""
    if ctx.user_id is None and ctx.client_id is not None:
        return cfg.client_with_facility if ctx.facility_id else cfg.client_without_facility
    levels = [lv for lv in (cfg.level_for(r, type_, write) for r in ctx.roles) if lv is not None]
    if levels:
        return min(levels)
    deidentified = export and not write and any(cfg.deidentified_for(r, type_) for r in ctx.roles)
    return LEVEL_PROVINCE if deidentified else None


def deidentified_only(ctx: RequestContext, cfg: PolicyConfig, type_: str) -> bool:
    """Whether this subject reaches ``type_`` only through a ``deidentified`` level: an export must then
    pseudonymise what it writes (docs/security.md)."""
    return subject_level(ctx, cfg, type_, False) is None and subject_level(ctx, cfg, type_, False, True) is not None


def relation_level(ctx: RequestContext, relations: tuple[CareRelation, ...]) -> int:
    best = LEVEL_PROVINCE
    for rel in relations:
        if ctx.practitioner_id and rel.practitioner_id == ctx.practitioner_id:
            return LEVEL_ASSIGNED
        if ctx.facility_id and rel.facility_id == ctx.facility_id:
            same_dept = ctx.department_id is not None and rel.department_id == ctx.department_id
            best = max(best, LEVEL_DEPARTMENT if same_dept else LEVEL_FACILITY)
    return best


def glass_patients(ctx: RequestContext, cfg: PolicyConfig, now: datetime) -> tuple[str, ...]:
    """Patients opened by break-the-glass (``("*",)`` = any), while it lasts and for roles allowed it."""
    until = ctx.extra.get(BTG_UNTIL)
    if not ctx.break_glass_reason or not until or datetime.fromisoformat(until) <= now:
        return ()
    if not any(cfg.roles[r].break_glass for r in ctx.roles if r in cfg.roles):
        return ()
    return (ctx.extra.get(BTG_PATIENT) or "*",)


def consent_hides(ctx: RequestContext, target: Target) -> bool:
    """A Consent opt-out hides resources made elsewhere from the user's facility (the Patient itself stays
    visible, so staff can still register and treat; what is hidden is the record from other facilities)."""
    if target.type == "Patient" or not target.consent_blocks:
        return False
    applies = any(f is None or f == ctx.facility_id for f in target.consent_blocks)
    return applies and (target.origin_facility is None or target.origin_facility != ctx.facility_id)


def _scope_check(ctx: RequestContext, action: str, target: Target) -> Decision | None:
    if not is_token(ctx):
        return None
    grant = grant_of(ctx.scopes, target.type, action)
    if not grant.allowed:
        return Decision(False, f"no scope grants {action} on {target.type}", 403)
    if grant.patient_only and not ctx.extra.get(LAUNCH_PATIENT):
        return Decision(False, "a patient/ scope needs a launch patient", 403)
    if grant.patient_only and target.id is None and target.patient_id is None and action != "create":
        return None  # the type-level question (Guard.check_type): each row is then confined to the patient
    if grant.patient_only and target.patient_id != ctx.extra.get(LAUNCH_PATIENT):
        return Decision(False, "outside the launch patient's compartment", 403 if action == "create" else 404)
    return None


def decide(ctx: RequestContext, cfg: PolicyConfig, action: str, target: Target, now: datetime) -> Decision:
    """The decision for one interaction on one resource (or, for create, the resource to be written)."""
    if ctx.is_system:
        return ALLOW
    if ctx.user_id is None and ctx.client_id is None:
        return Decision(False, "not authenticated", 403)
    denied = _scope_check(ctx, action, target)
    if denied is not None:
        return denied
    write = action in WRITES
    needed = subject_level(ctx, cfg, target.type, write, export=action == "export")
    if needed is None:
        return Decision(False, f"no active role may {action} {target.type}", 403)
    if target.patient_id is None and write and needed >= LEVEL_FACILITY and target.owner_facility is not None \
            and target.owner_facility != ctx.facility_id:
        # A directory or ward resource (Location, Organization, PractitionerRole…) of another facility: roles
        # whose write reach is their facility (or department) do not change it.
        return Decision(False, f"{target.type} belongs to another facility", 403)
    if target.patient_id is None or (action == "create" and target.type == "Patient"):
        return ALLOW  # outside any patient compartment (or a new patient): the role decides
    if relation_level(ctx, target.relations) >= needed and not consent_hides(ctx, target):
        return ALLOW
    glass = glass_patients(ctx, cfg, now)
    if glass and (glass[0] == "*" or target.patient_id in glass):
        return Decision(True, f"break-the-glass: {ctx.break_glass_reason}", break_glass=True)
    if action == "create":
        return Decision(False, "the patient is not under your care", 403)
    if write and decide(ctx, cfg, "read", target, now).allowed:
        return Decision(False, "you may see but not change this patient's record", 403)
    return Decision(False, "not visible to you", 404)


Rules = tuple[tuple[VisibilityRule, ...], tuple[str, ...], frozenset[str]]


def visibility(
    ctx: RequestContext, cfg: PolicyConfig, action: str, types: tuple[str, ...], now: datetime,
    rules: Rules | None = None,
) -> tuple[Visibility, tuple[str, ...]]:
    """What ``action`` (search, history, export) may see among ``types``; also the types refused outright.
    ``rules``: :func:`visibility_rules` for the same arguments, when the caller has them already."""
    if ctx.is_system:
        return Visibility(unrestricted=True), ()
    found, refused, deidentified = visibility_rules(ctx, cfg, action, types) if rules is None else rules
    vis = Visibility(
        rules=found, facility_id=ctx.facility_id, department_id=ctx.department_id,
        practitioner_id=ctx.practitioner_id, glass_patients=glass_patients(ctx, cfg, now), deidentified=deidentified,
    )
    return vis, refused


def rules_key(ctx: RequestContext, action: str, types: tuple[str, ...]) -> tuple[object, ...]:
    """Everything :func:`visibility_rules` reads from its arguments (besides the configuration)."""
    return (ctx.user_id is None, ctx.client_id is None, bool(ctx.facility_id), ctx.roles, ctx.scopes,
            ctx.extra.get(LAUNCH_PATIENT), action, types)


def visibility_rules(ctx: RequestContext, cfg: PolicyConfig, action: str, types: tuple[str, ...]) -> Rules:
    """The per-type part of :func:`visibility` (roles and scopes over every type: the costly part, the same for
    every request of one kind of caller — see :func:`rules_key`): rules, refused types, de-identified types."""
    patient = ctx.extra.get(LAUNCH_PATIENT)
    groups: dict[tuple[int, str | None], set[str]] = {}
    refused: list[str] = []
    authenticated = ctx.user_id is not None or ctx.client_id is not None
    export = action == "export"
    for type_ in types:
        level = subject_level(ctx, cfg, type_, False, export) if authenticated else None
        grant = grant_of(ctx.scopes, type_, action) if is_token(ctx) else None
        if level is None or (grant is not None and not grant.allowed):
            refused.append(type_)
            continue
        only = patient if grant is not None and grant.patient_only else None
        if grant is not None and grant.patient_only and not patient:
            refused.append(type_)
            continue
        groups.setdefault((level, only), set()).add(type_)
    rules = tuple(VisibilityRule(frozenset(ts), lv, only) for (lv, only), ts in sorted(
        groups.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")))
    deidentified = frozenset(t for r in rules for t in r.types if export and deidentified_only(ctx, cfg, t))
    return rules, tuple(refused), deidentified


def can_review_break_glass(ctx: RequestContext, cfg: PolicyConfig) -> bool:
    return ctx.is_system or any(cfg.roles[r].review_break_glass for r in ctx.roles if r in cfg.roles)


def requires_totp(roles: set[str] | frozenset[str], cfg: PolicyConfig) -> bool:
    return bool(set(roles) & cfg.totp_required_roles)


__all__ = [
    "ALLOW",
    "BTG_PATIENT",
    "BTG_UNTIL",
    "LAUNCH_PATIENT",
    "LEVEL_ASSIGNED",
    "LEVEL_DEPARTMENT",
    "LEVEL_FACILITY",
    "LEVEL_PROVINCE",
    "WRITES",
    "can_review_break_glass",
    "consent_hides",
    "decide",
    "deidentified_only",
    "glass_patients",
    "relation_level",
    "requires_totp",
    "rules_key",
    "subject_level",
    "visibility",
    "visibility_rules",
]
