"""validate_resource: valid resources pass; each kind of error gives its IssueType code and FHIRPath."""

from __future__ import annotations

import copy

import pytest

from benhan.fhir.model import ValidationIssue, validate_resource

DIV = '<div xmlns="http://www.w3.org/1999/xhtml"><p>Nguyễn Văn An</p></div>'


def _patient() -> dict[str, object]:
    return {
        "resourceType": "Patient",
        "id": "pat-1",
        "meta": {"versionId": "1", "lastUpdated": "2024-05-01T10:00:00.123+07:00"},
        "text": {"status": "generated", "div": DIV},
        "identifier": [{"system": "urn:oid:2.16.840.1.113883.2.25.1", "value": "079203000123"}],
        "active": True,
        "name": [{"use": "official", "family": "Nguyễn", "given": ["Văn", "An"]}],
        "telecom": [{"system": "phone", "value": "+84 90 1234567", "use": "mobile"}],
        "gender": "male",
        "birthDate": "1980-02-29",
        "_birthDate": {"extension": [{"url": "http://example.org/birthTime", "valueTime": "10:30:00"}]},
        "address": [{"line": ["12 Lê Lợi"], "city": "Huế", "country": "VN"}],
        "multipleBirthInteger": 2,
        "contact": [{"relationship": [{"text": "vợ"}], "gender": "female"}],
        "contained": [{"resourceType": "Organization", "id": "org1", "name": "Bệnh viện Trung ương Huế"}],
        "managingOrganization": {"reference": "#org1"},
    }


def _observation() -> dict[str, object]:
    return {
        "resourceType": "Observation",
        "id": "obs-1",
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "vital-signs",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}]},
        "subject": {"reference": "Patient/pat-1"},
        "effectiveDateTime": "2024-05-01T08:15:00+07:00",
        "valueQuantity": {
            "value": 72.5,
            "unit": "/min",
            "system": "http://unitsofmeasure.org",
            "code": "/min",
        },
    }


def _codes(issues: list[ValidationIssue]) -> list[tuple[str, str]]:
    return [(i.code, i.expression) for i in issues]


def test_valid_patient_and_observation_pass() -> None:
    assert validate_resource(_patient()) == []
    assert validate_resource(_observation()) == []


def test_issue_is_frozen_and_shaped_like_operation_outcome() -> None:
    issue = validate_resource({"resourceType": "Patient", "foo": 1})[0]
    assert (issue.severity, issue.code, issue.expression) == ("error", "structure", "Patient.foo")
    assert "foo" in issue.message
    with pytest.raises(AttributeError):
        issue.code = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        ({"resourceType": "Patientt"}, ("invalid", "resourceType")),
        ({"id": "x"}, ("required", "")),
        ({"resourceType": "Resource"}, ("invalid", "resourceType")),
        ({"resourceType": 3}, ("invalid", "resourceType")),
    ],
)
def test_resource_type_must_be_known(resource: dict[str, object], expected: tuple[str, str]) -> None:
    assert _codes(validate_resource(resource)) == [expected]


def test_non_object_resource_is_rejected() -> None:
    assert _codes(validate_resource([1, 2])) == [("structure", "")]  # type: ignore[arg-type]


def _mutated(path: list[object], value: object, base: dict[str, object] | None = None) -> dict[str, object]:
    res = copy.deepcopy(base if base is not None else _patient())
    target: object = res
    for step in path[:-1]:
        target = target[step]  # type: ignore[index]
    target[path[-1]] = value  # type: ignore[index]
    return res


@pytest.mark.parametrize(
    ("path", "value", "code", "expression"),
    [
        (["favouriteColour"], "blue", "structure", "Patient.favouriteColour"),
        (["name", 0, "nickname"], "An", "structure", "Patient.name[0].nickname"),
        (["_nickname"], {"id": "a"}, "structure", "Patient._nickname"),
        (["active"], "true", "structure", "Patient.active"),
        (["multipleBirthInteger"], 2.5, "structure", "Patient.multipleBirth.ofType(integer)"),
        (["name"], {"family": "Trần"}, "structure", "Patient.name"),
        (["gender"], ["male"], "structure", "Patient.gender"),
        (["name", 0, "family"], ["Trần"], "structure", "Patient.name[0].family"),
        (["name", 0, "given", 1], 7, "structure", "Patient.name[0].given[1]"),
        (["birthDate"], "1980-13-01", "value", "Patient.birthDate"),
        (["birthDate"], "1981-02-29", "value", "Patient.birthDate"),
        (["birthDate"], "01/02/1980", "value", "Patient.birthDate"),
        (["id"], "bad id!", "value", "Patient.id"),
        (["id"], "x" * 65, "value", "Patient.id"),
        (["meta", "lastUpdated"], "2024-05-01T10:00:00", "value", "Patient.meta.lastUpdated"),
        (["gender"], "nam", "code-invalid", "Patient.gender"),
        (["contact", 0, "gender"], "F", "code-invalid", "Patient.contact[0].gender"),
        (["name", 0, "use"], "alias", "code-invalid", "Patient.name[0].use"),
        (["telecom", 0, "system"], "pager ", "value", "Patient.telecom[0].system"),
        (["address", 0, "city"], "", "value", "Patient.address[0].city"),
        (["address", 0], {}, "structure", "Patient.address[0]"),
        (["identifier"], [], "structure", "Patient.identifier"),
        (["identifier", 0, "system"], "has space", "value", "Patient.identifier[0].system"),
        (["multipleBirthBoolean"], True, "structure", "Patient.multipleBirth"),
        (["active"], None, "structure", "Patient.active"),
        (["text", "div"], "<p>not a div</p>", "value", "Patient.text.div"),
        (["contained", 0, "name"], 5, "structure", "Patient.contained[0].name"),
        (["contained", 0, "resourceType"], "Nope", "invalid", "Patient.contained[0].resourceType"),
        (["contained", 0, "active"], "yes", "structure", "Patient.contained[0].active"),
        (
            ["_birthDate", "extension", 0, "valueTime"],
            "25:00:00",
            "value",
            "Patient.birthDate.extension[0].value.ofType(time)",
        ),
        (["_birthDate", "extension", 0, "url"], None, "structure", "Patient.birthDate.extension[0].url"),
    ],
)
def test_each_error_kind_has_code_and_expression(path: list[object], value: object, code: str, expression: str) -> None:
    issues = validate_resource(_mutated(path, value))
    assert (code, expression) in _codes(issues), issues
    assert all(i.severity == "error" and i.message for i in issues)


def test_missing_required_elements() -> None:
    obs = _observation()
    del obs["status"], obs["code"]
    assert _codes(validate_resource(obs)) == [
        ("required", "Observation.status"),
        ("required", "Observation.code"),
    ]


def test_required_satisfied_by_primitive_extension_only() -> None:
    obs = _observation()
    del obs["status"]
    obs["_status"] = {
        "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "unknown"}]
    }
    assert validate_resource(obs) == []


def test_required_nested_backbone_element() -> None:
    res = _mutated(["link"], [{"type": "seealso"}])
    assert _codes(validate_resource(res)) == [("required", "Patient.link[0].other")]


def test_only_one_choice_variant() -> None:
    obs = _observation()
    obs["valueString"] = "72"
    assert ("structure", "Observation.value") in _codes(validate_resource(obs))


def test_primitive_array_extensions_align() -> None:
    ok = _mutated(["name", 0, "_given"], [None, {"extension": [{"url": "http://x.org/e", "valueString": "y"}]}])
    assert validate_resource(ok) == []
    short = _mutated(["name", 0, "_given"], [{"id": "g1"}])
    assert ("structure", "Patient.name[0].given") in _codes(validate_resource(short))
    padded = _mutated(["name", 0, "given"], [None, "An"])
    assert ("structure", "Patient.name[0].given[0]") in _codes(validate_resource(padded))
    padded["name"][0]["_given"] = [{"id": "g0"}, None]  # type: ignore[index]
    assert validate_resource(padded) == []


def test_required_binding_on_codeable_concept() -> None:
    cond = {
        "resourceType": "Condition",
        "clinicalStatus": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]
        },
        "subject": {"reference": "Patient/pat-1"},
    }
    assert validate_resource(cond) == []
    cond["clinicalStatus"] = {"coding": [{"system": "http://example.org", "code": "active"}]}
    assert _codes(validate_resource(cond)) == [("code-invalid", "Condition.clinicalStatus")]


def test_numbers_and_booleans() -> None:
    obs = _observation()
    obs["valueQuantity"]["value"] = "72"  # type: ignore[index]
    assert _codes(validate_resource(obs)) == [("structure", "Observation.value.ofType(Quantity).value")]
    obs["valueQuantity"]["value"] = True  # type: ignore[index]
    assert _codes(validate_resource(obs)) == [("structure", "Observation.value.ofType(Quantity).value")]
    res = {
        "resourceType": "Immunization",
        "status": "completed",
        "vaccineCode": {"text": "BCG"},
        "patient": {"reference": "Patient/1"},
        "occurrenceString": "birth",
        "protocolApplied": [{"doseNumberPositiveInt": 0}],
    }
    assert _codes(validate_resource(res)) == [
        ("value", "Immunization.protocolApplied[0].doseNumber.ofType(positiveInt)")
    ]
    res["protocolApplied"] = [{"doseNumberPositiveInt": 2**31}]
    assert _codes(validate_resource(res))[0][0] == "value"


def test_contained_resources_are_validated_recursively() -> None:
    pat = _patient()
    pat["contained"] = [
        {"resourceType": "Observation", "id": "o1", "code": {"text": "x"}},
        {"resourceType": "Organization", "contained": [{"resourceType": "Organization", "name": "x"}]},
    ]
    assert _codes(validate_resource(pat)) == [
        ("required", "Patient.contained[0].status"),
        ("structure", "Patient.contained[1].contained"),
    ]


def test_bundle_entries_are_validated_recursively() -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a",
                "resource": _patient(),
                "request": {"method": "POST", "url": "Patient"},
            },
            {
                "resource": {"resourceType": "Observation", "status": "done", "code": {"text": "x"}},
                "request": {"method": "PUT", "url": "Observation/1"},
            },
            {"request": {"method": "FETCH", "url": "Patient/1"}},
        ],
    }
    assert _codes(validate_resource(bundle)) == [
        ("code-invalid", "Bundle.entry[1].resource.status"),
        ("code-invalid", "Bundle.entry[2].request.method"),
    ]
    bundle["type"] = "big"
    assert ("code-invalid", "Bundle.type") in _codes(validate_resource(bundle))


def test_typed_resource_slot_checks_its_type() -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "batch-response",
        "entry": [{"response": {"status": "400", "outcome": {"resourceType": "Patient"}}}],
    }
    assert _codes(validate_resource(bundle)) == [("invalid", "Bundle.entry[0].response.outcome")]


def test_deep_nesting_does_not_crash() -> None:
    item: dict[str, object] = {"linkId": "1", "type": "group"}
    root = item
    for i in range(5000):
        child: dict[str, object] = {"linkId": str(i), "type": "group"}
        item["item"] = [child]
        item = child
    issues = validate_resource({"resourceType": "Questionnaire", "status": "draft", "item": [root]})
    assert [i.code for i in issues] == ["too-costly"]


def test_questionnaire_content_reference_is_resolved() -> None:
    q = {
        "resourceType": "Questionnaire",
        "status": "active",
        "item": [{"linkId": "1", "type": "group", "item": [{"linkId": "1.1", "type": "string", "repeats": "no"}]}],
    }
    assert _codes(validate_resource(q)) == [("structure", "Questionnaire.item[0].item[0].repeats")]
    q["item"][0]["item"][0]["type"] = "essay"  # type: ignore[index]
    del q["item"][0]["item"][0]["repeats"]  # type: ignore[index]
    assert _codes(validate_resource(q)) == [("code-invalid", "Questionnaire.item[0].item[0].type")]
