"""Migration 0012 moves the ``:text`` string rows of exactly the pseudo-parameters the extraction writes."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime
from pathlib import Path

from benhan.demo.province import build_province
from benhan.fhir.search.extract import extract
from benhan.synth.generator import generate

MIGRATION = Path(__file__).resolve().parents[3] / "migrations" / "versions" / "0012_token_text.py"


def test_text_params_cover_every_text_row_the_extraction_writes() -> None:
    spec = importlib.util.spec_from_file_location("m0012", MIGRATION)
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    moved = set(module.text_params())
    province = build_province()
    resources = [r for patient in generate(3, 2, province.world, datetime(2026, 11, 1, tzinfo=UTC)) for r in patient]
    written: set[int] = set()
    for res in [*province.resources, *resources]:
        rows = extract(res["resourceType"], res)
        written |= {pid for pid, _text in rows.text_rows}
        assert not {pid for pid, _v, _e in rows.strings} & moved  # no :text string rows any more
    assert written
    assert written <= moved
