"""BHYT card: number structure, validity dates, benefit level → co-payment, MA_DKBD format."""

from __future__ import annotations

from datetime import date

import pytest

from benhan.clinical.bhyt_card import (
    BENEFICIARY_GROUPS,
    check_bhyt_card,
    check_facility_code,
    check_validity,
    copayment_percent,
    normalize_card_number,
    parse_bhyt_number,
    parse_card_date,
)

GOOD = "HS4960123456789"  # pupil, level 4, Cà Mau (96), BHXH number 0123456789


def test_good_number_is_split_into_its_parts() -> None:
    check = parse_bhyt_number(GOOD)
    assert check.ok
    assert check.errors == ()
    assert check.warnings == ()
    assert check.card is not None
    assert (check.card.group, check.card.benefit_level, check.card.province, check.card.bhxh_number) == (
        "HS", 4, "96", "0123456789")  # fmt: skip
    assert check.card.copayment_percent == 20


@pytest.mark.parametrize("typed", ["hs4960123456789", "HS 4 96 0123456789", "HS-4-96-0123456789", " HS4960123456789\n"])
def test_typing_variants_are_normalised(typed: str) -> None:
    assert normalize_card_number(typed) == GOOD
    assert parse_bhyt_number(typed).ok


@pytest.mark.parametrize(("text", "length"), [("", 0), ("HS496012345678", 14), ("HS49601234567890", 16)])
def test_wrong_length(text: str, length: int) -> None:
    check = parse_bhyt_number(text)
    assert not check.ok
    assert check.card is None
    assert [e.field for e in check.errors] == ["number"]
    assert f"({length})" in check.errors[0].message_en or f"got {length}" in check.errors[0].message_en


def test_every_bad_field_is_reported_at_once() -> None:
    check = parse_bhyt_number("ZZ9000123ABC789")
    assert {e.field for e in check.errors} == {"group", "benefit_level", "province", "bhxh_number"}
    assert all(e.message_vi and e.message_en for e in check.errors)


@pytest.mark.parametrize("level", ["0", "6", "9", "X"])
def test_benefit_level_outside_1_to_5(level: str) -> None:
    check = parse_bhyt_number(f"HS{level}960123456789")
    assert [e.field for e in check.errors] == ["benefit_level"]


@pytest.mark.parametrize("level", ["1", "5"])
def test_benefit_level_bounds_are_valid(level: str) -> None:
    check = parse_bhyt_number(f"HS{level}960123456789")
    assert check.ok  # a level other than the usual one is only a warning
    assert [w.field for w in check.warnings] == ["benefit_level"]


@pytest.mark.parametrize("province", ["00", "03", "99", "AB"])
def test_bad_province(province: str) -> None:
    assert [e.field for e in parse_bhyt_number(f"HS4{province}0123456789").errors] == ["province"]


def test_defence_and_police_provinces_are_accepted_with_a_warning() -> None:
    check = parse_bhyt_number("QN5970123456789")
    assert check.ok
    assert [w.field for w in check.warnings] == ["province"]


def test_groups_named_in_the_regulations_doc_are_known() -> None:
    # QĐ 4750 appendix (MA_THE_BHYT) names these groups explicitly.
    assert {"QN", "HC", "LS", "XK", "CY", "CA"} <= BENEFICIARY_GROUPS.keys()
    assert all(len(code) == 2 and code.isalpha() and code.isupper() for code in BENEFICIARY_GROUPS)
    assert all(1 <= g.usual_level <= 5 for g in BENEFICIARY_GROUPS.values())


@pytest.mark.parametrize(("level", "copay"), [(1, 0), (2, 0), (3, 5), (4, 20), (5, 0)])
def test_copayment(level: int, copay: int) -> None:
    assert copayment_percent(level) == copay
    # QĐ 4750 MUC_HUONG: a correct-route visit is paid at 80, 95 or 100 %.
    assert 100 - copay in (80, 95, 100)


@pytest.mark.parametrize("level", [0, 6])
def test_copayment_unknown_level(level: int) -> None:
    with pytest.raises(ValueError, match="1-5"):
        copayment_percent(level)


FROM, TO = date(2025, 1, 1), date(2025, 12, 31)


@pytest.mark.parametrize(
    ("on", "fields"),
    [(date(2024, 12, 31), ["valid_from"]), (FROM, []), (date(2025, 6, 1), []), (TO, []),
     (date(2026, 1, 1), ["valid_to"])],
)  # fmt: skip
def test_validity_boundaries_are_inclusive(on: date, fields: list[str]) -> None:
    assert [e.field for e in check_validity(FROM, TO, on)] == fields


def test_expired_message_names_the_date() -> None:
    (error,) = check_validity(FROM, TO, date(2026, 1, 1))
    assert "31/12/2025" in error.message_vi
    assert "expired" in error.message_en


def test_validity_missing_or_inverted() -> None:
    assert [e.field for e in check_validity(None, None, FROM)] == ["valid_from", "valid_to"]
    assert [e.field for e in check_validity(TO, FROM, FROM)] == ["valid_to"]


@pytest.mark.parametrize(("text", "expected"), [("20250101", FROM), ("31/12/2025", TO), ("31-12-2025", TO)])
def test_card_dates(text: str, expected: date) -> None:
    assert parse_card_date(text) == expected


@pytest.mark.parametrize("text", ["", "2025-01-01x", "32/01/2025", "20251301"])
def test_bad_card_dates(text: str) -> None:
    with pytest.raises(ValueError, match="card date"):
        parse_card_date(text)


@pytest.mark.parametrize("code", ["96001", "01000", "79123"])
def test_facility_code_ok(code: str) -> None:
    assert check_facility_code(code) == ()


@pytest.mark.parametrize("code", ["9600", "960011", "96A01", "", "00001", "99123"])
def test_facility_code_bad(code: str) -> None:
    assert [e.field for e in check_facility_code(code)] == ["facility"]


def test_full_check_collects_all_fields() -> None:
    check = check_bhyt_card("XX4960123456789", valid_from=FROM, valid_to=TO, facility="960", on=date(2026, 2, 1))
    assert {e.field for e in check.errors} == {"group", "valid_to", "facility"}
    assert not check.ok
    assert check.errors_for("facility")


def test_full_check_ok() -> None:
    check = check_bhyt_card(GOOD, valid_from=FROM, valid_to=TO, facility="96001", on=date(2025, 3, 1))
    assert check.ok
    assert check.card is not None
    assert check.card.benefit.coverage_percent == 80
