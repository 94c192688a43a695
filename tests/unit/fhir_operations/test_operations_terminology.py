"""Terminology operations through their handlers (no database: packaged code lists are in memory)."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest

from benhan.fhir.operations import operation_handler
from benhan.fhir.router.types import FhirRequest
from benhan.kernel.context import RequestContext
from benhan.kernel.errors import BenhanError

ICD10 = "http://hl7.org/fhir/sid/icd-10"
ICD10_VS = "https://benhan.vn/fhir/ValueSet/icd-10-vn"


def request(query: list[tuple[str, str]], method: str = "GET", body: dict[str, Any] | None = None) -> FhirRequest:
    return FhirRequest(method, (), query, {}, orjson.dumps(body) if body else b"", "http://t/fhir", RequestContext())


async def call(type_: str, op: str, query: list[tuple[str, str]], **kw: Any) -> dict[str, Any]:
    handler = operation_handler(type_, op)
    assert handler is not None
    result = await handler(request(query, **kw), None, None)  # type: ignore[arg-type]  # packaged: no repository
    assert result.status == 200
    return result.resource


def out(params: dict[str, Any], name: str) -> Any:
    for p in params["parameter"]:
        if p["name"] == name:
            return next(v for k, v in p.items() if k.startswith("value"))
    return None


async def test_expand_is_accent_insensitive() -> None:
    vs = await call("ValueSet", "$expand", [("url", ICD10_VS), ("filter", "viem phoi"), ("count", "100")])
    displays = [c["display"] for c in vs["expansion"]["contains"]]
    assert any(d.startswith("Viêm phổi") for d in displays)
    assert "J18.9" in {c["code"] for c in vs["expansion"]["contains"]}
    assert vs["expansion"]["total"] >= len(displays)


async def test_expand_by_code_prefix_english_and_paging() -> None:
    vs = await call("ValueSet", "expand", [("url", f"{ICD10}?vs"), ("filter", "J18"), ("displayLanguage", "en")])
    codes = [c["code"] for c in vs["expansion"]["contains"]]
    assert codes[0] == "J18"
    assert "J18.9" in codes
    assert "Pneumonia, unspecified" in {c["display"] for c in vs["expansion"]["contains"]}
    page2 = await call("ValueSet", "expand", [("url", ICD10_VS), ("filter", "viem"), ("offset", "10"),
                                              ("count", "10")])  # fmt: skip
    page1 = await call("ValueSet", "expand", [("url", ICD10_VS), ("filter", "viem"), ("count", "10")])
    assert not {c["code"] for c in page1["expansion"]["contains"]} & {c["code"] for c in page2["expansion"]["contains"]}


async def test_expand_type_ahead_p95_under_30ms() -> None:
    await call("ValueSet", "expand", [("url", ICD10_VS), ("filter", "a")])  # builds the index once
    timings = []
    for text in ["v", "viem", "viem phoi", "t", "tang huyet", "dai thao", "j1", "gay xuong", "n", "benh"] * 3:
        start = time.perf_counter()
        await call("ValueSet", "expand", [("url", ICD10_VS), ("filter", text), ("count", "20")])
        timings.append(time.perf_counter() - start)
    p95 = sorted(timings)[int(len(timings) * 0.95) - 1]
    assert p95 < 0.030, f"p95 {p95 * 1000:.1f} ms"


async def test_lookup_icd10() -> None:
    params = await call("CodeSystem", "$lookup", [("system", ICD10), ("code", "J18.9")])
    assert out(params, "display") == "Viêm phổi, không đặc hiệu"
    assert out(params, "name") == "ICD10_VN"
    undotted = await call("CodeSystem", "$lookup", [("system", ICD10), ("code", "J189")])
    assert out(undotted, "display") == "Viêm phổi, không đặc hiệu"
    posted = await call("CodeSystem", "$lookup", [], method="POST", body={"resourceType": "Parameters", "parameter": [
        {"name": "coding", "valueCoding": {"system": ICD10, "code": "J18.9"}}]})  # fmt: skip
    assert out(posted, "display") == out(params, "display")


async def test_lookup_unknown_code_is_404() -> None:
    with pytest.raises(BenhanError) as err:
        await call("CodeSystem", "$lookup", [("system", ICD10), ("code", "ZZ9.9")])
    assert err.value.status == 404


async def test_validate_code() -> None:
    query = [("url", ICD10), ("code", "J18.9")]
    ok = await call("CodeSystem", "$validate-code", [*query, ("display", "viem phoi, khong dac hieu")])
    assert out(ok, "result") is True
    wrong_display = await call("CodeSystem", "$validate-code", [*query, ("display", "Gãy xương")])
    assert out(wrong_display, "result") is False
    unknown = await call("ValueSet", "$validate-code", [("url", ICD10_VS), ("system", ICD10), ("code", "ZZ9.9")])
    assert out(unknown, "result") is False
    member = await call("ValueSet", "$validate-code", [("url", ICD10_VS), ("system", ICD10), ("code", "I10")])
    assert out(member, "result") is True


async def test_validate_code_flags_sex_rule() -> None:
    male = await call("CodeSystem", "$validate-code", [("url", ICD10), ("code", "O80"), ("patient-gender", "male")])
    assert out(male, "result") is False
    violation = next(p for p in male["parameter"] if p["name"] == "violation")
    assert {"name": "rule", "valueString": "sex"} in violation["part"]
    female = await call("CodeSystem", "$validate-code", [("url", ICD10), ("code", "O80"), ("patient-gender", "female"),
                                                         ("patient-age-days", str(28 * 365))])  # fmt: skip
    assert out(female, "result") is True


async def test_packaged_resources_are_valid_fhir() -> None:
    from benhan.fhir.model import validate_resource
    from benhan.fhir.operations.terminology_index import packaged_resources

    for res in packaged_resources():
        assert validate_resource(res) == [], res["id"]
