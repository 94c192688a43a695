"""FHIR R4 CodeSystem / ValueSet builders: required elements and consistent content."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from benhan.terminology import admin_units, catalogue, catalogue_fhir, fhir, icd9, icd10, loinc


def _walk(concepts: list[dict[str, object]]) -> Iterator[dict[str, object]]:
    for c in concepts:
        yield c
        yield from _walk(c.get("concept", []))  # type: ignore[arg-type]


def _check_codesystem(cs: dict[str, object]) -> list[dict[str, object]]:
    # FHIR R4 codesystem.html: status and content are 1..1; url, version, name identify it.
    assert cs["resourceType"] == "CodeSystem"
    assert cs["status"] == "active"
    assert cs["content"] in ("complete", "fragment")
    for key in ("url", "version", "name", "id"):
        assert isinstance(cs[key], str)
        assert cs[key]
    concepts = list(_walk(cs["concept"]))  # type: ignore[arg-type]
    codes = [c["code"] for c in concepts]
    assert len(codes) == len(set(codes)) == cs["count"]
    declared = {p["code"] for p in cs.get("property", [])}  # type: ignore[attr-defined]
    used = {p["code"] for c in concepts for p in c.get("property", [])}  # type: ignore[attr-defined]
    assert used <= declared
    assert all(isinstance(c.get("display", "-"), str) and c.get("display", "-") for c in concepts)
    return concepts


def test_icd10_codesystem() -> None:
    db = icd10.default()
    cs = fhir.to_codesystem(db)
    assert cs["url"] == "http://hl7.org/fhir/sid/icd-10"
    concepts = {c["code"]: c for c in _check_codesystem(cs)}
    assert len(concepts) == len(db)
    j189 = concepts["J18.9"]
    assert j189["display"] == "Viêm phổi, không đặc hiệu"
    assert {"code": "parent", "valueCode": "J18"} in j189["property"]  # type: ignore[operator]


@pytest.mark.parametrize("source", [icd9.default, admin_units.default, loinc.default])
def test_other_codesystems(source: object) -> None:
    cs = fhir.to_codesystem(source())  # type: ignore[operator]
    _check_codesystem(cs)


def test_admin_units_hierarchy_and_services_and_catalogue() -> None:
    cs = fhir.to_codesystem(admin_units.default())
    assert cs["hierarchyMeaning"] == "part-of"
    ca_mau = next(c for c in cs["concept"] if c["code"] == "96")  # type: ignore[attr-defined]
    assert "970" in {d["code"] for d in ca_mau["concept"]}
    _check_codesystem(fhir.services_codesystem(icd9.default()))
    drugs = catalogue_fhir.to_codesystem("drug", "bv-1", "Bệnh viện 1", list(catalogue.demo_drugs()), "20260101")
    assert drugs["url"] == "https://benhan.vn/fhir/CodeSystem/thuoc-bv-1"
    _check_codesystem(drugs)


def test_valueset_builder() -> None:
    cs = fhir.to_codesystem(loinc.default())
    vitals = [c.code for c in loinc.default().group("vital-signs")]
    vs = fhir.to_valueset(cs, "https://benhan.vn/fhir/ValueSet/loinc-vital-signs", "Dấu hiệu sinh tồn", vitals)
    assert vs["resourceType"] == "ValueSet"
    assert vs["status"] == "active"
    include = vs["compose"]["include"][0]  # type: ignore[index]
    assert include["system"] == "http://loinc.org"
    assert [c["code"] for c in include["concept"]] == vitals
    everything = fhir.to_valueset(fhir.to_codesystem(icd10.default()), f"{fhir.BASE}/ValueSet/icd-10-vn", "ICD-10")
    assert "concept" not in everything["compose"]["include"][0]  # type: ignore[index]
