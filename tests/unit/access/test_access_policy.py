"""The pure access decision (docs/security.md): role × action × relationship, consent, break-the-glass."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from benhan.access.config import default_config, load_config
from benhan.access.policy import decide, relation_level, visibility
from benhan.fhir.storage.access_types import LEVEL_DEPARTMENT, LEVEL_FACILITY, CareRelation, Target
from benhan.kernel import clock
from benhan.kernel.context import RequestContext

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
CFG = default_config()
FAC, DEP, OTHER_FAC, OTHER_DEP = "fac-a", "dep-a1", "fac-b", "dep-a2"


def user(*roles: str, facility: str = FAC, department: str | None = DEP, **kw: object) -> RequestContext:
    return RequestContext(user_id="u1", username="u", practitioner_id="pr-1", roles=frozenset(roles),
                          facility_id=facility, department_id=department, **kw)  # type: ignore[arg-type]


def target(type_: str = "Observation", where: str = "same-dept", **kw: object) -> Target:
    rel = {
        "same-dept": (CareRelation("p1", FAC, DEP),),
        "same-fac": (CareRelation("p1", FAC, OTHER_DEP),),
        "other-fac": (CareRelation("p1", OTHER_FAC, "dep-b1"),),
        "assigned": (CareRelation("p1", OTHER_FAC, None, "pr-1"),),
        "none": (),
    }[where]
    return Target(type=type_, id="x", patient_id="p1", relations=rel, **kw)  # type: ignore[arg-type]


# (role, action, type, relationship) → expected outcome: "ok", 403 or 404
MATRIX = [
    ("doctor", "read", "Observation", "same-dept", "ok"),
    ("doctor", "read", "Observation", "same-fac", "ok"),
    ("doctor", "read", "Observation", "other-fac", 404),
    ("doctor", "read", "Observation", "assigned", "ok"),
    ("doctor", "update", "Observation", "same-dept", "ok"),
    ("doctor", "update", "Observation", "same-fac", 403),
    ("doctor", "update", "Observation", "other-fac", 404),
    ("doctor", "update", "Observation", "assigned", "ok"),
    ("doctor", "create", "Observation", "other-fac", 403),
    ("doctor", "read", "Claim", "same-dept", 403),
    ("doctor", "read", "AuditEvent", "same-dept", 403),
    ("nurse", "update", "Observation", "same-dept", "ok"),
    ("nurse", "update", "Patient", "same-dept", 403),
    ("receptionist", "read", "Patient", "other-fac", "ok"),
    ("receptionist", "read", "Coverage", "none", "ok"),
    ("receptionist", "read", "Encounter", "same-fac", "ok"),
    ("receptionist", "read", "Encounter", "other-fac", 404),
    ("receptionist", "read", "Observation", "same-dept", 403),
    ("receptionist", "read", "Condition", "same-dept", 403),
    ("receptionist", "create", "Patient", "none", "ok"),
    ("insurance_clerk", "read", "Claim", "same-fac", "ok"),
    ("insurance_clerk", "read", "Condition", "same-fac", "ok"),
    ("insurance_clerk", "read", "Condition", "other-fac", 404),
    ("insurance_clerk", "read", "AllergyIntolerance", "same-fac", 403),
    ("insurance_clerk", "create", "Claim", "same-fac", "ok"),
    ("lab_technician", "create", "Observation", "same-fac", "ok"),
    ("lab_technician", "read", "Condition", "same-fac", 403),
    ("doh_officer", "read", "Patient", "same-fac", 403),
    ("doh_officer", "read", "MeasureReport", "none", "ok"),
    ("auditor", "read", "AuditEvent", "none", "ok"),
    ("auditor", "read", "Patient", "same-fac", 403),
    ("facility_admin", "create", "Organization", "none", "ok"),
    ("facility_admin", "read", "Observation", "same-fac", 403),
    ("head_of_department", "update", "Condition", "same-dept", "ok"),
]


@pytest.mark.parametrize(("role", "action", "type_", "where", "expected"), MATRIX)
def test_matrix(role: str, action: str, type_: str, where: str, expected: object) -> None:
    t = target(type_, where)
    if type_ in ("Organization", "MeasureReport", "AuditEvent") and where == "none":
        t = Target(type=type_, id="x")
    d = decide(user(role), CFG, action, t, NOW)
    assert (d.allowed and expected == "ok") or (not d.allowed and d.status == expected), d


def test_consent_opt_out_hides_other_facilities_records_but_not_the_patient() -> None:
    doc = user("doctor")
    made_elsewhere = target("Observation", "same-dept", consent_blocks=(FAC,), origin_facility=OTHER_FAC)
    assert decide(doc, CFG, "read", made_elsewhere, NOW).status == 404
    made_here = target("Observation", "same-dept", consent_blocks=(FAC,), origin_facility=FAC)
    assert decide(doc, CFG, "read", made_here, NOW).allowed
    everyone = target("Observation", "same-dept", consent_blocks=(None,), origin_facility=OTHER_FAC)
    assert not decide(doc, CFG, "read", everyone, NOW).allowed
    other_block = target("Observation", "same-dept", consent_blocks=(OTHER_FAC,), origin_facility=OTHER_FAC)
    assert decide(doc, CFG, "read", other_block, NOW).allowed
    assert decide(doc, CFG, "read", target("Patient", "same-dept", consent_blocks=(None,)), NOW).allowed


def test_break_the_glass_is_time_limited_flagged_and_for_clinicians_only() -> None:
    until = (NOW + timedelta(minutes=30)).isoformat()
    glass = {"break_glass_reason": "Bệnh nhân cấp cứu bất tỉnh", "extra": {"btg_until": until}}
    d = decide(user("doctor", **glass), CFG, "read", target("Observation", "other-fac"), NOW)
    assert d.allowed
    assert d.break_glass
    # consent is overridden too (an emergency), but never a role's type limits
    d = decide(user("doctor", **glass), CFG, "read",
               target("Observation", "other-fac", consent_blocks=(None,)), NOW)
    assert d.allowed
    assert d.break_glass
    assert decide(user("doctor", **glass), CFG, "read", target("Claim", "other-fac"), NOW).status == 403
    expired = decide(user("doctor", **glass), CFG, "read", target("Observation", "other-fac"), NOW + timedelta(hours=1))
    assert not expired.allowed
    assert not decide(user("receptionist", **glass), CFG, "read", target("Encounter", "other-fac"), NOW).allowed
    one = {"break_glass_reason": "cấp cứu", "extra": {"btg_until": until, "btg_patient": "p2"}}
    assert not decide(user("doctor", **one), CFG, "read", target("Observation", "other-fac"), NOW).allowed


def test_system_anonymous_and_scopes() -> None:
    assert decide(RequestContext.system(), CFG, "delete", target(where="none"), NOW).allowed
    assert decide(RequestContext(), CFG, "read", target(), NOW).status == 403
    token = user("doctor", client_id="app", scopes=frozenset({"user/Observation.rs"}))
    assert decide(token, CFG, "read", target(), NOW).allowed
    assert decide(token, CFG, "update", target(), NOW).status == 403
    assert decide(token, CFG, "read", target("Condition"), NOW).status == 403
    patient_app = user("doctor", client_id="app", scopes=frozenset({"patient/*.rs"}), extra={"patient": "p1"})
    assert decide(patient_app, CFG, "read", target(), NOW).allowed
    other = Target(type="Observation", id="y", patient_id="p9", relations=(CareRelation("p9", FAC, DEP),))
    assert decide(patient_app, CFG, "read", other, NOW).status == 404
    lab = RequestContext(client_id="lis", username="lis", scopes=frozenset({"system/Observation.cruds"}),
                         facility_id=FAC)
    assert decide(lab, CFG, "create", target("Observation", "same-fac"), NOW).allowed
    assert decide(lab, CFG, "read", target("Observation", "other-fac"), NOW).status == 404
    hub = RequestContext(client_id="hub", username="hub", scopes=frozenset({"system/*.rs"}))
    assert decide(hub, CFG, "read", target("Observation", "other-fac"), NOW).allowed
    assert decide(hub, CFG, "create", target("Observation", "other-fac"), NOW).status == 403


def test_relation_levels() -> None:
    ctx = user("doctor")
    assert relation_level(ctx, (CareRelation("p", FAC, DEP),)) == LEVEL_DEPARTMENT
    assert relation_level(ctx, (CareRelation("p", FAC, None),)) == LEVEL_FACILITY


def test_visibility_groups_types_and_refuses_the_rest() -> None:
    vis, refused = visibility(user("receptionist"), CFG, "search", ("Patient", "Encounter", "Observation"), NOW)
    assert refused == ("Observation",)
    levels = {t: r.min_level for r in vis.rules for t in r.types}
    assert levels == {"Patient": 0, "Encounter": 1}
    all_vis, _ = visibility(RequestContext.system(), CFG, "search", ("Patient",), NOW)
    assert all_vis.unrestricted


def test_deidentified_level_reaches_exports_only() -> None:
    """DoH officers: patient data only through a de-identified export, never a read or search."""
    officer = user("doh_officer", facility="province", department=None)
    assert CFG.roles["doh_officer"].deidentified == {"demographics", "visit", "clinical"}
    for action in ("read", "search", "update"):
        assert not decide(officer, CFG, action, target("Observation", "other-fac"), NOW).allowed, action
    assert decide(officer, CFG, "export", target("Observation", "other-fac"), NOW).allowed
    vis, refused = visibility(officer, CFG, "export", ("Patient", "Observation", "MeasureReport", "Claim"), NOW)
    assert refused == ("Claim",)
    assert vis.deidentified == {"Patient", "Observation"}  # MeasureReport: an identified (aggregate) read
    search_vis, search_refused = visibility(officer, CFG, "search", ("Patient", "Observation"), NOW)
    assert search_refused == ("Patient", "Observation")
    assert not search_vis.deidentified
    doctor_vis, _ = visibility(user("doctor"), CFG, "export", ("Observation",), NOW)
    assert not doctor_vis.deidentified


def test_province_override(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "policy.json"
    path.write_text('{"roles": {"doh_officer": {"read": {"clinical": "province"}}}}', encoding="utf-8")
    cfg = load_config(path)
    assert decide(user("doh_officer"), cfg, "read", target("Observation", "other-fac"), NOW).allowed
    assert "doctor" not in cfg.roles  # a top-level key replaces the default entirely: say everything


def test_cached_visibility_rules_are_per_kind_of_caller() -> None:
    """AccessControl keeps the per-type rules by policy.rules_key; what differs between callers of one kind
    (facility, department, break-the-glass) is still read from each request."""
    from benhan.access import AccessControl

    access = AccessControl(CFG)
    types = ("Patient", "Encounter", "Observation")
    cases = [user("receptionist"), user("doctor"), user("receptionist"), user("doctor", facility="fac-other"),
             user("doctor", client_id="app", scopes=frozenset({"user/Observation.rs"})),
             user("doctor", client_id="app", scopes=frozenset({"patient/*.rs"}), extra={"patient": "p1"}),
             user("doctor", client_id="app", scopes=frozenset({"patient/*.rs"}), extra={"patient": "p2"}),
             user("doctor", break_glass_reason="cấp cứu", extra={"btg_until": (NOW + timedelta(hours=1)).isoformat()})]
    for _round in range(2):  # the second round is answered from the cache
        for ctx in cases:
            assert access.visibility(ctx, "search", types) == visibility(ctx, CFG, "search", types, clock.now())
            assert access.visibility(ctx, "export", types) == visibility(ctx, CFG, "export", types, clock.now())
    assert len(access._rules) < 2 * len(cases)  # receptionists (and doctors of any facility) share their rules
