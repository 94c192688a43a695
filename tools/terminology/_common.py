"""Shared helpers for the terminology conversion scripts (tools only, never imported by benhan).

The scripts read the official sources from the shared reference folder (``/work/shared/reference/data``
by default, or the folder given in ``BENHAN_REFERENCE_DATA``) and write compact, deterministic data
files into ``src/benhan/terminology/data`` that are committed with the code.
"""

from __future__ import annotations

import csv
import gzip
import os
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parents[2]
OUT_DIR = REPO / "src" / "benhan" / "terminology" / "data"
NODE_R4 = REPO / "node_modules" / "@medplum" / "definitions" / "dist" / "fhir" / "r4"


def reference_dir() -> Path:
    """Folder holding the official source tables (see vietnam-regulations.md §6)."""
    return Path(os.environ.get("BENHAN_REFERENCE_DATA", "/work/shared/reference/data"))


def read_csv(path: Path) -> list[list[str]]:
    """All rows of a UTF-8 CSV (BOM tolerated), cells stripped."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return [[cell.strip() for cell in row] for row in csv.reader(fh)]


def write_json_gz(name: str, obj: Any) -> Path:
    """Write ``obj`` as gzip JSON with mtime 0 so a regeneration yields identical bytes."""
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUT_DIR / name
    raw = orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)
    path.write_bytes(gzip.compress(raw, compresslevel=9, mtime=0))
    print(f"wrote {path.relative_to(REPO)} ({path.stat().st_size:,} bytes, {len(raw):,} raw)")
    return path


def write_json(name: str, obj: Any) -> Path:
    """Write small data files as indented JSON so diffs stay reviewable."""
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUT_DIR / name
    path.write_bytes(orjson.dumps(obj, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n")
    print(f"wrote {path.relative_to(REPO)} ({path.stat().st_size:,} bytes)")
    return path
