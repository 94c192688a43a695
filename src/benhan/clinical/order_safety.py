"""Safety checks at medication-order time (issue 7), pure: the use-case fetches the facts, this decides.

Each check returns an :class:`Alert` the doctor must acknowledge with a reason before the order is written:

- allergy: a recorded AllergyIntolerance matches an active ingredient (or its family, e.g. penicillins);
- duplicate: another active order of the same stay has the same active ingredient;
- dose: a single or daily dose above the maximum of the facility catalogue (LIEU_TOI_DA_LAN/_NGAY);
- sex and age: the catalogue's CHONG_CHI_DINH_GIOI and TUOI_TOI_THIEU.

The alert codes are those of HL7 v3 ActCode (ActSuppliedItemDetectedIssueCode), so an override is written as
a FHIR R4 DetectedIssue with that code (detectedissue.html).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from benhan.clinical.frequency_model import Schedule
from benhan.clinical.records import JsonObj, age_years
from benhan.kernel.text import fold
from benhan.terminology.catalogue import DrugItem

ALLERGY, DUPLICATE, HIGH_DOSE, AGE, SEX = "ALGY", "DUPTHPY", "DOSEH", "AGE", "GEND"

#: Drug families whose members cross-react: an allergy recorded as the family name matches every member.
FAMILIES: Mapping[str, tuple[str, ...]] = {
    "penicillin": ("penicillin", "amoxicillin", "ampicillin", "oxacillin", "cloxacillin", "piperacillin"),
    "cephalosporin": ("cef", "ceph"),
    "sulfonamide": ("sulfamethoxazol", "sulfadiazin", "sulfasalazin"),
    "nsaid": ("ibuprofen", "diclofenac", "meloxicam", "naproxen", "acid acetylsalicylic", "aspirin"),
    "quinolone": ("ciprofloxacin", "levofloxacin", "ofloxacin", "moxifloxacin"),
}
_FAMILY_WORDS = {
    "penicilin": "penicillin",
    "penicillin": "penicillin",
    "cephalosporin": "cephalosporin",
    "sulfa": "sulfonamide",
    "sulfamid": "sulfonamide",
    "nsaid": "nsaid",
    "khang viem khong steroid": "nsaid",
    "quinolon": "quinolone",
    "quinolone": "quinolone",
}
_MASS = {"mcg": Decimal("0.001"), "mg": Decimal(1), "g": Decimal(1000)}
_STRENGTH = re.compile(r"^\s*(\d+(?:[.,]\d+)?)\s*(mcg|mg|g|iu|ui)\b\s*(?:/\s*(\d+(?:[.,]\d+)?)?\s*(ml|l)?)?", re.I)


@dataclass(frozen=True, slots=True)
class Alert:
    code: str  # ALGY | DUPTHPY | DOSEH | AGE | GEND
    message_vi: str
    message_en: str
    #: what the alert is about (the allergy, the other order), for the DetectedIssue's ``implicated``
    implicated: tuple[str, ...] = ()

    def message(self, lang: str) -> str:
        return self.message_en if lang == "en" else self.message_vi


def ingredients(drug: DrugItem) -> list[str]:
    """Folded active ingredients ("Amoxicillin + Acid clavulanic" → two)."""
    return [fold(p) for p in re.split(r"\s*\+\s*", drug.ten_hoat_chat) if fold(p)]


def _allergen_matches(allergen: str, parts: Sequence[str]) -> bool:
    folded = fold(allergen)
    if not folded:
        return False
    family = next((fam for word, fam in _FAMILY_WORDS.items() if word in folded), None)
    for part in parts:
        if folded in part or part in folded:
            return True
        if family and any(part.startswith(member) for member in FAMILIES[family]):
            return True
    return False


def allergy_text(allergy: JsonObj) -> str:
    code = allergy.get("code") or {}
    return str(code.get("text") or next((c.get("display", "") for c in code.get("coding") or []), ""))


def _active_allergy(allergy: JsonObj) -> bool:
    status = [c.get("code") for c in (allergy.get("clinicalStatus") or {}).get("coding") or []]
    verification = [c.get("code") for c in (allergy.get("verificationStatus") or {}).get("coding") or []]
    return not ({"inactive", "resolved"} & set(status)) and "refuted" not in verification


def check_allergy(drug: DrugItem, allergies: Iterable[JsonObj]) -> list[Alert]:
    parts = ingredients(drug)
    out = []
    for a in allergies:
        text = allergy_text(a)
        if _active_allergy(a) and _allergen_matches(text, parts):
            out.append(
                Alert(
                    ALLERGY,
                    f"Bệnh nhân dị ứng {text}: {drug.ten_thuoc} chứa {drug.ten_hoat_chat}.",
                    f"The patient is allergic to {text}: {drug.ten_thuoc} contains {drug.ten_hoat_chat}.",
                    (f"AllergyIntolerance/{a.get('id', '')}",),
                )
            )
    return out


def check_duplicate(drug: DrugItem, active: Iterable[tuple[str, str, str]], *, replacing: str = "") -> list[Alert]:
    """``active``: (MedicationRequest id, ingredient text, drug name) of the stay's active orders."""
    mine = set(ingredients(drug))
    out = []
    for rid, ingredient, name in active:
        theirs = {fold(p) for p in re.split(r"\s*\+\s*", ingredient)}
        if rid != replacing and mine & theirs:
            out.append(
                Alert(
                    DUPLICATE,
                    f"Đã có y lệnh cùng hoạt chất đang dùng: {name}.",
                    f"An active order has the same active ingredient: {name}.",
                    (f"MedicationRequest/{rid}",),
                )
            )
    return out


def strength(drug: DrugItem) -> Decimal | None:
    """Amount of ``don_vi_lieu`` in one dispensing unit (one tablet, vial, bottle), when the label says it."""
    m = _STRENGTH.match(drug.ham_luong)
    if not m or (m[4] and not m[3]):  # "5 IU/ml" is a concentration, not an amount per unit
        return None
    unit = m[2].lower().replace("ui", "iu")
    target = (drug.don_vi_lieu or "").lower().replace("ui", "iu")
    amount = _dec(m[1])
    if unit == target:
        return amount
    if unit in _MASS and target in _MASS:
        return amount * _MASS[unit] / _MASS[target]
    return None


def _dec(text: str) -> Decimal:
    try:
        return Decimal(text.replace(",", "."))
    except InvalidOperation:
        return Decimal(0)


def dose_in_limit_unit(drug: DrugItem, dose: Decimal, unit: str | None) -> Decimal | None:
    """A dose (as ordered) in the catalogue's maximum-dose unit; None when it cannot be converted."""
    limit_unit = (drug.don_vi_lieu or "").lower()
    given = (unit or drug.don_vi_tinh).lower()
    if given == limit_unit:
        return dose
    if given in _MASS and limit_unit in _MASS:
        return dose * _MASS[given] / _MASS[limit_unit]
    if given == drug.don_vi_tinh.lower():
        per_unit = strength(drug)
        return dose * per_unit if per_unit is not None else None
    return None


def doses_per_day(s: Schedule) -> list[Decimal]:
    """The doses of one day under the schedule (PRN: up to its maximum count)."""
    if s.slots:
        return [x.dose for x in s.slots if x.dose is not None]
    if s.dose is None:
        return []
    count: Decimal
    if s.frequency is not None and s.period and s.period_unit in ("h", "min"):
        hours = s.period / (60 if s.period_unit == "min" else 1)
        count = Decimal(24) / hours * s.frequency
    elif s.frequency is not None and s.period_unit == "d" and s.period:
        count = Decimal(s.frequency) / s.period
    elif s.frequency_max is not None:
        count = Decimal(s.frequency_max)
    else:
        count = Decimal(1)
    return [s.dose] * int(count)


def check_dose(drug: DrugItem, s: Schedule) -> list[Alert]:
    doses = doses_per_day(s)
    converted = [dose_in_limit_unit(drug, d, s.dose_unit) for d in doses]
    if not doses or any(c is None for c in converted):
        return []
    values = [c for c in converted if c is not None]
    unit = drug.don_vi_lieu or ""
    out = []
    single, daily = max(values), sum(values, Decimal(0))
    if drug.lieu_toi_da_lan is not None and single > drug.lieu_toi_da_lan:
        out.append(
            Alert(
                HIGH_DOSE,
                f"Liều một lần {_n(single)} {unit} vượt tối đa {_n(drug.lieu_toi_da_lan)} {unit}.",
                f"Single dose {_n(single)} {unit} is above the maximum {_n(drug.lieu_toi_da_lan)} {unit}.",
            )
        )
    if drug.lieu_toi_da_ngay is not None and daily > drug.lieu_toi_da_ngay:
        out.append(
            Alert(
                HIGH_DOSE,
                f"Liều một ngày {_n(daily)} {unit} vượt tối đa {_n(drug.lieu_toi_da_ngay)} {unit}.",
                f"Daily dose {_n(daily)} {unit} is above the maximum {_n(drug.lieu_toi_da_ngay)} {unit}.",
            )
        )
    return out[:1] if len(out) == 2 and single == daily else out


def _n(value: Decimal) -> str:
    return format(value.normalize(), "f")


def check_patient(drug: DrugItem, gender: str, birth_date: str | None, on: date) -> list[Alert]:
    out = []
    if drug.chong_chi_dinh_gioi and drug.chong_chi_dinh_gioi == gender:
        sex_vi = "nam" if gender == "male" else "nữ"
        out.append(
            Alert(
                SEX,
                f"{drug.ten_thuoc} chống chỉ định cho người bệnh {sex_vi}.",
                f"{drug.ten_thuoc} is contraindicated for {gender} patients.",
            )
        )
    if drug.tuoi_toi_thieu is not None and birth_date and len(birth_date) >= 10:
        age = age_years(date.fromisoformat(birth_date[:10]), on)
        if age < drug.tuoi_toi_thieu:
            out.append(
                Alert(
                    AGE,
                    f"{drug.ten_thuoc} dùng từ {_n(drug.tuoi_toi_thieu)} tuổi; bệnh nhân {age} tuổi.",
                    f"{drug.ten_thuoc} is for patients aged {_n(drug.tuoi_toi_thieu)} or more; this one is {age}.",
                )
            )
    return out


def check_medication(
    drug: DrugItem,
    schedule: Schedule,
    *,
    patient: JsonObj,
    allergies: Iterable[JsonObj],
    active: Iterable[tuple[str, str, str]],
    on: date,
    replacing: str = "",
) -> list[Alert]:
    """Every alert for one order, in a stable order (allergy first: the most dangerous)."""
    return [
        *check_allergy(drug, allergies),
        *check_duplicate(drug, active, replacing=replacing),
        *check_dose(drug, schedule),
        *check_patient(drug, str(patient.get("gender", "")), patient.get("birthDate"), on),
    ]


def alert_key(alert: Alert, index: int) -> str:
    """The form field holding the doctor's reason for overriding this alert."""
    return f"override_{alert.code}_{index}"


def unacknowledged(alerts: Sequence[Alert], reasons: Mapping[str, str]) -> list[tuple[str, Alert]]:
    """Alerts without a reason (at least 3 characters): the order is not written while any remains."""
    return [(alert_key(a, i), a) for i, a in enumerate(alerts) if len(reasons.get(alert_key(a, i), "").strip()) < 3]
