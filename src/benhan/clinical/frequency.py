"""Medication frequency text (Vietnamese and Latin) ⇄ a structured schedule ⇄ FHIR R4 ``Dosage``/``Timing``.

Understood (accent- and case-insensitive, issue 7): "sáng 1 viên, chiều 1 viên", "sáng 1 trưa 1 tối 1",
"tối 1 viên", "8h 1 viên, 20h 1 viên", "ngày 2 lần", "1 lần/ngày", "ngày 2 lần, mỗi lần 1 viên",
"mỗi 8 giờ", "8 giờ/lần", "q8h", "bid/tid/qid/qd/hs", "PRN", "khi cần", "khi đau", "tối đa 4 lần/ngày".
A number the parser did not understand is refused rather than ignored: a misread dose is unsafe.

FHIR mapping (R4 datatypes.html#Timing, dosage.html): times of day go to ``repeat.when`` (sáng MORN,
trưa NOON, chiều AFT, tối EVE, đêm NIGHT, trước khi ngủ HS) or ``repeat.timeOfDay``, never both
(invariant tim-10); counts to ``frequency``/``period``/``periodUnit``; PRN to ``Dosage.asNeeded[x]``.
Different doses at different times ("sáng 2 viên, tối 1 viên") become several ``Dosage`` entries with
the same ``sequence``, which R4 defines as concurrent instructions.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import replace
from datetime import time
from decimal import Decimal, InvalidOperation

from benhan.clinical.dose_times import DEFAULT_WHEN_TIMES, VIETNAM_TZ, schedule_doses
from benhan.clinical.frequency_fhir import (
    schedule_from_fhir_dosages,
    schedule_from_fhir_timing,
    to_fhir_dosages,
    to_fhir_timing,
)
from benhan.clinical.frequency_model import DoseSlot, FrequencyParseError, PeriodUnit, Schedule

__all__ = [
    "VIETNAM_TZ",
    "DoseSlot",
    "FrequencyParseError",
    "PeriodUnit",
    "Schedule",
    "describe_vi",
    "parse_frequency",
    "schedule_doses",
    "schedule_from_fhir_dosages",
    "schedule_from_fhir_timing",
    "to_fhir_dosages",
    "to_fhir_timing",
]

# Vietnamese time-of-day words (accents stripped) → FHIR R4 event-timing code.
_WHEN_WORDS = {"sang": "MORN", "trua": "NOON", "chieu": "AFT", "toi": "EVE", "dem": "NIGHT",
               "truoc ngu": "HS", "truoc khi ngu": "HS"}  # fmt: skip
_WHEN_LABEL = {
    "MORN": "sáng",
    "NOON": "trưa",
    "AFT": "chiều",
    "EVE": "tối",
    "NIGHT": "đêm",
    "HS": "trước khi ngủ",
}
_UNITS = {"vien": "viên", "ong": "ống", "goi": "gói", "ml": "ml", "mg": "mg", "mcg": "mcg", "g": "g",
          "giot": "giọt", "nang": "nang", "lo": "lọ", "chai": "chai", "tui": "túi", "xit": "nhát xịt",
          "nhat": "nhát", "mieng": "miếng", "ui": "UI", "iu": "UI", "don vi": "đơn vị"}  # fmt: skip
_PRN_REASONS = {"dau": "khi đau", "sot": "khi sốt", "kho tho": "khi khó thở", "non": "khi nôn",
                "buon non": "khi buồn nôn", "mat ngu": "khi mất ngủ", "co giat": "khi co giật"}  # fmt: skip
_LATIN = {"bid": (2, 1, "d"), "tid": (3, 1, "d"), "qid": (4, 1, "d"), "qd": (1, 1, "d"), "od": (1, 1, "d"),
          "daily": (1, 1, "d"), "qod": (1, 2, "d")}  # fmt: skip
_LATIN_WHEN = {"hs": "HS", "qam": "MORN", "qpm": "EVE", "qhs": "HS"}

_DOSE = r"(\d+(?:\.\d+)?(?:/\d+)?)"
_UNIT = r"(" + "|".join(sorted((re.escape(u) for u in _UNITS), key=len, reverse=True)) + r")\b"
_PERIOD_WORD = {"ngay": "d", "tuan": "wk", "24h": "d", "24 gio": "d"}
_PATTERNS: dict[str, re.Pattern[str]] = {
    "prn": re.compile(r"\b(prn|khi can|neu can|luc can|khi (buon non|kho tho|mat ngu|co giat|dau|sot|non))\b"),
    "max": re.compile(r"\btoi da\s*(\d+)\s*lan\s*(?:/|moi|mot|trong)?\s*(?:1\s*)?(ngay|tuan|24 ?h|24 gio)\b"),
    "interval": re.compile(
        r"\b(?:moi|cach)\s*(\d+(?:\.\d+)?)\s*(gio|tieng|h|phut)\b(?:\s*(?:mot|1)\s*lan\b)?"
        r"|\bq\s*(\d+)\s*h\b|\b(\d+)\s*(?:gio|h|tieng)\s*/\s*(?:1\s*)?lan\b|\bevery\s*(\d+)\s*(?:hours?|h)\b"
    ),
    "latin": re.compile(r"\b(bid|tid|qid|qod|qd|od|daily|qam|qpm|qhs|hs)\b"),
    "count": re.compile(
        r"\b(?:moi |mot |1 )?(ngay|tuan)\s*(?:uong|dung|tiem|boi|nho|xit|ngam|truyen)?\s*(\d+)\s*lan\b"
        r"|\b(\d+)\s*lan\s*(?:/|moi|mot|trong|x)?\s*(?:1\s*)?(ngay|tuan)\b"
    ),
    "each": re.compile(r"\bmoi lan\s*(?:uong|dung|tiem)?\s*" + _DOSE + r"\s*(?:" + _UNIT + r")?"),
    "slot": re.compile(
        r"\b(sang|trua|chieu|toi|dem|truoc khi ngu|truoc ngu)\b\s*[:\-]?\s*(?:" + _DOSE + r"\s*(?:" + _UNIT + r")?)?"
    ),
    "clock": re.compile(r"\b(\d{1,2})\s*(?:h|gio|:)\s*(\d{2})?\b\s*[:\-]?\s*(?:" + _DOSE + r"\s*(?:" + _UNIT + r"))?"),
    "dose": re.compile(_DOSE + r"\s*" + _UNIT + r"(?:\s*/\s*lan\b)?"),
}


def _fold(text: str) -> str:
    """Lower-case, drop Vietnamese diacritics (đ → d), decimal commas → points, ½ → 1/2."""
    text = unicodedata.normalize("NFC", text).replace("đ", "d").replace("Đ", "D").replace("½", "1/2")
    folded = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
    folded = re.sub(r"(\d),(\d)", r"\1.\2", folded.lower())
    return " ".join(folded.replace("\u00a0", " ").split())


def _dose(raw: str | None) -> Decimal | None:
    if raw is None:
        return None
    try:
        if "/" in raw:
            num, den = raw.split("/")
            return Decimal(num) / Decimal(den)
        return Decimal(raw)
    except (InvalidOperation, ZeroDivisionError):
        raise FrequencyParseError(f"Liều '{raw}' không hợp lệ.", f"Dose '{raw}' is not valid.") from None


class _Scan:
    """The folded text with matched parts blanked out, so leftovers can be checked."""

    def __init__(self, text: str) -> None:
        self.text = text

    def take(self, name: str) -> list[re.Match[str]]:
        matches = list(_PATTERNS[name].finditer(self.text))
        for m in matches:
            self.text = self.text[: m.start()] + " " * (m.end() - m.start()) + self.text[m.end() :]
        return matches


def parse_frequency(text: str) -> Schedule:
    """Parse a frequency instruction; raise :class:`FrequencyParseError` (vi + en) when unsure."""
    folded = _fold(text)
    if not folded:
        raise FrequencyParseError("Chưa nhập tần suất dùng thuốc.", "The frequency is empty.")
    scan = _Scan(folded)
    sched = _take_prn(scan, Schedule())
    sched = _take_max(scan, sched)
    sched = _take_interval(scan, sched)
    sched = _take_latin(scan, sched)
    sched = _take_count(scan, sched)
    sched = _take_each(scan, sched)
    sched = _take_slots(scan, sched)
    sched = _take_loose_dose(scan, sched)
    _refuse_leftover_numbers(scan.text, text)
    return _finish(sched, text)


def _take_prn(scan: _Scan, s: Schedule) -> Schedule:
    for m in scan.take("prn"):
        reason = _PRN_REASONS.get(m[2]) if m[2] else None
        s = replace(s, as_needed=True, as_needed_reason=reason or s.as_needed_reason)
    return s


def _take_max(scan: _Scan, s: Schedule) -> Schedule:
    for m in scan.take("max"):
        s = replace(s, frequency_max=int(m[1]), period=Decimal(1), period_unit=_period_unit(m[2]))
    return s


def _period_unit(word: str) -> PeriodUnit:
    return "wk" if word == "tuan" else "d"


def _take_interval(scan: _Scan, s: Schedule) -> Schedule:
    for m in scan.take("interval"):
        value = m[1] or m[3] or m[4] or m[5]
        unit: PeriodUnit = "min" if m[2] == "phut" else "h"
        _no_conflict(s.frequency is None, "hai tần suất khác nhau", "two different frequencies")
        # One FHIR Timing cannot hold "every 6 h" and "at most 4 a day" (two periods): refuse, do not guess.
        _no_conflict(s.frequency_max is None, "vừa 'mỗi N giờ' vừa 'tối đa'", "both an interval and a maximum")
        s = replace(s, frequency=1, period=Decimal(value), period_unit=unit)
    return s


def _take_latin(scan: _Scan, s: Schedule) -> Schedule:
    for m in scan.take("latin"):
        code = m[1]
        if code in _LATIN_WHEN:
            s = replace(s, slots=(*s.slots, DoseSlot(when=_LATIN_WHEN[code])))
            continue
        freq, period, unit = _LATIN[code]
        _no_conflict(s.frequency is None, "hai tần suất khác nhau", "two different frequencies")
        s = replace(s, frequency=freq, period=Decimal(period), period_unit="d" if unit == "d" else "wk")
    return s


def _take_count(scan: _Scan, s: Schedule) -> Schedule:
    for m in scan.take("count"):
        count, word = (m[2], m[1]) if m[2] else (m[3], m[4])
        _no_conflict(s.frequency is None, "hai tần suất khác nhau", "two different frequencies")
        same_period = s.frequency_max is None or s.period_unit == _period_unit(word)
        _no_conflict(same_period, "số lần và tối đa khác chu kỳ", "count and maximum over different periods")
        s = replace(s, frequency=int(count), period=Decimal(1), period_unit=_period_unit(word))
    return s


def _take_each(scan: _Scan, s: Schedule) -> Schedule:
    for m in scan.take("each"):
        s = replace(s, dose=_dose(m[1]), dose_unit=_unit(s, m[2]))
    return s


def _unit(s: Schedule, raw: str | None) -> str | None:
    unit = _UNITS[raw] if raw else None
    if unit and s.dose_unit and unit != s.dose_unit:
        raise FrequencyParseError(
            f"Hai đơn vị liều khác nhau: {s.dose_unit}, {unit}.", f"Two dose units: {s.dose_unit}, {unit}."
        )
    return unit or s.dose_unit


def _take_slots(scan: _Scan, s: Schedule) -> Schedule:
    for m in scan.take("slot"):
        s = replace(s, slots=(*s.slots, DoseSlot(when=_WHEN_WORDS[m[1]], dose=_dose(m[2]))), dose_unit=_unit(s, m[3]))
    for m in scan.take("clock"):
        hour, minute = int(m[1]), int(m[2] or 0)
        if hour > 24 or minute > 59:
            raise FrequencyParseError(f"Giờ '{m[0].strip()}' không hợp lệ.", f"Time '{m[0].strip()}' is not valid.")
        slot = DoseSlot(time_of_day=time(hour % 24, minute), dose=_dose(m[3]))
        s = replace(s, slots=(*s.slots, slot), dose_unit=_unit(s, m[4]))
    return s


def _take_loose_dose(scan: _Scan, s: Schedule) -> Schedule:
    for m in scan.take("dose"):
        dose = _dose(m[1])
        _no_conflict(s.dose is None or s.dose == dose, "hai liều khác nhau", "two different doses")
        s = replace(s, dose=dose, dose_unit=_unit(s, m[2]))
    return s


def _refuse_leftover_numbers(leftover: str, original: str) -> None:
    numbers = re.findall(r"\d+(?:[./]\d+)?", leftover)
    if numbers:
        raise FrequencyParseError(
            f"Không hiểu số '{numbers[0]}' trong '{original}'. Ví dụ: 'sáng 1 viên', 'mỗi 8 giờ'.",
            f"Could not understand the number '{numbers[0]}' in '{original}'. E.g. 'mỗi 8 giờ'.",
        )


def _no_conflict(ok: bool, what_vi: str, what_en: str) -> None:
    if not ok:
        raise FrequencyParseError(f"Tần suất mâu thuẫn: {what_vi}.", f"Conflicting frequency: {what_en}.")


def _finish(s: Schedule, original: str) -> Schedule:
    if not s.slots and s.frequency is None and not s.as_needed:
        raise FrequencyParseError(
            f"Không hiểu tần suất '{original}'. Ví dụ: 'sáng 1 viên, chiều 1 viên', 'ngày 2 lần', 'khi cần'.",
            f"Could not understand the frequency '{original}'. E.g. 'ngày 2 lần', 'mỗi 8 giờ', 'PRN'.",
        )
    if not s.slots:
        return s
    kinds = {slot.when is None for slot in s.slots}
    _no_conflict(len(kinds) == 1, "vừa buổi vừa giờ cụ thể", "both times of day and clock times")
    keys = [slot.when or slot.time_of_day for slot in s.slots]
    _no_conflict(len(set(keys)) == len(keys), "một thời điểm ghi hai lần", "the same time given twice")
    if s.frequency is not None:
        ok = s.frequency == len(s.slots) and s.period == 1 and s.period_unit == "d"
        _no_conflict(ok, "số lần không khớp các buổi", "count does not match the times of day")
    doses = {slot.dose for slot in s.slots if slot.dose is not None}
    _no_conflict(s.dose is None or doses <= {s.dose}, "hai liều khác nhau", "two different doses")
    slots = tuple(sorted((replace(x, dose=x.dose if x.dose is not None else s.dose) for x in s.slots), key=_slot_key))
    return replace(s, slots=slots, frequency=len(slots), period=Decimal(1), period_unit="d", dose=None)


def _slot_key(slot: DoseSlot) -> time:
    if slot.time_of_day is not None:
        return slot.time_of_day
    return DEFAULT_WHEN_TIMES[slot.when or "MORN"]


def describe_vi(s: Schedule) -> str:
    """Short Vietnamese text for labels and the nurses' summary, e.g. "sáng 1 viên, tối 1 viên"."""
    unit = f" {s.dose_unit}" if s.dose_unit else ""
    parts = [
        f"{_WHEN_LABEL.get(x.when or '', x.when or '') if x.when else f'{x.time_of_day:%H:%M}'}"
        + (f" {_fmt(x.dose)}{unit}" if x.dose is not None else "")
        for x in s.slots
    ]
    if not s.slots and s.frequency is not None and s.period is not None:
        per = {"d": "ngày", "wk": "tuần", "h": "giờ", "min": "phút"}[s.period_unit or "d"]
        if s.period_unit in ("h", "min"):
            parts.append(f"mỗi {_fmt(s.period)} {per}")
        else:
            parts.append(f"{s.frequency} lần/{'' if s.period == 1 else _fmt(s.period) + ' '}{per}")
        if s.dose is not None:
            parts.append(f"mỗi lần {_fmt(s.dose)}{unit}")
    if s.as_needed:
        parts.append(s.as_needed_reason or "khi cần")
    if s.frequency_max is not None:
        parts.append(f"tối đa {s.frequency_max} lần/{'tuần' if s.period_unit == 'wk' else 'ngày'}")
    return ", ".join(parts)


def _fmt(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text.replace(".", ",")
