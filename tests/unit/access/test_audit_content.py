"""The stored AuditEvent bytes: a search's record joins its returned resources' entities from pre-serialised
parts (issue 8), and must be exactly the canonical JSON (sorted keys) of the BALP event the dict builder
makes, whatever the record holds."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from benhan.access.audit import audit_event, audit_record
from benhan.fhir.storage.access_types import AuditInfo
from benhan.kernel.context import RequestContext

NOW = datetime(2026, 11, 26, 8, 0, 0, 123000, tzinfo=UTC)
CTX = RequestContext(user_id="u", username="bs.an", practitioner_id="pr", roles=frozenset({"doctor", "nurse"}),
                     facility_id="A", department_id="D", remote_addr="10.0.0.5", user_agent="Mozilla",
                     request_id="r1", client_id="app")
REFS = tuple(f"Encounter/{i:04d}-ä\"\\x" for i in range(150))  # quotes, backslashes, non-ASCII: escaped alike

INFOS = [
    AuditInfo("search", type="Encounter", query="patient=p1", returned=REFS[:1]),
    AuditInfo("search", type="Encounter", query="patient=p1", returned=REFS[:20]),
    AuditInfo("search", type="Encounter", query="patient=p1", returned=REFS),  # capped at 100
    AuditInfo("search", type=None, query="", returned=REFS[:3]),
    AuditInfo("operation", type="Patient", id="p1", patient_id="p1", query="$everything", returned=REFS[:5]),
    AuditInfo("history", type="Patient", id="p1", returned=tuple(f"Patient/p1/_history/{v}" for v in (1, 2))),
    AuditInfo("search", "denied", type="Observation", query="code=x", detail="no role", returned=REFS[:2]),
    AuditInfo("read", type="Observation", id="o1", version=2, patient_id="p", break_glass=True),
    AuditInfo("search", type="Observation", query="code=x"),
    # the reads' parts (audit._frame, audit._entity_bytes)
    AuditInfo("read", type="Observation", id="o1", version=2, patient_id="p\"ä"),
    AuditInfo("read", type="Patient", id="p1"),
    AuditInfo("vread", type="Patient", id="p1", version=3, patient_id="p1"),
    AuditInfo("read", "denied", type="Observation", id="o1", patient_id="p"),
    AuditInfo("export", returned=REFS[:2]),
    AuditInfo("login"),
    AuditInfo("login-failed", "failed"),
]


@pytest.mark.parametrize("info", INFOS, ids=lambda i: f"{i.action}-{len(i.returned)}")
def test_stored_bytes_are_the_canonical_json_of_the_event(info: AuditInfo) -> None:
    content = audit_record(CTX, info, NOW).content
    assert content == orjson.dumps(audit_event(CTX, info, NOW), option=orjson.OPT_SORT_KEYS)
    entities = orjson.loads(content).get("entity", [])
    returned = [e["what"]["reference"] for e in entities if e["role"]["code"] == "4" and "what" in e]
    assert returned[-min(len(info.returned), 100):] == list(info.returned[:100]) or not info.returned


# Contexts that differ in one field each from CTX: the event parts serialised once per caller and action
# (``audit._frame``) must never be another caller's.
OTHERS = [
    CTX,
    RequestContext(user_id="u", username="bs.an", practitioner_id="pr", roles=frozenset({"doctor"}),
                   facility_id="A", department_id="D", remote_addr="10.0.0.5", user_agent="Mozilla", client_id="app"),
    RequestContext(user_id="u", username="bs.an", practitioner_id="pr", roles=frozenset({"doctor", "nurse"}),
                   facility_id="B", department_id="D", remote_addr="10.0.0.5", user_agent="Mozilla", client_id="app"),
    RequestContext(user_id="u", username="bs.an", practitioner_id="pr", roles=frozenset({"doctor", "nurse"}),
                   facility_id="A", remote_addr="10.0.0.6", user_agent="Mozilla", client_id="app"),
    RequestContext(user_id="u", username="bs.an", practitioner_id="pr", roles=frozenset({"doctor", "nurse"}),
                   facility_id="A", remote_addr="10.0.0.5", user_agent="curl", client_id=None),
    RequestContext(user_id="u", username="bs.an", roles=frozenset({"doctor", "nurse"}), facility_id="A"),
    RequestContext(client_id="system-app", scopes=frozenset({"system/*.rs"})),
    RequestContext(client_id="system-app", scopes=frozenset({"system/*.rs"}), purpose_of_use="HOPERAT"),
    RequestContext(request_id="r2"),
    RequestContext(),
]


def test_each_callers_parts_are_its_own() -> None:
    for _round in range(2):  # the second round from the cache
        for ctx in OTHERS + OTHERS[::-1]:
            for info in INFOS:
                assert audit_record(ctx, info, NOW).content == orjson.dumps(audit_event(ctx, info, NOW),
                                                                           option=orjson.OPT_SORT_KEYS)
