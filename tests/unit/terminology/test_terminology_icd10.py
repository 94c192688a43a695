"""ICD-10 (QĐ 4469): look-ups, accent-insensitive search, and the sex / age / main / dagger rules."""

from __future__ import annotations

import time

import pytest

from benhan.kernel.text import fold
from benhan.terminology import icd10
from benhan.terminology.icd10_rules import completed_years


@pytest.fixture(scope="module")
def db() -> icd10.Icd10:
    return icd10.default()


@pytest.mark.parametrize(
    ("query", "code", "name_vi", "chapter"),
    [
        ("J18.9", "J18.9", "Viêm phổi, không đặc hiệu", "X"),
        ("J189", "J18.9", "Viêm phổi, không đặc hiệu", "X"),
        ("i10", "I10", "Bệnh lý tăng huyết áp", "IX"),
        ("O80", "O80", "Đẻ thường một thai", "XV"),
        ("G01*", "G01", "Viêm màng não trong bệnh nhiễm khuẩn phân loại ở mục khác", "VI"),
    ],
)
def test_lookup_known_codes(db: icd10.Icd10, query: str, code: str, name_vi: str, chapter: str) -> None:
    entry = db.lookup(query)
    assert entry is not None
    assert (entry.code, entry.name_vi, entry.chapter.number) == (code, name_vi, chapter)
    assert entry.xml_code == code.replace(".", "")


def test_lookup_unknown_and_hierarchy(db: icd10.Icd10) -> None:
    assert db.lookup("Z99.99") is None
    entry = db.lookup("J18.9")
    assert entry is not None
    assert [g.range for g in entry.groups] == ["J09-J18"]
    assert entry.category == "J18"
    g01 = db.lookup("G01")
    assert g01 is not None
    assert g01.mark == "asterisk"
    assert len(db) > 12000


def test_search_viem_phoi_without_accents(db: icd10.Icd10) -> None:
    found = db.search("viem phoi", limit=50)
    assert found, "viem phoi must find Viêm phổi codes"
    assert all("viem" in fold(c.name_vi + " " + c.name_en) for c in found[:10])
    assert any(c.name_vi.startswith("Viêm phổi") for c in found)
    assert [c.code for c in db.search("Viêm phổi", 50)] == [c.code for c in found]
    assert "J18.9" in [c.code for c in db.search("viem phoi khong dac hieu", 20)]


def test_search_by_code_prefix_ranks_exact_code_first(db: icd10.Icd10) -> None:
    found = db.search("J18", 10)
    assert found[0].code == "J18"
    assert all(c.code.startswith("J18") for c in found)
    assert db.search("j18.9", 1)[0].code == "J18.9"
    assert db.search("xyzzy khong co", 5) == []


def test_search_is_fast(db: icd10.Icd10) -> None:
    queries = ["viem phoi", "tang huyet ap", "J18", "dai thao duong", "gay xuong", "vi", "nhiem trung", "K35"]
    start = time.perf_counter()
    rounds = 20
    for _ in range(rounds):
        for q in queries:
            db.search(q, 20)
    per_search_ms = (time.perf_counter() - start) * 1000 / (rounds * len(queries))
    assert per_search_ms < 5, f"{per_search_ms:.2f} ms per search"


def test_female_only_code_on_male_is_flagged(db: icd10.Icd10) -> None:
    found = db.check_diagnosis("O80.0", "male", 30 * 365, is_main=True)
    assert [v.rule for v in found] == ["sex"]
    assert "A4.1" in found[0].source
    assert "nữ" in found[0].message_vi
    assert "female" in found[0].message_en
    assert db.check_diagnosis("O80.0", "female", 30 * 365, is_main=True) == []
    # the category O80 is not listed in A4.1 but all its sub-codes are
    assert [v.rule for v in db.check_diagnosis("O80", "male", 30 * 365, True)] == ["sex"]
    assert [v.rule for v in db.check_diagnosis("N40", "female", 60 * 365, True)] == ["sex"]
    assert db.check_diagnosis("O80.0", "unknown", 30 * 365, True) == []


def test_age_rules(db: icd10.Icd10) -> None:
    # A3.1: newborn conditions, 0 - 365 days
    assert [v.rule for v in db.check_diagnosis("P07.3", "male", 40 * 365, True)] == ["age"]
    assert db.check_diagnosis("P07.3", "male", 10, True) == []
    assert db.check_diagnosis("P07.3", "male", 365, True) == []
    assert [v.rule for v in db.check_diagnosis("P07.3", "male", 366, True)] == ["age"]
    assert db.check_diagnosis("P07.3", "male", None, True) == []


def test_age_bounds_read_from_appendix_titles(db: icd10.Icd10) -> None:
    by_appendix = {r.appendix: r for r in db.rules.age}
    a31, a39, a36 = by_appendix["A3.1"], by_appendix["A3.9"], by_appendix["A3.6"]
    assert a31.max is not None
    assert (a31.max.value, a31.max.unit, a31.max.inclusive) == (365, "d", True)
    assert a39.min is not None
    assert (a39.min.value, a39.min.unit, a39.min.inclusive) == (15, "a", False)
    assert a39.max is None
    assert a36.min is not None
    assert (a36.min.value, a36.min.unit, a36.min.inclusive) == (1, "a", True)
    sixteen = 16 * 365 + 4
    assert not a39.admits(15 * 365 + 100)
    assert a39.admits(sixteen)
    assert completed_years(365) == 0
    assert completed_years(366) == 1


def test_not_main_and_asterisk_rules(db: icd10.Icd10) -> None:
    main = {v.rule for v in db.check_diagnosis("G01", "male", 40 * 365, is_main=True)}
    assert main == {"not-main", "asterisk-without-dagger"}
    # A1 pairs A01.0† (typhoid) with G01*: with its dagger beside it only nothing is wrong
    assert db.check_diagnosis("G01", "male", 40 * 365, is_main=False, other_codes=["A01.0"]) == []
    assert [v.rule for v in db.check_diagnosis("G01", "male", 40 * 365, False, ["J18.9"])] == [
        "asterisk-without-dagger"
    ]
    assert [v.rule for v in db.check_diagnosis("B95.0", "male", 40 * 365, True)] == ["not-main"]
    assert db.check_diagnosis("J18.9", "male", 40 * 365, True) == []


def test_unknown_code_and_encounter_check(db: icd10.Icd10) -> None:
    assert [v.rule for v in db.check_diagnosis("X99.99", "male", 1000, True)] == ["unknown-code"]
    found = db.check_diagnoses("A01.0", ["G01"], "male", 40 * 365)
    assert found == []
    found = db.check_diagnoses("G01", ["A01.0"], "male", 40 * 365)
    assert [v.rule for v in found] == ["not-main"]
