"""Convert ICD-10 of Decision 4469/QĐ-BYT (28/10/2020) into ``icd10_vn.json.gz``.

Sources (``<reference>/icd10-qd4469``):
- ``icd10.csv``  Phụ lục 1: the code list with chapter, main group, sub groups 1-2, category;
- ``a1.csv``     Phụ lục A1: dagger (†) / asterisk (*) pairs that always go together;
- ``a2-…csv``    Phụ lục A2: codes never used as the main diagnosis;
- ``a3-*.csv``   Phụ lục A3.1-A3.10: age-restricted codes, the valid age range is in each table title;
- ``a4-1/2.csv`` Phụ lục A4.1 (female only) and A4.2 (male only);
- ``e1-…csv``    Phụ lục E1: codes not grouped into a DRG (U1), also not a main diagnosis.

Rule tables keep the source's undotted code form (``J189``); the code list keeps the dotted form
(``J18.9``) with its † / * mark split off. Run: ``.venv/bin/python tools/terminology/build_icd10.py``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from _common import read_csv, reference_dir, write_json_gz

TITLE_RE = re.compile(r"^Phụ lục (A\d(?:\.\d+)?)\s*(.*)$")
AGE_FILES = (
    "a3-1.csv",
    "a3-2-a3-3-a3-4.csv",
    "a3-5.csv",
    "a3-6.csv",
    "a3-7-a3-8.csv",
    "a3-9.csv",
    "a3-10.csv",
)
UNIT = {"ngày": "d", "tuổi": "a"}  # UCUM units: d = day, a = year


def parse_age_title(title: str) -> tuple[list[Any] | None, list[Any] | None]:
    """Turn an A3.x title into ([value, unit, inclusive] | None) min and max bounds.

    The 4469 titles use three phrasings, e.g. "(tuổi hợp lệ: 0 ngày - 2 tuổi)" (a closed range whose
    first unit may be omitted, "0 - 365 ngày"), "(tuổi hợp lệ: trên 15 tuổi)" (strictly above) and
    "(tuổi hợp lệ: 1 tuổi trở lên)" (at least).
    """
    text = title.replace("–", "-")
    rng = re.search(r"(\d+)\s*(ngày|tuổi)?\s*-\s*(\d+)\s*(ngày|tuổi)", text)
    if rng:
        hi_unit = UNIT[rng.group(4)]
        lo_unit = UNIT[rng.group(2)] if rng.group(2) else hi_unit
        return [int(rng.group(1)), lo_unit, True], [int(rng.group(3)), hi_unit, True]
    above = re.search(r"trên\s+(\d+)\s*(ngày|tuổi)", text)
    if above:
        return [int(above.group(1)), UNIT[above.group(2)], False], None
    at_least = re.search(r"(\d+)\s*(ngày|tuổi)\s*trở lên", text)
    if at_least:
        return [int(at_least.group(1)), UNIT[at_least.group(2)], True], None
    raise ValueError(f"cannot read the age range of: {title!r}")


def read_appendix_tables(path: Path) -> list[tuple[str, str, list[str]]]:
    """Split a file that may hold several appendix tables into (appendix id, title, codes)."""
    tables: list[tuple[str, str, list[str]]] = []
    for row in read_csv(path):
        if not row or not row[0]:
            continue
        head = TITLE_RE.match(row[0])
        if head:
            tables.append((head.group(1), head.group(2).strip(), []))
        elif row[0] != "Mã" and not row[0].startswith("(Ban hành") and tables:
            code = row[0].replace(".", "").upper()
            if code not in tables[-1][2]:
                tables[-1][2].append(code)
    return tables


def build_codes(src: Path) -> dict[str, Any]:
    rows = read_csv(src / "icd10.csv")[3:]
    chapters: list[list[str]] = []
    groups: list[list[Any]] = []
    group_index: dict[tuple[str, str], int] = {}
    codes: list[list[Any]] = []
    seen: dict[str, int] = {}
    for r in rows:
        chapter = [r[0], r[1], r[3], r[2]]
        if chapter not in chapters:
            chapters.append(chapter)
        parent = -1
        for level, (rng, en, vi) in enumerate(((r[4], r[5], r[6]), (r[7], r[8], r[9]), (r[10], r[11], r[12]))):
            if not rng:
                continue
            key = (r[1], rng)
            if key not in group_index:
                group_index[key] = len(groups)
                groups.append([rng, vi, en, level + 1, parent, chapters.index(chapter)])
            parent = group_index[key]
        raw = r[16]
        mark = raw[-1] if raw[-1] in "†*" else ""
        code = raw.rstrip("†*")
        if code in seen:
            # J13 is listed twice, and 81 leaf categories appear once plain and once marked
            # ("G01" and "G01*"): keep one entry and the mark.
            codes[seen[code]][3] = codes[seen[code]][3] or mark
            continue
        seen[code] = len(codes)
        codes.append([code, r[19], r[18], mark, parent, chapters.index(chapter)])
    return {"chapters": chapters, "groups": groups, "codes": codes}


def build_rules(src: Path) -> dict[str, Any]:
    age = []
    for name in AGE_FILES:
        for appendix, title, codes in read_appendix_tables(src / name):
            lo, hi = parse_age_title(title)
            age.append({"appendix": appendix, "title": title, "min": lo, "max": hi, "codes": codes})
    sex = {
        "female": read_appendix_tables(src / "a4-1.csv")[0][2],
        "male": read_appendix_tables(src / "a4-2.csv")[0][2],
    }
    a2_rows = read_csv(src / "a2-ma-icd10-ko-ma-benh-chinh.csv")[3:]
    e1_rows = read_csv(src / "e1-khong-ghep-drg.csv")[3:]
    pairs = sorted({(r[0].upper(), r[2].upper()) for r in read_csv(src / "a1.csv")[3:] if r and r[0]})
    return {
        "age": age,
        "sex": sex,
        "not_main": {
            "A2": sorted({r[0].upper() for r in a2_rows if r and r[0]}),
            "E1": sorted({r[0].upper() for r in e1_rows if r and r[0]}),
        },
        "asterisk": sorted({r[0].upper() for r in a2_rows if len(r) > 1 and r[1] == "*"}),
        "dagger_asterisk_pairs": [list(p) for p in pairs],
    }


def main() -> None:
    src = reference_dir() / "icd10-qd4469"
    data = build_codes(src)
    data["rules"] = build_rules(src)
    data["version"] = "QD4469-2020"
    data["source"] = "Quyết định 4469/QĐ-BYT ngày 28/10/2020 (Phụ lục 1, A1, A2, A3.1-A3.10, A4.1, A4.2, E1)"
    data["columns"] = {
        "chapters": ["number", "range", "name_vi", "name_en"],
        "groups": ["range", "name_vi", "name_en", "level", "parent", "chapter"],
        "codes": ["code", "name_vi", "name_en", "mark", "group", "chapter"],
    }
    for table in data["rules"]["age"]:
        print(f"  {table['appendix']}: {table['title']!r} -> min={table['min']} max={table['max']}")
    print(f"  {len(data['codes'])} codes, {len(data['groups'])} groups, {len(data['chapters'])} chapters")
    write_json_gz("icd10_vn.json.gz", data)


if __name__ == "__main__":
    main()
