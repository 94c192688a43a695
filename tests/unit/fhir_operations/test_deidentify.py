"""De-identification of exported resources for DoH officers (pure; ISO 25237 pseudonymisation)."""

from __future__ import annotations

import copy

import orjson

from benhan.fhir.operations.deidentify import PSEUDED, deidentify, pseudonym

KEY = b"k" * 32
PATIENT = {
    "resourceType": "Patient", "id": "pat-1",
    "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">Nguyễn Văn An</div>"},
    "identifier": [{"system": "https://benhan.vn/fhir/sid/cccd", "value": "001080012345"},
                   {"system": "https://benhan.vn/fhir/sid/bhyt", "value": "DN4010123456789"}],
    "name": [{"text": "Nguyễn Văn An", "family": "Nguyễn", "given": ["Văn", "An"]}],
    "telecom": [{"system": "phone", "value": "0912345678"}],
    "gender": "male", "birthDate": "1980-01-02",
    "address": [{"use": "home", "text": "12 Lý Thường Kiệt", "line": ["12 Lý Thường Kiệt"], "city": "Phường 1",
                 "district": "Quận Hà Đông", "state": "Hà Nội", "postalCode": "100000", "country": "VN"}],
    "photo": [{"contentType": "image/jpeg", "data": "AAAA"}],
    "contact": [{"name": {"text": "Trần Thị Bình"}, "telecom": [{"system": "phone", "value": "0987"}]}],
    "link": [{"other": {"reference": "Patient/pat-2"}, "type": "seealso"}],
}
OBSERVATION = {
    "resourceType": "Observation", "id": "obs-1", "status": "final",
    "meta": {"security": [{"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "N"}]},
    "identifier": [{"system": "https://benhan.vn/fhir/sid/ma-bn", "value": "BN-0042"}],
    "code": {"coding": [{"system": "http://loinc.org", "code": "8310-5"}], "text": "Nhiệt độ"},
    "subject": {"reference": "Patient/pat-1", "display": "Nguyễn Văn An"},
    "performer": [{"reference": "Practitioner/pr-1"}],
    "note": [{"text": "Bệnh nhân Nguyễn Văn An sốt cao"}],
    "valueQuantity": {"value": 39.5, "unit": "Cel"},
}


def test_patient_loses_everything_that_names_or_locates_the_person() -> None:
    original = copy.deepcopy(PATIENT)
    out = deidentify(PATIENT, KEY)
    assert original == PATIENT  # a copy: the input is not changed
    assert out["id"] == pseudonym("pat-1", KEY) != "pat-1"
    for removed in ("name", "identifier", "telecom", "photo", "contact", "text"):
        assert removed not in out, removed
    assert out["birthDate"] == "1980"
    assert out["address"] == [{"use": "home", "district": "Quận Hà Đông", "state": "Hà Nội", "country": "VN"}]
    assert out["link"][0]["other"]["reference"] == f"Patient/{pseudonym('pat-2', KEY)}"
    assert out["meta"]["security"] == [PSEUDED]
    text = orjson.dumps(out).decode()
    for secret in ("Nguyễn", "001080012345", "DN4010123456789", "0912345678", "Lý Thường Kiệt", "100000", "Bình"):
        assert secret not in text, secret


def test_clinical_resource_keeps_the_clinical_content_and_links_to_the_pseudonym() -> None:
    out = deidentify(OBSERVATION, KEY)
    assert out["subject"] == {"reference": f"Patient/{pseudonym('pat-1', KEY)}"}
    assert out["id"] == "obs-1"
    assert out["performer"] == [{"reference": "Practitioner/pr-1"}]
    assert out["code"]["text"] == "Nhiệt độ"
    assert out["valueQuantity"]["value"] == 39.5
    assert "note" not in out
    assert "identifier" not in out
    assert [s["code"] for s in out["meta"]["security"]] == ["N", "PSEUDED"]
    assert deidentify(out, KEY)["meta"]["security"] == out["meta"]["security"]  # labelled once


def test_pseudonyms_are_stable_keyed_and_valid_ids() -> None:
    assert pseudonym("pat-1", KEY) == pseudonym("pat-1", KEY)
    assert pseudonym("pat-1", KEY) != pseudonym("pat-2", KEY)
    assert pseudonym("pat-1", KEY) != pseudonym("pat-1", b"another key of 32 bytes, really!")
    assert len(pseudonym("pat-1", KEY)) == 32
    assert pseudonym("pat-1", KEY).isalnum()
    absolute = {"resourceType": "Encounter", "subject": {"reference": "http://h/fhir/Patient/pat-1/_history/2"}}
    assert deidentify(absolute, KEY)["subject"]["reference"] == f"Patient/{pseudonym('pat-1', KEY)}"


def test_contained_people_and_attachments() -> None:
    doc = {
        "resourceType": "DocumentReference", "subject": {"reference": "Patient/pat-1"},
        "contained": [{"resourceType": "RelatedPerson", "id": "rp", "name": [{"text": "Trần Thị Bình"}],
                       "patient": {"reference": "Patient/pat-1"}, "birthDate": "1955-03-04"}],
        "content": [{"attachment": {"contentType": "application/pdf", "data": "JVBERi0=", "title": "Giấy ra viện"}}],
    }
    out = deidentify(doc, KEY)
    assert "name" not in out["contained"][0]
    assert out["contained"][0]["birthDate"] == "1955"
    assert out["contained"][0]["patient"]["reference"] == f"Patient/{pseudonym('pat-1', KEY)}"
    assert out["content"] == [{"attachment": {"contentType": "application/pdf"}}]
