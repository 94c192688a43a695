"""Local checks of a health-insurance (BHYT) card: number, validity dates, benefit level, facility code.

Card number, 15 characters (``vietnam-regulations.md`` §4.1; BHXH result codes 051–053 name the parts):
``GG L PP NNNNNNNNNN``, the beneficiary group (2 letters), the benefit level (char 3, 1–5), the
province code (chars 4–5) and the 10-digit BHXH number.

Sources beyond the regulations doc, marked [SECONDARY] because that doc does not list them:

- Beneficiary-group codes and what each benefit-level digit pays: Decision 1351/QĐ-BHXH (16/11/2015)
  "mã số ghi trên thẻ BHYT", as commonly reproduced by HIS vendors. The doc confirms part of it: the
  groups QN, HC, LS, XK, CY, CA (QĐ 4750 appendix, MA_THE_BHYT) and the only levels a correct-route
  visit may claim, 80, 95 or 100 % (QĐ 4750 appendix, XML2/XML3 ``MUC_HUONG``).
- Province codes 97/98 (cards issued by BHXH of the Ministry of Defence / of Public Security) are
  accepted but flagged uncertain; all other province codes follow ``vn_provinces``.

``MA_DKBD`` (registered first-contact facility) is 5 characters (QĐ 4750 appendix, XML1 field 17 and
Check-in field 9): the 2-digit province code then 3 digits; a temporary card uses "<province>000".
The live BHXH check (``KQNhanLichSuKCB2024``) is the insurance package's job; this module is pure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from benhan.clinical.vn_provinces import PROVINCE_CODES

BhytField = Literal["number", "group", "benefit_level", "province", "bhxh_number", "valid_from", "valid_to", "facility"]


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem with one field, in Vietnamese and English."""

    field: BhytField
    message_vi: str
    message_en: str


@dataclass(frozen=True, slots=True)
class BenefitLevel:
    """What one benefit-level digit means (QĐ 1351/QĐ-BHXH [SECONDARY])."""

    coverage_percent: int
    note_vi: str
    note_en: str

    @property
    def copayment_percent(self) -> int:
        """Share the patient pays within the insured scope on a correct-route visit."""
        return 100 - self.coverage_percent


BENEFIT_LEVELS: dict[int, BenefitLevel] = {
    1: BenefitLevel(
        100,
        "100%, không giới hạn tỷ lệ thanh toán DVKT cao, chi phí lớn; cả chi phí vận chuyển",
        "100 %, no cap on high-cost services; transport included",
    ),
    2: BenefitLevel(
        100,
        "100%, có giới hạn tỷ lệ thanh toán một số thuốc, hoá chất, VTYT, DVKT",
        "100 %, with caps on some drugs, supplies and services",
    ),
    3: BenefitLevel(95, "95% chi phí khám bệnh, chữa bệnh", "95 % of the cost"),
    4: BenefitLevel(80, "80% chi phí khám bệnh, chữa bệnh", "80 % of the cost"),
    5: BenefitLevel(
        100,
        "100%, kể cả chi phí ngoài phạm vi BHYT (quân đội, công an, cơ yếu)",
        "100 %, including costs outside the BHYT scope (army, police, cipher staff)",
    ),
}


@dataclass(frozen=True, slots=True)
class BeneficiaryGroup:
    name_vi: str
    name_en: str
    usual_level: int
    """The level QĐ 1351 pairs with the group; a different level is a warning, not an error."""


def _g(name_vi: str, name_en: str, level: int) -> BeneficiaryGroup:
    return BeneficiaryGroup(name_vi, name_en, level)


BENEFICIARY_GROUPS: dict[str, BeneficiaryGroup] = {
    # Employees and employers pay (QĐ 1351 group 1).
    "DN": _g("Người lao động trong doanh nghiệp", "Employee of an enterprise", 4),
    "HX": _g("Người lao động trong hợp tác xã", "Employee of a cooperative", 4),
    "CH": _g("Người lao động trong cơ quan nhà nước, đơn vị sự nghiệp", "Employee of a state body", 4),
    "NN": _g("Người lao động trong tổ chức nước ngoài, quốc tế", "Employee of a foreign organisation", 4),
    "TK": _g("Người lao động trong tổ chức khác", "Employee of another organisation", 4),
    "HC": _g("Cán bộ, công chức, viên chức", "Civil servant", 4),
    "XK": _g("Người hoạt động không chuyên trách ở xã", "Part-time commune official", 4),
    # Paid by the social-insurance fund (group 2).
    "HT": _g("Người hưởng lương hưu", "Pensioner", 3),
    "TB": _g("Người hưởng trợ cấp tai nạn lao động, bệnh nghề nghiệp", "Occupational-injury allowance", 4),
    "NO": _g("Người lao động nghỉ ốm dài ngày", "Employee on long-term sick leave", 4),
    "CT": _g("Người từ 80 tuổi hưởng trợ cấp tuất", "Survivor allowance, aged 80 or more", 4),
    "XB": _g("Cán bộ xã hưởng trợ cấp BHXH hằng tháng", "Retired commune official", 4),
    "TN": _g("Người hưởng trợ cấp thất nghiệp", "Unemployment benefit", 4),
    "CS": _g("Công nhân cao su nghỉ việc hưởng trợ cấp", "Retired rubber-plantation worker", 4),
    # Paid by the state budget (group 3).
    "QN": _g("Quân nhân", "Serving military", 5),
    "CA": _g("Công an nhân dân", "Serving police", 5),
    "CY": _g("Người làm công tác cơ yếu", "Cipher staff", 5),
    "XN": _g("Cán bộ xã nghỉ việc hưởng trợ cấp từ ngân sách", "Retired commune official (budget)", 4),
    "MS": _g("Người thôi hưởng trợ cấp mất sức lao động", "Former incapacity-allowance recipient", 4),
    "CC": _g("Người có công với cách mạng", "Person with meritorious service", 1),
    "CK": _g("Người có công (nhóm khác)", "Person with meritorious service (other)", 2),
    "CB": _g("Cựu chiến binh", "Veteran", 2),
    "KC": _g("Người tham gia kháng chiến", "Resistance participant", 2),
    "HD": _g("Đại biểu Quốc hội, Hội đồng nhân dân", "Member of the National Assembly or a council", 4),
    "TE": _g("Trẻ em dưới 6 tuổi", "Child under 6", 1),
    "BT": _g("Người hưởng trợ cấp bảo trợ xã hội", "Social-protection allowance", 2),
    "HN": _g("Người thuộc hộ nghèo", "Member of a poor household", 2),
    "DT": _g("Người dân tộc thiểu số vùng khó khăn", "Ethnic minority in a hardship area", 2),
    "DK": _g("Người sống ở vùng đặc biệt khó khăn", "Resident of an extreme-hardship area", 2),
    "XD": _g("Người sống ở xã đảo, huyện đảo", "Resident of an island commune", 2),
    "TS": _g("Thân nhân liệt sĩ", "Relative of a fallen soldier", 2),
    "TC": _g("Thân nhân người có công", "Relative of a person with meritorious service", 3),
    "TQ": _g("Thân nhân quân nhân", "Relative of military staff", 4),
    "TV": _g("Thân nhân công nhân viên quốc phòng", "Relative of defence staff", 4),
    "TA": _g("Thân nhân công an", "Relative of police staff", 4),
    "TY": _g("Thân nhân người làm công tác cơ yếu", "Relative of cipher staff", 4),
    "HG": _g("Người đã hiến bộ phận cơ thể", "Organ donor", 4),
    "LS": _g("Lưu học sinh nước ngoài", "Foreign scholarship student", 4),
    "PV": _g("Người phục vụ người có công", "Carer of a person with meritorious service", 4),
    # Partly supported by the state budget (group 4).
    "CN": _g("Người thuộc hộ cận nghèo", "Member of a near-poor household", 3),
    "HS": _g("Học sinh", "Pupil", 4),
    "SV": _g("Sinh viên", "Student", 4),
    "GB": _g("Hộ gia đình nông, lâm, ngư, diêm nghiệp", "Farming, forestry or fishing household", 4),
    # Households (group 5).
    "GD": _g("Người tham gia theo hộ gia đình", "Household member", 4),
}

# [SECONDARY/UNCERTAIN] Ministry of Defence and Ministry of Public Security social insurance.
_SPECIAL_PROVINCES = {"97", "98"}
_NUMBER = re.compile(r"^[A-Z]{2}[0-9][0-9]{2}[0-9]{10}$")


@dataclass(frozen=True, slots=True)
class BhytCardNumber:
    number: str
    group: str
    benefit_level: int
    province: str
    bhxh_number: str

    @property
    def benefit(self) -> BenefitLevel:
        return BENEFIT_LEVELS[self.benefit_level]

    @property
    def copayment_percent(self) -> int:
        return self.benefit.copayment_percent


@dataclass(frozen=True, slots=True)
class BhytCheck:
    """Result of a local card check: the parsed number (if well-formed) and every problem found."""

    card: BhytCardNumber | None
    errors: tuple[FieldError, ...]
    warnings: tuple[FieldError, ...] = ()

    @property
    def ok(self) -> bool:
        return self.card is not None and not self.errors

    def errors_for(self, field: BhytField) -> tuple[FieldError, ...]:
        return tuple(e for e in self.errors if e.field == field)


def normalize_card_number(text: str) -> str:
    """Upper-case and drop spaces, dashes and dots people type between the groups."""
    return re.sub(r"[\s\-.]", "", text).upper()


def parse_bhyt_number(text: str) -> BhytCheck:
    """Check the 15-character card number field by field; collect all errors (vi + en)."""
    number = normalize_card_number(text)
    if len(number) != 15:
        return BhytCheck(
            None,
            (
                FieldError(
                    "number",
                    f"Mã thẻ BHYT phải có 15 ký tự (nhận {len(number)}).",
                    f"A BHYT card number has 15 characters (got {len(number)}).",
                ),
            ),
        )
    errors = _group_errors(number[:2]) + _level_errors(number[2]) + _province_errors(number[3:5])
    if not number[5:].isdigit():
        errors += (
            FieldError(
                "bhxh_number",
                "Mã số BHXH (10 ký tự cuối) phải là chữ số.",
                "The BHXH number (last 10 characters) must be digits.",
            ),
        )
    if errors or not _NUMBER.match(number):
        return BhytCheck(None, errors)
    card = BhytCardNumber(number, number[:2], int(number[2]), number[3:5], number[5:])
    return BhytCheck(card, (), _consistency_warnings(card))


def _group_errors(group: str) -> tuple[FieldError, ...]:
    if group in BENEFICIARY_GROUPS:
        return ()
    return (
        FieldError(
            "group",
            f"Mã đối tượng '{group}' không có trong danh mục.",
            f"Beneficiary group '{group}' is not in the code list.",
        ),
    )


def _level_errors(level: str) -> tuple[FieldError, ...]:
    if level.isdigit() and int(level) in BENEFIT_LEVELS:
        return ()
    # Same wording as BHXH result code 053 ("sai mã quyền lợi").
    return (
        FieldError(
            "benefit_level",
            f"Mức hưởng (ký tự thứ 3) '{level}' phải từ 1 đến 5.",
            f"Benefit level (3rd character) '{level}' must be 1 to 5.",
        ),
    )


def _province_errors(province: str) -> tuple[FieldError, ...]:
    if province in PROVINCE_CODES or province in _SPECIAL_PROVINCES:
        return ()
    # BHXH result code 052: "sai mã tỉnh (ký tự 4–5)".
    return (
        FieldError(
            "province",
            f"Mã tỉnh (ký tự 4–5) '{province}' không hợp lệ.",
            f"Province code (characters 4–5) '{province}' is not valid.",
        ),
    )


def _consistency_warnings(card: BhytCardNumber) -> tuple[FieldError, ...]:
    warnings: tuple[FieldError, ...] = ()
    usual = BENEFICIARY_GROUPS[card.group].usual_level
    if card.benefit_level != usual:
        warnings += (
            FieldError(
                "benefit_level",
                f"Đối tượng {card.group} thường có mức hưởng {usual}, thẻ ghi {card.benefit_level}.",
                f"Group {card.group} usually has benefit level {usual}, the card says {card.benefit_level}.",
            ),
        )
    if card.province in _SPECIAL_PROVINCES:
        warnings += (
            FieldError(
                "province",
                "Thẻ do BHXH Bộ Quốc phòng/Bộ Công an cấp: tra cứu thẻ.",
                "Card issued by the Defence/Police social insurance: look it up.",
            ),
        )
    return warnings


def parse_card_date(text: str) -> date:
    """Accept ``yyyymmdd`` (QĐ 130 XML, §3.4) and ``dd/mm/yyyy`` (printed card, lookup API, §4.1)."""
    cleaned = text.strip()
    for fmt in ("%Y%m%d", "%d/%m/%Y", "%d-%m-%Y"):
        try:
            return datetime.strptime(cleaned, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"not a card date: {text!r}")


def check_validity(valid_from: date | None, valid_to: date | None, on: date) -> tuple[FieldError, ...]:
    """The card must be valid on ``on`` (both ends inclusive: GT_THE_TU … GT_THE_DEN)."""
    errors: tuple[FieldError, ...] = ()
    if valid_from is None:
        errors += (FieldError("valid_from", "Thiếu ngày bắt đầu giá trị thẻ.", "Missing valid-from date."),)
    if valid_to is None:
        errors += (FieldError("valid_to", "Thiếu ngày hết giá trị thẻ.", "Missing valid-to date."),)
    if valid_from is None or valid_to is None:
        return errors
    if valid_from > valid_to:
        return (FieldError("valid_to", "Ngày hết hạn trước ngày bắt đầu.", "Valid-to is before valid-from."),)
    if on < valid_from:
        return (
            FieldError(
                "valid_from",
                f"Thẻ chưa có giá trị (từ {valid_from:%d/%m/%Y}).",
                f"The card is not valid yet (from {valid_from:%d/%m/%Y}).",
            ),
        )
    if on > valid_to:
        # BHXH result code 010: "thẻ hết giá trị sử dụng".
        return (
            FieldError(
                "valid_to",
                f"Thẻ đã hết hạn ngày {valid_to:%d/%m/%Y}.",
                f"The card expired on {valid_to:%d/%m/%Y}.",
            ),
        )
    return ()


def check_facility_code(code: str) -> tuple[FieldError, ...]:
    """``MA_DKBD``: 5 characters, the 2-digit province code then 3 digits (QĐ 4750, XML1 field 17)."""
    cleaned = code.strip()
    if len(cleaned) != 5 or not cleaned.isdigit():
        return (
            FieldError(
                "facility",
                f"Mã nơi đăng ký KCB ban đầu '{code}' phải gồm 5 chữ số.",
                f"The registered facility code '{code}' must be 5 digits.",
            ),
        )
    if cleaned[:2] not in PROVINCE_CODES and cleaned[:2] not in _SPECIAL_PROVINCES:
        return (
            FieldError(
                "facility",
                f"Mã tỉnh '{cleaned[:2]}' của nơi đăng ký KCB ban đầu không hợp lệ.",
                f"Province code '{cleaned[:2]}' of the registered facility is not valid.",
            ),
        )
    return ()


def check_bhyt_card(
    number: str, *, valid_from: date | None, valid_to: date | None, facility: str, on: date
) -> BhytCheck:
    """Everything reception can check without BHXH: number, dates on ``on``, facility code."""
    parsed = parse_bhyt_number(number)
    errors = parsed.errors + check_validity(valid_from, valid_to, on) + check_facility_code(facility)
    return BhytCheck(parsed.card, errors, parsed.warnings)


def copayment_percent(level: int) -> int:
    """Patient co-payment (%) for a benefit-level digit on a correct-route visit."""
    if level not in BENEFIT_LEVELS:
        raise ValueError(f"benefit level must be 1-5, got {level}")
    return BENEFIT_LEVELS[level].copayment_percent
