"""SMART scopes, identity rules (lockout, TOTP, passwords), care links and the BALP AuditEvent shape."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pyotp

from benhan.access import care, identity, org
from benhan.access.audit import audit_record
from benhan.access.config import default_config
from benhan.access.roles import Grant, active_roles
from benhan.access.scopes import ACTION_LETTER, grant_for, grant_of, narrow, parse_scope, parse_scopes
from benhan.fhir.storage.access_types import AuditInfo, CareRef
from benhan.kernel.context import RequestContext

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def test_scope_parsing_v2_and_v1() -> None:
    assert str(parse_scope("patient/Observation.rs")) == "patient/Observation.rs"
    assert parse_scope("user/*.read") is not None
    assert parse_scope("user/*.read").perms == "rs"
    assert parse_scope("system/*.write").perms == "cud"  # type: ignore[union-attr]
    assert parse_scope("user/*.sr") is None  # v2 letters are ordered c r u d s
    assert parse_scope("patient/Observation.rs?category=laboratory") is None  # narrowed scopes: not granted
    assert parse_scope("launch/patient") is None
    scopes = parse_scopes("patient/Observation.rs user/Patient.r openid")
    assert grant_for(scopes, "Observation", "search").patient_only
    assert grant_for(scopes, "Patient", "read").allowed
    assert not grant_for(scopes, "Patient", "search").allowed
    assert not grant_for(scopes, "Observation", "create").allowed


def test_the_cached_grant_of_a_scope_set_is_grant_for_its_parsed_scopes() -> None:
    sets = ["patient/Observation.rs user/Patient.r openid", "system/*.rs", "user/*.cruds", "patient/*.read",
            "user/Encounter.cud launch/patient", "openid fhirUser", ""]
    for text in sets:
        scopes = frozenset(text.split())
        for type_ in ("Observation", "Patient", "Encounter", "AuditEvent"):
            for action in ACTION_LETTER:
                assert grant_of(scopes, type_, action) == grant_for(parse_scopes(text), type_, action), (text, type_)
    assert grant_of(frozenset({"user/Patient.r"}), "Patient", "read") is grant_of(frozenset({"user/Patient.r"}),
                                                                                   "Patient", "read")


def test_narrow_keeps_only_what_the_client_may_have() -> None:
    assert narrow("system/Observation.rs system/Patient.cruds openid", "system/*.rs") == "system/Observation.rs"
    assert narrow("patient/Observation.r launch/patient", "user/*.rs launch/patient") == \
        "patient/Observation.r launch/patient"


def test_lockout_backs_off_exponentially_and_is_capped() -> None:
    cfg = default_config()
    assert identity.lockout_until(4, NOW, cfg) is None
    first = identity.lockout_until(5, NOW, cfg)
    second = identity.lockout_until(6, NOW, cfg)
    assert first == NOW + timedelta(seconds=30)
    assert second == NOW + timedelta(seconds=60)
    assert identity.lockout_until(60, NOW, cfg) == NOW + timedelta(seconds=3600)


def test_totp_accepts_current_and_drift_refuses_replay() -> None:
    secret = identity.new_totp_secret()
    code = pyotp.TOTP(secret).at(NOW)
    step = identity.totp_check(secret, code, None, NOW)
    assert step is not None
    assert identity.totp_check(secret, code, step, NOW) is None  # the same code twice: replay
    assert identity.totp_check(secret, "000000" if code != "000000" else "111111", None, NOW) is None
    late = identity.totp_check(secret, code, None, NOW + timedelta(seconds=30))
    assert late is not None


def test_passwords_are_argon2id() -> None:
    h = identity.hash_password("mot-mat-khau-dai")
    assert h.startswith("$argon2id$")
    assert identity.verify_password(h, "mot-mat-khau-dai")
    assert not identity.verify_password(h, "sai")


def test_active_roles_and_facility_choice() -> None:
    grants = [Grant("doctor", "A", "A1"), Grant("head_of_department", "A", "A1"), Grant("doctor", "B", None)]
    assert active_roles(grants, "A", "A1") == {"doctor", "head_of_department"}
    assert active_roles(grants, "A", "A2") == frozenset()
    assert active_roles(grants, "B", "B7") == {"doctor"}
    assert identity.choose_facility(grants, "B", None) == ("B", None)
    assert identity.choose_facility(grants, "C", None) is None
    assert identity.choose_facility(grants, None, None) == ("A", "A1")


def test_care_links_and_consent_blocks() -> None:
    enc = {"resourceType": "Encounter", "subject": {"reference": "Patient/p"},
           "serviceProvider": {"reference": "Organization/d1"},
           "participant": [{"individual": {"reference": "Practitioner/pr"}}]}
    assert care.care_links(enc) == (CareRef("p", "d1", None), CareRef("p", None, "pr"))
    consent = {"resourceType": "Consent", "status": "active", "patient": {"reference": "Patient/p"},
               "provision": {"type": "deny", "actor": [{"reference": {"reference": "Organization/f2"}}]}}
    assert care.consent_blocks(consent) == (("p", "f2"),)
    assert care.consent_blocks({**consent, "provision": {"type": "deny"}}) == (("p", None),)
    assert care.consent_blocks({**consent, "status": "inactive"}) == ()
    dept = {**org.organization("department", "Khoa Nội", parent_id="f1"), "id": "d1"}
    assert care.derive(dept).org is not None
    assert care.derive(dept).org.parent_id == "f1"


def test_audit_event_balp_shape() -> None:
    ctx = RequestContext(user_id="u", username="bs.an", practitioner_id="pr", roles=frozenset({"doctor"}),
                         facility_id="A", remote_addr="10.0.0.5", user_agent="Mozilla", request_id="r1",
                         break_glass_reason="cấp cứu")
    rec = audit_record(ctx, AuditInfo("read", type="Observation", id="o1", version=2, patient_id="p",
                                      break_glass=True), NOW)
    event = orjson.loads(rec.content)
    assert event["resourceType"] == "AuditEvent"
    assert event["action"] == "R"
    assert event["outcome"] == "0"
    assert event["subtype"][0]["code"] == "read"
    who = event["agent"][0]
    assert who["who"]["reference"] == "Practitioner/pr"
    assert who["network"]["address"] == "10.0.0.5"
    assert {"reference": "Organization/A"} in [a["who"] for a in event["agent"]]
    assert [e["what"]["reference"] for e in event["entity"]] == ["Patient/p", "Observation/o1/_history/2"]
    assert any(c["code"] == "BTG" for c in event["purposeOfEvent"][0]["coding"])
    assert rec.patient_id == "p"
    assert rec.break_glass
    assert rec.content == orjson.dumps(event, option=orjson.OPT_SORT_KEYS)
