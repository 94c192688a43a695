"""Migration 0010's partial covering index names the string parameters of people as the registry has them."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from benhan.fhir.search import registry

MIGRATION = Path(__file__).resolve().parents[3] / "migrations" / "versions" / "0010_people_names_covering.py"


def test_people_string_params_match_the_registry() -> None:
    spec = importlib.util.spec_from_file_location("m0010", MIGRATION)
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    expected = {p.pid for t in ("Patient", "Practitioner", "RelatedPerson", "Person")
                for code, p in registry.params_of(t).items()
                if p.type == "string" and p.indexed and not code.startswith("_")}
    assert set(module.PEOPLE_STRING_PARAMS) == expected
    assert len(expected) <= 100  # PostgreSQL proves `param = x` implies `param IN (…)` for at most 100 items
