"""Parse the text of the QR code printed on the chip citizen-identity card (CCCD).

Format (``vietnam-regulations.md`` §5, reverse-engineered, no official spec): plain text, ``|``-separated,
seven fields::

    CCCD (12 digits) | old CMND (9 digits, may be empty) | full name | birth date ddmmyyyy
    | sex ("Nam"/"Nữ") | permanent address | issue date ddmmyyyy

Variants accepted (same section: "handle both 6 and 7 fields, empty old-ID, and dd/mm/yyyy"):
six fields without the old-ID slot, extra trailing fields (newer cards), a 9-digit CMND alone in the
first slot, dates written ``dd/mm/yyyy``, and what USB/Bluetooth "keyboard wedge" scanners add:
CR/LF/TAB, a BOM, zero-width or control characters, an AIM symbology prefix (``]Q1``), fullwidth
pipes, decomposed Unicode, and one field per line instead of pipes.

The CCCD number itself is checked against its structure (Decree 137/2015/NĐ-CP Art. 13;
Circular 07/2016/TT-BCA Art. 7, carried over by Circular 59/2021/TT-BCA): province code (3 digits,
001–096, see ``vn_provinces``), a century/sex digit, the last two digits of the birth year, then six
digits. The century/sex digit is 0/1 for men/women born 1900–1999, 2/3 for 2000–2099, 4/5 for
2100–2199 and so on. Pure code: text in, :class:`CccdQrData` out, or :class:`CccdQrError`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Literal

from benhan.clinical.vn_provinces import CCCD_PROVINCE_CODES

AdministrativeGender = Literal["male", "female"]
"""FHIR R4 ``administrative-gender`` codes a CCCD can carry (the card prints only Nam / Nữ)."""

CccdField = Literal["text", "cccd", "old_id", "full_name", "birth_date", "sex", "address", "issue_date"]


class CccdQrError(ValueError):
    """A QR text that cannot fill the registration form; names the field at fault."""

    def __init__(self, field: CccdField, message_vi: str, message_en: str) -> None:
        super().__init__(f"{message_vi} / {message_en}")
        self.field: CccdField = field
        self.message_vi = message_vi
        self.message_en = message_en


@dataclass(frozen=True, slots=True)
class QrWarning:
    """Something the receptionist should double-check; the data are still usable."""

    field: CccdField
    message_vi: str
    message_en: str


@dataclass(frozen=True, slots=True)
class CccdQrData:
    """The fields of a CCCD QR code, checked and typed."""

    cccd: str | None
    """12-digit CCCD number; ``None`` when the code carries only an old 9-digit CMND."""
    old_id: str | None
    """Old CMND number (9 digits, or 12 for the 2012–2016 CMND), ``None`` when absent."""
    full_name: str
    family_name: str
    middle_name: str
    given_name: str
    birth_date: date
    sex: AdministrativeGender
    address: str
    issue_date: date | None
    extra_fields: tuple[str, ...] = ()
    warnings: tuple[QrWarning, ...] = ()


# Wedge scanners and copy/paste add these; none can be part of a real field.
_INVISIBLE = dict.fromkeys(map(ord, "\ufeff\u200b\u200c\u200d\u2060\x00"), None)
_PIPES = str.maketrans({"｜": "|", "¦": "|", "\u2502": "|"})
_AIM_PREFIX = re.compile(r"^\][A-Za-z][0-9A-Za-z]")  # ISO/IEC 15424 symbology identifier, e.g. "]Q1"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_DATE_PLAIN = re.compile(r"^(\d{2})(\d{2})(\d{4})$")  # ddmmyyyy, the documented form
_DATE_SEP = re.compile(r"^(\d{1,2})([/.\-])(\d{1,2})\2(\d{4})$")  # dd/mm/yyyy variant (§5)
_SEX = {
    "nam": "male",
    "male": "male",
    "m": "male",
    "nu": "female",
    "nữ": "female",
    "female": "female",
    "f": "female",
}


def parse_cccd_qr(text: str, *, today: date | None = None) -> CccdQrData:
    """Parse CCCD QR text. ``today`` (if given) rejects birth and issue dates in the future."""
    fields = _split_fields(_clean(text))
    ident, old_id, rest = _take_identity(fields)
    if len(rest) < 4:
        raise CccdQrError(
            "text",
            f"Mã QR thiếu thông tin: cần ít nhất 6 trường, chỉ có {len(fields)}.",
            f"Incomplete QR code: at least 6 fields expected, got {len(fields)}.",
        )
    name_raw, birth_raw, sex_raw, address = rest[0], rest[1], rest[2], rest[3]
    issue_raw = rest[4] if len(rest) > 4 else ""
    extra = tuple(rest[5:])
    birth = _parse_date(birth_raw, "birth_date")
    issue = _parse_date(issue_raw, "issue_date") if issue_raw else None
    sex = _parse_sex(sex_raw)
    cccd = _check_cccd(ident, birth, sex) if len(ident) == 12 else None
    if cccd is None:
        old_id = ident  # a 9-digit CMND alone in the first slot
    _check_dates(birth, issue, today)
    full_name, warnings = _clean_name(name_raw)
    family, middle, given = split_vietnamese_name(full_name)
    if not address.strip():
        warnings += (QrWarning("address", "Mã QR không có địa chỉ.", "The QR code has no address."),)
    return CccdQrData(
        cccd=cccd,
        old_id=old_id or None,
        full_name=full_name,
        family_name=family,
        middle_name=middle,
        given_name=given,
        birth_date=birth,
        sex=sex,
        address=" ".join(address.split()),
        issue_date=issue,
        extra_fields=extra,
        warnings=warnings,
    )


def _clean(text: str) -> str:
    if not isinstance(text, str) or not text.strip():
        raise CccdQrError("text", "Mã QR trống.", "The QR code is empty.")
    # NFC: scanners and some OS input methods deliver decomposed diacritics (NFD).
    cleaned = unicodedata.normalize("NFC", text).translate(_INVISIBLE).translate(_PIPES)
    cleaned = cleaned.replace("\u00a0", " ").strip()
    cleaned = _AIM_PREFIX.sub("", cleaned)
    return _CONTROL.sub("", cleaned).strip()


def _split_fields(text: str) -> list[str]:
    if "|" in text:
        # CR/LF/TAB inside a pipe-separated text are scanner line breaks, not data.
        parts = [" ".join(p.split()) for p in text.split("|")]
    else:
        # Some wedge scanners are configured to send each field on its own line.
        parts = [" ".join(p.split()) for p in re.split(r"\r\n|\r|\n|\t", text)]
    while parts and not parts[-1]:
        parts.pop()  # a trailing separator (or Enter key) is not a field
    if len(parts) < 2:
        raise CccdQrError(
            "text",
            "Không phải mã QR của CCCD (không có dấu phân cách '|').",
            "Not a CCCD QR code (no '|' separators).",
        )
    return parts


def _take_identity(fields: list[str]) -> tuple[str, str, list[str]]:
    """Return (id number, old id, the remaining fields from the full name on)."""
    ident = fields[0].replace(" ", "")
    if not ident.isdigit() or len(ident) not in (9, 12):
        raise CccdQrError(
            "cccd",
            f"Số CCCD phải gồm 12 chữ số (hoặc CMND 9 chữ số), nhận được '{fields[0]}'.",
            f"The CCCD number must have 12 digits (or a 9-digit CMND), got '{fields[0]}'.",
        )
    second = fields[1].replace(" ", "")
    if second == "" or second.isdigit():
        if second and len(second) not in (9, 12):
            raise CccdQrError(
                "old_id",
                f"Số CMND cũ phải gồm 9 hoặc 12 chữ số, nhận được '{fields[1]}'.",
                f"The old CMND number must have 9 or 12 digits, got '{fields[1]}'.",
            )
        return ident, second, fields[2:]
    # Six-field variant: no old-ID slot, the name follows the number directly.
    return ident, "", fields[1:]


def _check_cccd(cccd: str, birth: date, sex: AdministrativeGender) -> str:
    """Structure rules of Circular 07/2016/TT-BCA Art. 7 (see module docstring)."""
    if cccd[:3] not in CCCD_PROVINCE_CODES:
        raise CccdQrError(
            "cccd",
            f"Mã tỉnh '{cccd[:3]}' trong số CCCD không hợp lệ (001–096).",
            f"Province code '{cccd[:3]}' in the CCCD number is not valid (001–096).",
        )
    expected = century_sex_digit(birth.year, sex)
    if int(cccd[3]) != expected:
        raise CccdQrError(
            "cccd",
            f"Chữ số thứ 4 của CCCD ({cccd[3]}) không khớp giới tính và thế kỷ sinh (cần {expected}).",
            f"CCCD digit 4 ({cccd[3]}) does not match sex and birth century (expected {expected}).",
        )
    if cccd[4:6] != f"{birth.year % 100:02d}":
        raise CccdQrError(
            "cccd",
            f"Chữ số 5–6 của CCCD ({cccd[4:6]}) không khớp năm sinh {birth.year}.",
            f"CCCD digits 5–6 ({cccd[4:6]}) do not match birth year {birth.year}.",
        )
    return cccd


def century_sex_digit(year: int, sex: AdministrativeGender) -> int:
    """The 4th CCCD digit: 0/1 for men/women born in the 1900s, 2/3 in the 2000s … 8/9 in the 2300s."""
    century = year // 100 - 19
    if not 0 <= century <= 4:
        raise CccdQrError(
            "birth_date",
            f"Năm sinh {year} nằm ngoài phạm vi mã hoá của CCCD (1900–2399).",
            f"Birth year {year} is outside the CCCD encoding range (1900–2399).",
        )
    return century * 2 + (1 if sex == "female" else 0)


def _parse_date(raw: str, field: Literal["birth_date", "issue_date"]) -> date:
    label_vi, label_en = ("Ngày sinh", "Birth date") if field == "birth_date" else ("Ngày cấp", "Issue date")
    compact = raw.replace(" ", "")
    plain, separated = _DATE_PLAIN.match(compact), _DATE_SEP.match(compact)
    if plain is not None:
        day, month, year = (int(g) for g in plain.groups())
    elif separated is not None:
        day, month, year = int(separated[1]), int(separated[3]), int(separated[4])
    else:
        raise CccdQrError(
            field,
            f"{label_vi} '{raw}' không đúng dạng ddmmyyyy.",
            f"{label_en} '{raw}' is not in ddmmyyyy form.",
        )
    try:
        return date(year, month, day)
    except ValueError:
        raise CccdQrError(
            field, f"{label_vi} '{raw}' không tồn tại.", f"{label_en} '{raw}' is not a real date."
        ) from None


def _check_dates(birth: date, issue: date | None, today: date | None) -> None:
    if today is not None and birth > today:
        raise CccdQrError("birth_date", "Ngày sinh ở tương lai.", "The birth date is in the future.")
    if issue is not None and issue < birth:
        raise CccdQrError("issue_date", "Ngày cấp trước ngày sinh.", "The issue date is before the birth date.")
    if issue is not None and today is not None and issue > today:
        raise CccdQrError("issue_date", "Ngày cấp ở tương lai.", "The issue date is in the future.")


def _parse_sex(raw: str) -> AdministrativeGender:
    key = raw.strip().casefold()
    sex = _SEX.get(key) or _SEX.get(_strip_marks(key))
    if sex == "male":
        return "male"
    if sex == "female":
        return "female"
    raise CccdQrError(
        "sex",
        f"Giới tính '{raw}' không hợp lệ (cần 'Nam' hoặc 'Nữ').",
        f"Sex '{raw}' is not valid ('Nam' or 'Nữ' expected).",
    )


def _strip_marks(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn")


def _clean_name(raw: str) -> tuple[str, tuple[QrWarning, ...]]:
    name = " ".join(raw.split())
    if not name or not any(c.isalpha() for c in name):
        raise CccdQrError("full_name", "Mã QR không có họ tên.", "The QR code has no full name.")
    if any(c.isdigit() for c in name):
        raise CccdQrError("full_name", f"Họ tên '{name}' chứa chữ số.", f"The full name '{name}' contains digits.")
    warnings: tuple[QrWarning, ...] = ()
    if "?" in name or "\ufffd" in name:
        # A wedge scanner in a non-Unicode keyboard mode cannot type Vietnamese letters.
        warnings = (
            QrWarning(
                "full_name",
                "Họ tên có ký tự không đọc được: kiểm tra chế độ bàn phím của máy quét và sửa tay.",
                "The name has unreadable characters: check the scanner keyboard mode and correct by hand.",
            ),
        )
    if name.isupper():
        name = name.title()  # older QR codes print names in capitals
    return name, warnings


def split_vietnamese_name(full_name: str) -> tuple[str, str, str]:
    """Split "Nguyễn Văn An" into (family, middle, given) in Vietnamese order.

    The first word is the family name, the last the given name, the rest the middle name. Compound
    family names (e.g. "Tôn Nữ") cannot be told from a middle name by rule; they land in the middle
    name, which still round-trips to the same full name.
    """
    words = full_name.split()
    if not words:
        raise CccdQrError("full_name", "Họ tên trống.", "The full name is empty.")
    if len(words) == 1:
        return "", "", words[0]
    return words[0], " ".join(words[1:-1]), words[-1]
