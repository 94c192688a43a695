"""FHIRPath Patch operations and their errors (FHIR R4 fhirpatch.html), without a database."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from benhan.fhir.storage.fhirpath_patch import apply_fhirpath_patch
from benhan.kernel.errors import BenhanError, ErrorCode

CCCD = "https://benhan.vn/sid/cccd"
BHYT = "https://benhan.vn/sid/bhyt"


def patient() -> dict[str, Any]:
    return {
        "resourceType": "Patient", "id": "p1", "gender": "male",
        "name": [{"family": "Nguyễn", "given": ["Văn", "An"]}],
        "identifier": [{"system": CCCD, "value": "096080001234"}, {"system": BHYT, "value": "HC4790123456789"}],
    }


def op(kind: str, path: str, **parts: Any) -> dict[str, Any]:
    out: list[dict[str, Any]] = [{"name": "type", "valueCode": kind}, {"name": "path", "valueString": path}]
    for name, value in parts.items():
        if name == "name":
            out.append({"name": "name", "valueString": value})
        elif name in ("index", "source", "destination"):
            out.append({"name": name, "valueInteger": value})
        else:  # value=("Date", "2000-01-01") or value={"part": [...]}
            out.append({"name": "value", **(value if isinstance(value, dict) else {f"value{value[0]}": value[1]})})
    return {"name": "operation", "part": out}


def patch(*ops: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Parameters", "parameter": list(ops)}


def failing(resource: dict[str, Any], body: Any) -> ErrorCode:
    before = copy.deepcopy(resource)
    with pytest.raises(BenhanError) as info:
        apply_fhirpath_patch(resource, body)
    assert resource == before  # the input is never changed, even by a half-applied patch
    return info.value.error


def test_add_single_and_repeating_elements() -> None:
    out = apply_fhirpath_patch(patient(), patch(
        op("add", "Patient", name="birthDate", value=("Date", "1980-04-30")),
        op("add", "Patient", name="identifier", value=("Identifier", {"system": "https://benhan.vn/sid/ma-bn",
                                                                     "value": "BN001"})),
        op("add", "Patient.name[0]", name="given", value=("String", "Bình")),
    ))
    assert out["birthDate"] == "1980-04-30"
    assert out["identifier"][-1]["value"] == "BN001"
    assert out["name"][0]["given"] == ["Văn", "An", "Bình"]


def test_add_choice_and_anonymous_backbone_element() -> None:
    out = apply_fhirpath_patch(patient(), patch(
        op("add", "Patient", name="deceased", value=("DateTime", "2026-11-25T08:00:00+07:00")),
        op("add", "Patient", name="contact", value={"part": [
            {"name": "name", "valueHumanName": {"family": "Trần", "given": ["Thị"]}},
            {"name": "relationship", "valueCodeableConcept": {"text": "vợ"}},
            {"name": "gender", "valueCode": "female"},
        ]}),
    ))
    assert out["deceasedDateTime"] == "2026-11-25T08:00:00+07:00"
    # name and gender are single-valued, relationship repeats (from the R4 definitions).
    assert out["contact"] == [{"name": {"family": "Trần", "given": ["Thị"]},
                               "relationship": [{"text": "vợ"}], "gender": "female"}]


def test_add_refuses_an_existing_single_element_and_an_unknown_name() -> None:
    assert failing(patient(), patch(op("add", "Patient", name="gender", value=("Code", "female")))) \
        is ErrorCode.PATCH_FAILED
    assert failing(patient(), patch(op("add", "Patient", name="colour", value=("String", "x")))) \
        is ErrorCode.PATCH_TYPE_MISMATCH


def test_insert_at_an_index_and_out_of_range() -> None:
    out = apply_fhirpath_patch(patient(), patch(op("insert", "Patient.name[0].given", index=0,
                                                   value=("String", "Lê"))))
    assert out["name"][0]["given"] == ["Lê", "Văn", "An"]
    end = apply_fhirpath_patch(patient(), patch(op("insert", "Patient.identifier", index=2,
                                                   value=("Identifier", {"value": "x"}))))
    assert end["identifier"][2] == {"value": "x"}
    assert failing(patient(), patch(op("insert", "Patient.identifier", index=3,
                                       value=("Identifier", {"value": "x"})))) is ErrorCode.PATCH_INDEX_OUT_OF_RANGE
    assert failing(patient(), patch(op("insert", "Patient.gender", index=0, value=("Code", "x")))) \
        is ErrorCode.PATCH_TYPE_MISMATCH


def test_delete_one_element_none_is_a_no_op_many_is_an_error() -> None:
    out = apply_fhirpath_patch(patient(), patch(op("delete", f"Patient.identifier.where(system = '{BHYT}')")))
    assert [i["system"] for i in out["identifier"]] == [CCCD]
    last = apply_fhirpath_patch(out, patch(op("delete", "Patient.identifier[0]")))
    assert "identifier" not in last  # an emptied list disappears (json.html: no empty arrays)
    assert apply_fhirpath_patch(patient(), patch(op("delete", "Patient.birthDate"))) == patient()
    assert failing(patient(), patch(op("delete", "Patient.identifier"))) is ErrorCode.PATCH_PATH_AMBIGUOUS


def test_delete_a_primitive_takes_its_extensions_along() -> None:
    resource = {**patient(), "birthDate": "1980", "_birthDate": {"extension": [{"url": "u", "valueString": "x"}]}}
    out = apply_fhirpath_patch(resource, patch(op("delete", "Patient.birthDate")))
    assert "birthDate" not in out
    assert "_birthDate" not in out


def test_replace_value_choice_type_and_errors() -> None:
    out = apply_fhirpath_patch(patient(), patch(
        op("replace", f"Patient.identifier.where(system = '{CCCD}').value", value=("String", "001090000001")),
        op("replace", "Patient.gender", value=("Code", "female")),
    ))
    assert out["identifier"][0]["value"] == "001090000001"
    assert out["gender"] == "female"
    obs = {"resourceType": "Observation", "id": "o", "status": "final", "code": {"text": "t"},
           "valueQuantity": {"value": 37}}
    typed = apply_fhirpath_patch(obs, patch(op("replace", "Observation.value.ofType(FHIR.Quantity).value",
                                               value=("Decimal", 38.5))))
    assert typed["valueQuantity"] == {"value": 38.5}
    switched = apply_fhirpath_patch(obs, patch(op("replace", "Observation.value", value=("String", "sốt"))))
    assert switched["valueString"] == "sốt"
    assert "valueQuantity" not in switched
    assert failing(patient(), patch(op("replace", "Patient.birthDate", value=("Date", "2000")))) \
        is ErrorCode.PATCH_PATH_NO_MATCH
    assert failing(patient(), patch(op("replace", "Patient.identifier.value", value=("String", "x")))) \
        is ErrorCode.PATCH_PATH_AMBIGUOUS
    assert failing(patient(), patch(op("replace", "Patient.gender", value=("Integer", 1)))) \
        is ErrorCode.PATCH_TYPE_MISMATCH


def test_move_within_a_list() -> None:
    out = apply_fhirpath_patch(patient(), patch(op("move", "Patient.identifier", source=1, destination=0)))
    assert [i["system"] for i in out["identifier"]] == [BHYT, CCCD]
    assert failing(patient(), patch(op("move", "Patient.identifier", source=2, destination=0))) \
        is ErrorCode.PATCH_INDEX_OUT_OF_RANGE
    assert failing(patient(), patch(op("move", "Patient.telecom", source=0, destination=0))) \
        is ErrorCode.PATCH_PATH_NO_MATCH


def test_functions_of_the_supported_subset() -> None:
    resource = {**patient(), "extension": [{"url": "https://benhan.vn/ext/ethnicity", "valueCode": "01"}]}
    out = apply_fhirpath_patch(resource, patch(
        op("replace", "Patient.extension('https://benhan.vn/ext/ethnicity').value", value=("Code", "02")),
        op("replace", "Patient.name.first().family", value=("String", "Phạm")),
        op("delete", "Patient.identifier.last()"),
    ))
    assert out["extension"][0]["valueCode"] == "02"
    assert out["name"][0]["family"] == "Phạm"
    assert len(out["identifier"]) == 1


def test_operations_apply_in_order_and_all_or_nothing() -> None:
    body = patch(op("replace", "Patient.gender", value=("Code", "female")), op("delete", "Patient.identifier"))
    assert failing(patient(), body) is ErrorCode.PATCH_PATH_AMBIGUOUS
    with pytest.raises(BenhanError) as info:
        apply_fhirpath_patch(patient(), body)
    assert info.value.issues[0].expression == ("Parameters.parameter[1]",)


@pytest.mark.parametrize(("body", "error"), [
    ([{"op": "remove", "path": "/gender"}], ErrorCode.INVALID_FHIRPATH_PATCH),
    ({"resourceType": "Parameters"}, ErrorCode.INVALID_FHIRPATH_PATCH),
    (patch({"name": "op", "part": []}), ErrorCode.INVALID_FHIRPATH_PATCH),
    (patch(op("upsert", "Patient.gender")), ErrorCode.INVALID_FHIRPATH_PATCH),
    (patch(op("replace", "Patient.gender")), ErrorCode.INVALID_FHIRPATH_PATCH),
    (patch(op("insert", "Patient.identifier", value=("Identifier", {}))), ErrorCode.INVALID_FHIRPATH_PATCH),
    (patch(op("replace", "Patient.managingOrganization.resolve().name", value=("String", "x"))),
     ErrorCode.FHIRPATH_UNSUPPORTED),
    (patch(op("delete", "Observation.status")), ErrorCode.FHIRPATH_UNSUPPORTED),
    (patch(op("delete", "Patient")), ErrorCode.FHIRPATH_UNSUPPORTED),
    (patch(op("delete", "Patient.name.where(family = ")), ErrorCode.FHIRPATH_UNSUPPORTED),
])
def test_malformed_patches_are_refused(body: Any, error: ErrorCode) -> None:
    assert failing(patient(), body) is error
