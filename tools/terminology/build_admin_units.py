"""Convert the administrative units (provinces, districts, communes) into ``admin_units_<version>.json.gz``.

Default source: ``<reference>/admin-units-2024-06/sheet1.csv`` (General Statistics Office codes as of
06/2024, before the 2025 reorganisation), columns ``id, tentinh, matinh, tenhuyen, mahuyen, tenxa, maxa,
cap, tentienganh, viettat``. A newer list with the same columns can be converted with
``--csv PATH --version YYYY-MM``; when it has no district columns (after the 2025 reform districts
were abolished) communes attach directly to their province.
Run: ``.venv/bin/python tools/terminology/build_admin_units.py [--csv PATH --version 2025-07]``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from _common import read_csv, reference_dir, write_json_gz


def convert(path: Path, version: str) -> dict[str, object]:
    rows = read_csv(path)
    head = {name: i for i, name in enumerate(rows[0])}

    def cell(row: list[str], name: str) -> str:
        i = head.get(name)
        return row[i] if i is not None and i < len(row) else ""

    provinces: dict[str, list[str]] = {}
    districts: dict[str, list[str]] = {}
    communes: dict[str, list[str]] = {}
    for r in rows[1:]:
        prov, dist, comm = cell(r, "matinh"), cell(r, "mahuyen"), cell(r, "maxa")
        provinces.setdefault(prov, [prov, cell(r, "tentinh")])
        if dist:
            districts.setdefault(dist, [dist, cell(r, "tenhuyen"), prov])
        if comm:
            communes.setdefault(comm, [comm, cell(r, "tenxa"), cell(r, "cap"), dist, prov])
    return {
        "version": version,
        "source": f"Danh mục đơn vị hành chính Việt Nam ({version}), {path.name}",
        "columns": {
            "provinces": ["code", "name"],
            "districts": ["code", "name", "province"],
            "communes": ["code", "name", "level", "district", "province"],
        },
        "provinces": sorted(provinces.values()),
        "districts": sorted(districts.values()),
        "communes": sorted(communes.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--csv", type=Path, default=reference_dir() / "admin-units-2024-06" / "sheet1.csv")
    parser.add_argument("--version", default="2024-06")
    args = parser.parse_args()
    data = convert(args.csv, args.version)
    counts = {k: len(data[k]) for k in ("provinces", "districts", "communes")}  # type: ignore[arg-type]
    print(f"  {counts}")
    write_json_gz(f"admin_units_{args.version.replace('-', '_')}.json.gz", data)


if __name__ == "__main__":
    main()
