"""_summary and _elements shaping (FHIR R4 search.html#summary, search.html#elements)."""

from __future__ import annotations

import copy

import pytest

from benhan.fhir.model import apply_elements, apply_summary, validate_resource

SUBSETTED = ("http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "SUBSETTED")


def _patient() -> dict[str, object]:
    return {
        "resourceType": "Patient",
        "id": "p1",
        "meta": {"versionId": "3", "tag": [{"system": "http://example.org/tags", "code": "vip"}]},
        "text": {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">An</div>'},
        "identifier": [{"system": "http://example.org/ids", "value": "1"}],
        "name": [{"family": "Nguyễn"}],
        "gender": "male",
        "_gender": {"extension": [{"url": "http://example.org/e", "valueString": "x"}]},
        "maritalStatus": {"text": "married"},
        "photo": [{"contentType": "image/png", "data": "QUJD"}],
        "contact": [{"name": {"family": "Trần"}}],
        "link": [{"other": {"reference": "Patient/p2"}, "type": "seealso", "id": "l1"}],
    }


def _tags(res: dict[str, object]) -> list[tuple[object, object]]:
    meta = res["meta"]
    assert isinstance(meta, dict)
    return [(t.get("system"), t.get("code")) for t in meta["tag"]]


def test_summary_true_keeps_summary_and_mandatory_elements() -> None:
    original = _patient()
    out = apply_summary(original, "true")
    assert set(out) == {"resourceType", "id", "meta", "identifier", "name", "gender", "_gender", "link"}
    assert SUBSETTED in _tags(out)
    assert ("http://example.org/tags", "vip") in _tags(out)
    assert original == _patient(), "input must not be mutated"
    assert validate_resource(out) == []


def test_summary_true_recurses_into_backbone_elements() -> None:
    obs = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "BP"},
        "component": [{"code": {"text": "sys"}, "valueQuantity": {"value": 120}, "interpretation": [{"text": "N"}]}],
        "note": [{"text": "not summary"}],
    }
    out = apply_summary(obs, "true")
    assert "note" not in out
    assert out["component"] == [{"code": {"text": "sys"}, "valueQuantity": {"value": 120}}]


def test_summary_keeps_mandatory_non_summary_elements() -> None:
    # Questionnaire.item is not summary, so it goes; status (1..1, summary) stays.
    q = {"resourceType": "Questionnaire", "status": "draft", "item": [{"linkId": "1", "type": "display"}]}
    assert set(apply_summary(q, "true")) == {"resourceType", "status", "meta"}
    # DocumentReference.content is 1..* and summary; Bundle.type 1..1.
    assert "type" in apply_summary({"resourceType": "Bundle", "type": "collection"}, "text")


def test_summary_text() -> None:
    out = apply_summary(_patient(), "text")
    assert set(out) == {"resourceType", "id", "meta", "text"}
    obs = {"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "valueString": "v"}
    assert set(apply_summary(obs, "text")) == {"resourceType", "status", "code", "meta"}


def test_summary_data_and_false() -> None:
    out = apply_summary(_patient(), "data")
    assert "text" not in out
    assert "contact" in out
    assert SUBSETTED in _tags(out)
    assert apply_summary(_patient(), "false") == _patient()


def test_summary_rejects_unknown_mode_and_type() -> None:
    with pytest.raises(ValueError, match="count"):
        apply_summary(_patient(), "count")
    with pytest.raises(ValueError, match="resource type"):
        apply_summary({"resourceType": "Nope"}, "true")


def test_subsetted_tag_not_duplicated() -> None:
    once = apply_summary(_patient(), "true")
    twice = apply_summary(once, "true")
    assert _tags(twice).count(SUBSETTED) == 1


def test_elements_keeps_listed_plus_id_meta_mandatory() -> None:
    out = apply_elements(_patient(), ["gender", "Patient.photo", " ", "nonsense"])
    assert set(out) == {"resourceType", "id", "meta", "gender", "_gender", "photo"}
    assert SUBSETTED in _tags(out)
    obs = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "x"},
        "valueString": "v",
        "subject": {"reference": "Patient/1"},
    }
    out = apply_elements(obs, ["value"])
    assert set(out) == {"resourceType", "status", "code", "valueString", "meta"}
    assert validate_resource(out) == []


def test_elements_adds_meta_when_absent() -> None:
    res = copy.deepcopy(_patient())
    del res["meta"]
    out = apply_elements(res, ["name"])
    assert out["meta"] == {
        "tag": [{"system": SUBSETTED[0], "code": "SUBSETTED", "display": "Resource encoded in summary mode"}]
    }
