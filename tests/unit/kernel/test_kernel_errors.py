from __future__ import annotations

import importlib.util
from pathlib import Path

from benhan.kernel.errors import BenhanError, ErrorCode, Issue

ROOT = Path(__file__).resolve().parents[3]


def test_codes_are_unique_and_well_formed() -> None:
    codes = [e.code for e in ErrorCode]
    assert len(codes) == len(set(codes))
    assert all(c.startswith("BH-") for c in codes)
    assert all(len(c) == 7 for c in codes)
    assert all(c[3:].isdigit() for c in codes)
    assert all(400 <= e.status < 600 for e in ErrorCode)


def test_errors_doc_is_current() -> None:
    spec = importlib.util.spec_from_file_location("gen_errors_doc", ROOT / "tools" / "gen_errors_doc.py")
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (ROOT / "docs" / "errors.md").read_text(encoding="utf-8") == module.render(), (
        "docs/errors.md is stale: run .venv/bin/python tools/gen_errors_doc.py"
    )


def test_outcome_shape() -> None:
    issue = Issue("value", "bad gender", expression=("Patient.gender",))
    err = BenhanError(ErrorCode.INVALID_RESOURCE, "2 problems", [issue])
    oo = err.outcome()
    assert oo["resourceType"] == "OperationOutcome"
    assert oo["issue"][0]["details"]["coding"][0]["code"] == "BH-1002"
    assert oo["issue"][1]["expression"] == ["Patient.gender"]
    assert err.status == 400
