"""The stored form of resources (storage/content.py): zstd with a shipped dictionary, plain JSON still read."""

from __future__ import annotations

import orjson
import pytest
import zstandard

from benhan.fhir.storage import content
from benhan.fhir.storage.content import pack, unpack

OBSERVATION = orjson.dumps({
    "resourceType": "Observation", "id": "8d1f6c1e-6a43-4a53-9d51-0f1d1e5b6f10",
    "meta": {"versionId": "3", "lastUpdated": "2026-11-26T01:00:00.000Z"}, "status": "final",
    "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                              "code": "vital-signs", "display": "Vital Signs"}]}],
    "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}]},
    "subject": {"reference": "Patient/0b8c7f0e-3d59-4e0c-a1c3-54b2f0b0b6a1"},
    "effectiveDateTime": "2026-11-25T22:25:00+07:00",
    "valueQuantity": {"value": 105, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"},
    "note": [{"text": "Bệnh nhân sốt cao, đã báo bác sĩ trực"}],
})


def test_round_trip_is_exact_and_smaller() -> None:
    stored = pack(OBSERVATION, "Observation")
    assert stored[:4] == b"\x28\xb5\x2f\xfd"  # a zstd frame (RFC 8878 §3.1.1)
    assert zstandard.get_frame_parameters(stored).dict_id == content.RESOURCES
    assert len(stored) < len(OBSERVATION) / 2
    assert unpack(stored) == OBSERVATION
    assert unpack(memoryview(stored)) == OBSERVATION


def test_plain_json_rows_and_deleted_markers_read_as_written() -> None:
    # rows written before compression, and the empty content of a deleted version
    assert unpack(OBSERVATION) == OBSERVATION
    assert pack(b"", "Observation") == b""
    assert unpack(b"") == b""


def test_types_searched_in_sql_stay_plain_json() -> None:
    # search_sql's N-part composites read MolecularSequence's JSON with jsonb_path_exists
    seq = orjson.dumps({"resourceType": "MolecularSequence", "id": "s1", "type": "dna", "coordinateSystem": 0})
    assert pack(seq, "MolecularSequence") == seq


def test_unknown_bytes_and_unknown_dictionaries_are_refused() -> None:
    with pytest.raises(ValueError, match="neither JSON nor a zstd frame"):
        unpack(b"\x00garbage")
    foreign = zstandard.ZstdCompressor(
        dict_data=zstandard.train_dictionary(1024, [OBSERVATION] * 200, dict_id=999_999)
    ).compress(OBSERVATION)
    with pytest.raises(ValueError, match="dictionary 999999"):
        unpack(foreign)


def test_audit_events_have_their_own_dictionary() -> None:
    event = orjson.dumps({
        "resourceType": "AuditEvent", "action": "R", "outcome": "0", "recorded": "2026-11-26T01:00:00.000Z",
        "type": {"code": "rest", "system": "http://terminology.hl7.org/CodeSystem/audit-event-type"},
        "subtype": [{"code": "read", "display": "read", "system": "http://hl7.org/fhir/restful-interaction"}],
        "agent": [{"requestor": True, "who": {"reference": "Practitioner/bs-1", "display": "bs.lan"},
                   "type": {"coding": [{"code": "IRCP",
                                        "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"}]}}],
        "source": {"observer": {"display": "benhan"}},
    })
    stored = pack(event, "AuditEvent")
    assert zstandard.get_frame_parameters(stored).dict_id == content.AUDIT
    assert len(stored) < len(event) / 3
    assert unpack(stored) == event
    # at level 1, resources at 3 (content._LEVELS): the same bytes as a compressor set so
    for type_, body, dict_id, level in (("AuditEvent", event, content.AUDIT, 1),
                                        ("Observation", OBSERVATION, content.RESOURCES, 3)):
        raw = zstandard.ZstdCompressionDict(content._dictionary(dict_id).as_bytes(),
                                            dict_type=zstandard.DICT_TYPE_FULLDICT)
        expected = zstandard.ZstdCompressor(level=level, dict_data=raw, write_checksum=False,
                                            write_content_size=True, write_dict_id=True).compress(body)
        assert pack(body, type_) == expected
