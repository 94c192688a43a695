"""Columns of the facility catalogues and the parsing of one cell, with bilingual error messages.

Column names are the BHXH element names of XML2 (drugs) and XML3 (services, supplies) of Decision
130/QĐ-BYT as amended by 4750/QĐ-BYT, with their maximum lengths; the extra columns benhan needs for
prescribing checks (maximum doses, contraindicated sex, minimum age) are optional.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Literal

from benhan.kernel.text import fold

__all__ = ["DRUG_COLUMNS", "SERVICE_COLUMNS", "SUPPLY_COLUMNS", "CellError", "Column", "parse_cell"]

CellKind = Literal["code", "text", "decimal", "int", "sex"]
CellValue = str | Decimal | int | None


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    required: bool
    kind: CellKind
    max_len: int | None = None
    aliases: tuple[str, ...] = ()


class CellError(ValueError):
    def __init__(self, message_vi: str, message_en: str) -> None:
        super().__init__(message_en)
        self.message_vi = message_vi
        self.message_en = message_en


# QĐ 130/4750 XML2 (Chi tiết thuốc): MA_THUOC 255, TEN_THUOC 1024, DON_VI_TINH 50, HAM_LUONG 1024,
# DUONG_DUNG 4, DANG_BAO_CHE 1024, SO_DANG_KY 255, MA_NHOM 2 digits; price = DON_GIA (the brief's GIA).
DRUG_COLUMNS = (
    Column("MA_THUOC", True, "code", 255),
    Column("TEN_HOAT_CHAT", True, "text", 1024),
    Column("TEN_THUOC", True, "text", 1024),
    Column("DON_VI_TINH", True, "text", 50),
    Column("HAM_LUONG", True, "text", 1024),
    Column("DUONG_DUNG", True, "code", 4),
    Column("DON_GIA", True, "decimal", aliases=("GIA",)),
    Column("TEN_DUONG_DUNG", False, "text", 255),
    Column("DANG_BAO_CHE", False, "text", 1024),
    Column("SO_DANG_KY", False, "text", 255),
    Column("MA_NHOM", False, "int"),
    Column("LIEU_TOI_DA_LAN", False, "decimal"),
    Column("LIEU_TOI_DA_NGAY", False, "decimal"),
    Column("DON_VI_LIEU", False, "text", 20),
    Column("CHONG_CHI_DINH_GIOI", False, "sex"),
    Column("TUOI_TOI_THIEU", False, "decimal"),
)

# XML3 (Chi tiết DVKT và VTYT): MA_DICH_VU 50, TEN_DICH_VU 1024, DON_VI_TINH 50, MA_PTTT_QT 255.
SERVICE_COLUMNS = (
    Column("MA_DICH_VU", True, "code", 50),
    Column("TEN_DICH_VU", True, "text", 1024),
    Column("DON_GIA", True, "decimal", aliases=("GIA", "DON_GIA_BV")),
    Column("DON_VI_TINH", False, "text", 50),
    Column("MA_NHOM", False, "int"),
    Column("MA_PTTT_QT", False, "text", 255),
)

# XML3: MA_VAT_TU 255, TEN_VAT_TU 1024, DON_VI_TINH 50, MA_HIEU_SP 255.
SUPPLY_COLUMNS = (
    Column("MA_VAT_TU", True, "code", 255),
    Column("TEN_VAT_TU", True, "text", 1024),
    Column("DON_VI_TINH", True, "text", 50),
    Column("DON_GIA", True, "decimal", aliases=("GIA", "DON_GIA_BV")),
    Column("MA_NHOM", False, "int"),
    Column("MA_HIEU_SP", False, "text", 255),
)

# GIOI_TINH in QĐ 130 XML1: 1 = nam (male), 2 = nữ (female).
_SEX = {
    "1": "male",
    "nam": "male",
    "male": "male",
    "m": "male",
    "2": "female",
    "nu": "female",
    "female": "female",
    "f": "female",
}


def _as_text(raw: object) -> str:
    if raw is None:
        return ""
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))  # Excel stores "123" typed as a number as 123.0
    return str(raw).strip()


def _decimal(text: str, raw: object) -> Decimal:
    try:
        value = Decimal(str(raw)) if isinstance(raw, int | float) else Decimal(text.replace(" ", ""))
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite() or "," in text:
        # QĐ 130/4750 §data types: the decimal separator is a point; "1.234,5" is refused, not guessed.
        raise CellError("Không phải số hợp lệ (dùng dấu chấm thập phân)", "Not a valid number (use a decimal point)")
    if value < 0:
        raise CellError("Không được là số âm", "Must not be negative")
    return value


def parse_cell(column: Column, raw: object) -> CellValue:
    """Parsed value of one cell (None when empty and optional); raises :class:`CellError`."""
    text = _as_text(raw)
    if not text:
        if column.required:
            raise CellError("Thiếu giá trị bắt buộc", "Required value is missing")
        return None
    if column.max_len is not None and len(text) > column.max_len:
        raise CellError(f"Dài quá {column.max_len} ký tự", f"Longer than {column.max_len} characters")
    if column.kind == "code" and any(ch.isspace() for ch in text):
        raise CellError("Mã không được chứa khoảng trắng", "A code must not contain spaces")
    if column.kind == "decimal":
        return _decimal(text, raw)
    if column.kind == "int":
        value = _decimal(text, raw)
        if value != value.to_integral_value():
            raise CellError("Phải là số nguyên", "Must be a whole number")
        return int(value)
    if column.kind == "sex":
        sex = _SEX.get(fold(text))
        if sex is None:
            raise CellError("Giới tính phải là 1/nam hoặc 2/nữ", "Sex must be 1/male or 2/female")
        return sex
    return text
