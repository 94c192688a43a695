"""CCCD QR parser: the documented format, its variants, scanner artefacts and garbage."""

from __future__ import annotations

import unicodedata
from datetime import date

import pytest

from benhan.clinical.cccd_qr import CccdQrError, century_sex_digit, parse_cccd_qr, split_vietnamese_name

# vietnam-regulations.md §5 example, with a 1990 male from Hà Nội (001, digit 0, year 90).
STANDARD = "001090123456|012345678|Nguyễn Văn An|01011990|Nam|Phường Bến Nghé, Quận 1, TP. Hồ Chí Minh|15042021"


def test_standard_seven_fields() -> None:
    data = parse_cccd_qr(STANDARD)
    assert data.cccd == "001090123456"
    assert data.old_id == "012345678"
    assert (data.family_name, data.middle_name, data.given_name) == ("Nguyễn", "Văn", "An")
    assert data.full_name == "Nguyễn Văn An"
    assert data.birth_date == date(1990, 1, 1)
    assert data.sex == "male"
    assert data.address == "Phường Bến Nghé, Quận 1, TP. Hồ Chí Minh"
    assert data.issue_date == date(2021, 4, 15)
    assert data.extra_fields == ()
    assert data.warnings == ()


def test_empty_old_id() -> None:
    data = parse_cccd_qr("096195001234||Trần Thị Bích Ngọc|05031995|Nữ|Cà Mau|01072022")
    assert data.old_id is None
    assert data.sex == "female"
    assert (data.family_name, data.middle_name, data.given_name) == ("Trần", "Thị Bích", "Ngọc")


def test_six_fields_without_old_id_slot() -> None:
    data = parse_cccd_qr("096195001234|Trần Thị Bích Ngọc|05031995|Nữ|Cà Mau|01072022")
    assert data.cccd == "096195001234"
    assert data.old_id is None
    assert data.issue_date == date(2022, 7, 1)


def test_extra_trailing_fields_are_kept() -> None:
    data = parse_cccd_qr(STANDARD + "|Kinh|Không|")
    assert data.extra_fields == ("Kinh", "Không")
    assert data.issue_date == date(2021, 4, 15)


def test_nine_digit_cmnd_only() -> None:
    data = parse_cccd_qr("381234567||Lê Văn Tám|02021975|Nam|Cà Mau|01012015")
    assert data.cccd is None
    assert data.old_id == "381234567"


def test_twelve_digit_old_id_accepted() -> None:
    assert parse_cccd_qr(STANDARD.replace("|012345678|", "|012345678901|")).old_id == "012345678901"


def test_slash_dates_and_missing_issue_date() -> None:
    data = parse_cccd_qr("001090123456|012345678|Nguyễn Văn An|01/01/1990|Nam|Hà Nội")
    assert data.birth_date == date(1990, 1, 1)
    assert data.issue_date is None


@pytest.mark.parametrize(
    "noisy",
    [
        STANDARD + "\r\n",
        "\r\n" + STANDARD + "\n",
        "\ufeff" + STANDARD,
        "]Q1" + STANDARD,
        STANDARD.replace("|", " | "),
        STANDARD.replace("|Nam|", "|Nam\r\n|"),
        STANDARD.replace("|", "｜"),
        STANDARD.replace("Nguyễn", "Nguy\u200bễn").replace("An|", "An\x00|"),
        unicodedata.normalize("NFD", STANDARD),
        STANDARD.replace("|", "\r\n"),  # one field per line, no pipes
        STANDARD + "|",
    ],
)
def test_scanner_artefacts(noisy: str) -> None:
    assert parse_cccd_qr(noisy) == parse_cccd_qr(STANDARD)


def test_capitals_are_title_cased() -> None:
    data = parse_cccd_qr(STANDARD.replace("Nguyễn Văn An", "NGUYỄN VĂN AN"))
    assert data.full_name == "Nguyễn Văn An"


@pytest.mark.parametrize("sex", ["Nam", "nam", "NAM", "Male"])
def test_male_spellings(sex: str) -> None:
    assert parse_cccd_qr(STANDARD.replace("|Nam|", f"|{sex}|")).sex == "male"


@pytest.mark.parametrize("sex", ["Nữ", "NỮ", "nu", "Nu"])
def test_female_spellings(sex: str) -> None:
    female = "001190123456|012345678|Nguyễn Thị An|01011990|Nữ|Hà Nội|15042021"
    assert parse_cccd_qr(female.replace("|Nữ|", f"|{sex}|")).sex == "female"


def test_unreadable_characters_warn() -> None:
    data = parse_cccd_qr(STANDARD.replace("Nguyễn", "Nguy?n"))
    assert [w.field for w in data.warnings] == ["full_name"]
    assert "scanner" in data.warnings[0].message_en


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("", "text"),
        ("   \r\n", "text"),
        ("hello world", "text"),
        ("https://example.org/qr", "text"),
        ("001090123456|012345678|Nguyễn Văn An", "text"),
        ("00109012345|012345678|Nguyễn Văn An|01011990|Nam|Hà Nội|15042021", "cccd"),
        ("00109012345X|012345678|Nguyễn Văn An|01011990|Nam|Hà Nội|15042021", "cccd"),
        ("001090123456|01234|Nguyễn Văn An|01011990|Nam|Hà Nội|15042021", "old_id"),
        ("001090123456|012345678|Nguyễn Văn An|1990-01-01|Nam|Hà Nội|15042021", "birth_date"),
        ("001090123456|012345678|Nguyễn Văn An|31021990|Nam|Hà Nội|15042021", "birth_date"),
        ("001090123456|012345678|Nguyễn Văn An|1011990|Nam|Hà Nội|15042021", "birth_date"),
        ("001090123456|012345678|Nguyễn Văn An|01011990|X|Hà Nội|15042021", "sex"),
        ("001090123456|012345678|Nguyễn Văn An|01011990|Nam|Hà Nội|99999999", "issue_date"),
        ("001090123456|012345678|Nguyễn Văn An|01011990|Nam|Hà Nội|01011980", "issue_date"),
        ("001090123456|012345678| |01011990|Nam|Hà Nội|15042021", "full_name"),
        ("001090123456|012345678|Nguyễn 2 An|01011990|Nam|Hà Nội|15042021", "full_name"),
    ],
)
def test_garbage_names_the_field(text: str, field: str) -> None:
    with pytest.raises(CccdQrError) as info:
        parse_cccd_qr(text)
    assert info.value.field == field
    assert info.value.message_vi
    assert info.value.message_en
    assert info.value.message_vi != info.value.message_en


@pytest.mark.parametrize("province", ["000", "003", "097", "099", "100"])
def test_unknown_province_code(province: str) -> None:
    with pytest.raises(CccdQrError, match="Province code") as info:
        parse_cccd_qr(STANDARD.replace("001090", f"{province}090"))
    assert info.value.field == "cccd"


def test_province_bounds_accepted() -> None:
    assert parse_cccd_qr(STANDARD.replace("001090", "096090")).cccd == "096090123456"


def test_sex_digit_must_match() -> None:
    with pytest.raises(CccdQrError, match="digit 4") as info:
        parse_cccd_qr(STANDARD.replace("001090", "001190"))  # digit 1 = female, card says Nam
    assert info.value.field == "cccd"


def test_century_digit_must_match() -> None:
    with pytest.raises(CccdQrError, match="digit 4"):
        parse_cccd_qr(STANDARD.replace("001090", "001290"))  # digit 2 = born 2000-2099


def test_birth_year_digits_must_match() -> None:
    with pytest.raises(CccdQrError, match="digits 5"):
        parse_cccd_qr(STANDARD.replace("001090", "001091"))


def test_twenty_first_century_woman() -> None:
    data = parse_cccd_qr("096305123456||Võ Ngọc Hân|14022005|Nữ|Cà Mau|01032021")
    assert data.birth_date.year == 2005
    assert data.sex == "female"


def test_future_dates_refused_when_today_given() -> None:
    with pytest.raises(CccdQrError) as info:
        parse_cccd_qr(STANDARD, today=date(2021, 4, 14))
    assert info.value.field == "issue_date"
    assert parse_cccd_qr(STANDARD, today=date(2021, 4, 15)).issue_date == date(2021, 4, 15)


@pytest.mark.parametrize(
    ("year", "sex", "digit"),
    [(1900, "male", 0), (1999, "female", 1), (2000, "male", 2), (2099, "female", 3), (2100, "male", 4),
     (2399, "female", 9)],
)  # fmt: skip
def test_century_sex_digit(year: int, sex: str, digit: int) -> None:
    assert century_sex_digit(year, sex) == digit  # type: ignore[arg-type]


@pytest.mark.parametrize("year", [1899, 2400])
def test_century_sex_digit_out_of_range(year: int) -> None:
    with pytest.raises(CccdQrError):
        century_sex_digit(year, "male")


@pytest.mark.parametrize(
    ("name", "parts"),
    [("Nguyễn Văn An", ("Nguyễn", "Văn", "An")), ("Lê Na", ("Lê", "", "Na")), ("Hùng", ("", "", "Hùng")),
     ("Tôn Nữ Thị Ngọc Hà", ("Tôn", "Nữ Thị Ngọc", "Hà"))],
)  # fmt: skip
def test_split_vietnamese_name(name: str, parts: tuple[str, str, str]) -> None:
    assert split_vietnamese_name(name) == parts


def test_error_message_is_bilingual() -> None:
    with pytest.raises(CccdQrError) as info:
        parse_cccd_qr("001090123456|012345678|Nguyễn Văn An|01011990|X|Hà Nội|15042021")
    assert str(info.value) == f"{info.value.message_vi} / {info.value.message_en}"
    assert "Giới tính" in info.value.message_vi
    assert "Sex" in info.value.message_en
