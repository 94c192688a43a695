"""Convert Decision 4440/QĐ-BYT (27/10/2020) Phụ lục 3 into ``icd9cm_vn.json.gz``.

The appendix maps each Vietnamese "equivalent technical service" code (mã tương đương, the code
billed as MA_DICH_VU) to an ICD-9-CM volume 3 procedure code (billed as MA_PTTT_QT in XML3).
Source: ``<reference>/icd9cm-qd4440/sheet0.csv``; columns: specialty code and name (TT 21 list),
equivalent code, service name, tier (phân tuyến A-D), class (phân loại: P1-P3, PD, T1-T3, TD),
ICD-9 code, ICD-9 name, ICD-9 chapter, chapter id, sync date.
Run: ``.venv/bin/python tools/terminology/build_icd9.py``.
"""

from __future__ import annotations

from typing import Any

from _common import read_csv, reference_dir, write_json_gz


def main() -> None:
    rows = read_csv(reference_dir() / "icd9cm-qd4440" / "sheet0.csv")[3:]
    procedures: dict[str, list[str]] = {}
    services: dict[str, list[Any]] = {}
    skipped = 0
    for r in rows:
        spec_code, spec_name, svc_code, svc_name, tier, klass, icd9, icd9_name, chapter, chapter_id = r[:10]
        if icd9 and icd9 not in procedures:
            # 86.28 carries two wordings in the source; the first one is kept.
            procedures[icd9] = [icd9, icd9_name, chapter, chapter_id]
        if not svc_code:
            skipped += 1  # three rows have a service name but no code: nothing to map
            continue
        entry = services.setdefault(svc_code, [svc_code, svc_name, spec_code, spec_name, tier, klass, []])
        if icd9 and icd9 not in entry[6]:
            entry[6].append(icd9)
    data = {
        "version": "QD4440-2020",
        "source": "Quyết định 4440/QĐ-BYT ngày 27/10/2020, Phụ lục 3 (danh mục chuyển đổi DVKT tương đương ↔ ICD-9 CM)",
        "columns": {
            "procedures": ["code", "name_vi", "chapter", "chapter_id"],
            "services": ["code", "name_vi", "specialty_code", "specialty_name", "tier", "class", "icd9cm"],
        },
        "procedures": sorted(procedures.values(), key=lambda p: p[0]),
        "services": sorted(services.values(), key=lambda s: s[0]),
    }
    print(f"  {len(procedures)} ICD-9-CM codes, {len(services)} service codes, {skipped} rows without code")
    write_json_gz("icd9cm_vn.json.gz", data)


if __name__ == "__main__":
    main()
