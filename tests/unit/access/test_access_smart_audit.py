"""SMART launch and audit-log search pieces that need no database: patient/ scopes at the type level,
scopes that a wildcard does not reach, the consent screen's words, and the AuditEvent search parameters."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from benhan.access.config import default_config
from benhan.access.policy import decide
from benhan.access.scopes import grant_for, narrow, parse_scopes
from benhan.fhir.router.audit_events import parse_audit_query
from benhan.fhir.router.types import FhirRequest
from benhan.fhir.storage.access_types import Target
from benhan.kernel.context import RequestContext
from benhan.kernel.errors import BenhanError
from benhan.web.scope_text import describe

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
CFG = default_config()


def _app(scopes: str, patient: str | None) -> RequestContext:
    return RequestContext(user_id="u1", username="u", roles=frozenset({"doctor"}), facility_id="f",
                          department_id="d", client_id="app", scopes=frozenset(scopes.split()),
                          extra={"patient": patient} if patient else {})


def test_patient_scope_passes_the_type_check_and_confines_each_row() -> None:
    app = _app("patient/*.rs", "p1")
    assert decide(app, CFG, "search", Target(type="Observation"), NOW).allowed  # the type-level question
    assert decide(app, CFG, "read", Target(type="Observation", id="o", patient_id="p2"), NOW).status == 404
    assert decide(app, CFG, "create", Target(type="Observation"), NOW).status == 403  # .rs: no create
    no_patient = _app("patient/*.rs", None)
    assert decide(no_patient, CFG, "search", Target(type="Observation"), NOW).status == 403


def test_wildcards_do_not_reach_the_audit_log() -> None:
    assert not grant_for(parse_scopes("system/*.rs"), "AuditEvent", "search").allowed
    assert grant_for(parse_scopes("system/*.rs"), "Observation", "search").allowed
    assert grant_for(parse_scopes("system/AuditEvent.rs"), "AuditEvent", "read").allowed
    assert narrow("system/AuditEvent.rs system/Patient.rs", "system/*.rs") == "system/Patient.rs"


def test_scopes_in_plain_words() -> None:
    assert describe("patient/Observation.rs", "vi") == "Xem, tìm kiếm Observation của bệnh nhân đã chọn"
    assert describe("user/*.cruds", "en") == "Create, read, update, delete, search all data that you may access"
    assert describe("launch/patient", "en") == "Work with one patient you choose"
    assert describe("something/odd", "vi") == "something/odd"


def _req(*query: tuple[str, str], strict: bool = False) -> FhirRequest:
    headers = {"prefer": "handling=strict"} if strict else {}
    return FhirRequest("GET", ("AuditEvent",), list(query), headers, b"", "http://x/fhir", RequestContext())


def test_audit_query_parameters() -> None:
    q = parse_audit_query(_req(("patient", "Patient/p1"), ("action", "R"), ("subtype", "read,vread"),
                               ("outcome", "0,4"), ("agent", "Practitioner/pr1"), ("date", "ge2026-11-01"),
                               ("date", "lt2026-12"), ("_count", "10"), ("foo", "bar")))
    assert q.patient_id == "p1"
    assert q.practitioner_id == "pr1"
    assert set(q.actions) == {"read", "vread"}  # action R ∩ subtype read|vread
    assert q.outcomes == ("success", "denied")
    assert [op for op, _when in q.recorded] == [">=", "<"]
    assert q.count == 10
    assert "foo" not in q.text  # ignored (lenient), and not echoed in the self link
    logins = parse_audit_query(_req(("type", "110114"), ("subtype", "http://dicom.nema.org/resources/ontology/DCM|110122")))
    assert set(logins.actions) == {"login", "login-failed"}
    assert parse_audit_query(_req(("action", "X"))).actions == ("?",)  # matches nothing


@pytest.mark.parametrize("query", [("patient", "Observation/x"), ("date", "yesterday"), ("entity", "x")])
def test_audit_query_refuses_bad_values(query: tuple[str, str]) -> None:
    with pytest.raises(BenhanError):
        parse_audit_query(_req(query))


def test_audit_query_strict_refuses_unknown() -> None:
    with pytest.raises(BenhanError):
        parse_audit_query(_req(("site", "x"), strict=True))


def test_audit_search_keeps_to_what_the_policy_lets_one_see() -> None:
    from dataclasses import replace

    from benhan.access import AccessControl
    from benhan.fhir.storage.access_types import LEVEL_FACILITY
    from benhan.fhir.storage.pg.audit_events import _scope
    from benhan.fhir.storage.pg.guard import Guard

    auditor = RequestContext(user_id="a", username="a", roles=frozenset({"auditor"}), facility_id="f")
    assert _scope(Guard(AccessControl(CFG), None), auditor) == {}  # default: the whole province
    rules = CFG.roles["auditor"]
    local = replace(CFG, roles={**CFG.roles, "auditor": replace(rules, read={**rules.read, "audit": LEVEL_FACILITY})})
    assert _scope(Guard(AccessControl(local), None), auditor) == {"facility_id": "f"}
    patient_app = RequestContext(user_id="a", username="a", roles=frozenset({"auditor"}), facility_id="f",
                                 client_id="app", scopes=frozenset({"patient/AuditEvent.rs"}), extra={"patient": "p1"})
    assert _scope(Guard(AccessControl(CFG), None), patient_app) == {"patient_id": "p1"}
