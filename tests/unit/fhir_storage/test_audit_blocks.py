"""A block of the read audit (migration 0018) stores its events' parts, compressed once, and gives each event's
JSON back exactly, in order; an event id names a row (``chain-seq``) or a block's event (``chain-seq-n``)."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from benhan.access.audit import audit_record
from benhan.fhir.storage.access_types import AuditInfo, AuditRecord, audit_event_id
from benhan.fhir.storage.content import pack, unpack
from benhan.fhir.storage.pg.audit import block_content, block_events
from benhan.kernel.context import RequestContext

NOW = datetime(2026, 11, 27, 8, 0, 0, 123000, tzinfo=UTC)
CTX = RequestContext(user_id="u", username="bs.an\nx", practitioner_id="pr", roles=frozenset({"doctor"}),
                     facility_id="A", remote_addr="10.0.0.5", user_agent="Mozilla\r\n(evil)", request_id="r1")


def test_a_block_gives_back_each_event_exactly() -> None:
    records = [audit_record(CTX, AuditInfo("read", type="Observation", id=f"o{i}", patient_id=f"p{i}"), NOW)
               for i in range(12)]
    records.append(audit_record(CTX, AuditInfo("search", type="Encounter", query="name=a\nb"), NOW))
    records.append(audit_record(CTX, AuditInfo("read", type="Patient", id="p\"ä\n", patient_id="p\"ä\n"), NOW))
    records.append(audit_record(CTX, AuditInfo("read", "failed", "Patient", "p9", detail="not found"), NOW))
    stored = block_content(records)
    assert stored[:4] == b"\x28\xb5\x2f\xfd"  # one zstd frame for the block
    assert len(stored) < sum(len(r.content) for r in records) // 10
    assert block_events(stored) == [r.content for r in records]  # newlines in what users send are escaped
    assert block_events(memoryview(stored)) == [r.content for r in records]


def test_a_callers_texts_are_stored_once_per_block() -> None:
    records = [audit_record(CTX, AuditInfo("read", type="Observation", id=f"o{i}", patient_id="p1"), NOW)
               for i in range(50)]
    lines = unpack(block_content(records)).split(b"\n")
    events, templates, texts = orjson.loads(lines[0]), orjson.loads(lines[1]), lines[2:]
    assert len(templates) == 1
    assert len(texts) == len(set(texts)) == len(templates[0]) == 5
    assert events == [[0, "Patient/p1", f"Observation/o{i}", "r1", "2026-11-27T08:00:00.123Z"] for i in range(50)]


def test_an_event_with_a_raw_newline_is_refused() -> None:
    """Whole JSON (bytes) is a text of the block: a raw newline in it (never made by ``access/audit.py``)
    would shift every later one."""
    good = audit_record(CTX, AuditInfo("read", type="Patient", id="p1", patient_id="p1"), NOW)
    bad = AuditRecord(b'{"a":1}\n{"b":2}', NOW, "read", "success")
    with pytest.raises(ValueError, match="raw newline"):
        block_content([good, bad])
    whole = AuditRecord(b'{"a":1}', NOW, "read", "success")
    assert block_events(block_content([good, whole, good])) == [good.content, b'{"a":1}', good.content]


def test_blocks_of_the_first_form_are_read() -> None:
    """Migration 0018's blocks hold the events' JSON one per line."""
    events = [audit_record(CTX, AuditInfo("read", type="Patient", id=f"p{i}"), NOW).content for i in range(3)]
    assert block_events(pack(b"\n".join(events), "AuditEvent")) == events


def test_event_ids() -> None:
    assert audit_event_id(3, 17) == "3-17"
    assert audit_event_id(64, 5, 2) == "64-5-2"


def test_a_blocks_per_event_columns_are_one_json_object_of_arrays() -> None:
    """Migration 0019: what ``audit_event`` unnests, one element per event and in their order, and the
    block-level columns as array literals."""
    from benhan.fhir.storage.pg.audit import _block_args

    records = [audit_record(CTX, AuditInfo("read", type="Observation", id="o1", patient_id="p2"), NOW),
               audit_record(CTX, AuditInfo("search", type="Encounter", query="x"), NOW.replace(microsecond=0)),
               audit_record(CTX, AuditInfo("read", type="Patient", id="p1", patient_id="p1", break_glass=True), NOW)]
    first, last, patients, users, glass, events, content = _block_args(records, b"c")
    assert (first, last, patients, users, glass, content) == (
        NOW.replace(microsecond=0), NOW, '{"p1","p2"}', '{"bs.an\nx"}', True, b"c")
    columns = orjson.loads(events)
    assert columns == {
        "recorded": ["2026-11-27T08:00:00.123000+00:00", "2026-11-27T08:00:00+00:00",
                     "2026-11-27T08:00:00.123000+00:00"],
        "action": ["read", "search", "read"], "outcome": ["success"] * 3, "user_name": ["bs.an\nx"] * 3,
        "user_id": ["u"] * 3, "client_id": [None] * 3, "facility_id": ["A"] * 3, "department_id": [None] * 3,
        "patient_id": ["p2", None, "p1"], "break_glass": [False, False, True],
        "entity": ["Observation/o1", "", "Patient/p1"]}


def test_a_template_and_values_that_do_not_match_are_refused() -> None:
    from benhan.fhir.storage.access_types import event_json

    assert event_json(((b'{"a":', b',"b":', b"}"), ("x", "y\""))) == b'{"a":"x","b":"y\\""}'
    with pytest.raises(ValueError, match="do not match"):
        event_json(((b'{"a":', b"}"), ("x", "y")))
