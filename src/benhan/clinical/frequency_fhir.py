"""Schedule ⇄ FHIR R4 ``Timing`` and ``Dosage`` JSON (datatypes.html#Timing, dosage.html).

- Times of day: ``repeat.when`` or ``repeat.timeOfDay`` (never both: tim-10), with ``frequency`` equal
  to the number of times and ``period`` 1 ``d``.
- Other schedules: ``frequency``/``period``/``periodUnit`` (tim-2: a period needs its unit) and
  ``frequencyMax`` for "tối đa n lần".
- Per-time doses: one ``Dosage`` per distinct dose, all with ``sequence`` 1 (R4 Dosage.sequence: equal
  sequence numbers are concurrent instructions).
- PRN: ``asNeededBoolean`` or, with a reason, ``asNeededCodeableConcept.text``.

JSON numbers are ``int`` or ``float`` (orjson does not serialise ``Decimal``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import time
from decimal import Decimal
from typing import Any

from benhan.clinical.frequency_model import DoseSlot, FrequencyParseError, PeriodUnit, Schedule

_UNITS: dict[str, PeriodUnit] = {"min": "min", "h": "h", "d": "d", "wk": "wk"}


def _num(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _dec(value: object) -> Decimal:
    return Decimal(str(value))


def to_fhir_timing(s: Schedule) -> dict[str, Any]:
    """The ``Timing`` of a schedule (doses are not part of Timing; see :func:`to_fhir_dosages`)."""
    repeat: dict[str, Any] = {}
    if s.slots:
        if s.slots[0].when is not None:
            repeat["when"] = [x.when for x in s.slots]
        else:
            repeat["timeOfDay"] = [f"{x.time_of_day:%H:%M:%S}" for x in s.slots]
        repeat.update(frequency=len(s.slots), period=1, periodUnit="d")
    elif s.frequency is not None and s.period is not None:
        repeat.update(frequency=s.frequency, period=_num(s.period), periodUnit=s.period_unit)
    if s.frequency_max is not None:
        repeat["frequencyMax"] = s.frequency_max
        repeat.setdefault("period", _num(s.period or Decimal(1)))
        repeat.setdefault("periodUnit", s.period_unit or "d")
    return {"repeat": repeat} if repeat else {}


def to_fhir_dosages(s: Schedule, *, text: str | None = None) -> list[dict[str, Any]]:
    """``MedicationRequest.dosageInstruction`` entries for a schedule."""
    groups: dict[Decimal | None, list[DoseSlot]] = {}
    for slot in s.slots:
        groups.setdefault(slot.dose, []).append(slot)
    parts = [(replace(s, slots=tuple(g)), dose) for dose, g in groups.items()] if s.slots else [(s, s.dose)]
    out: list[dict[str, Any]] = []
    for part, dose in parts:
        dosage: dict[str, Any] = {"sequence": 1}
        if text and not out:
            dosage["text"] = text
        timing = to_fhir_timing(part)
        if timing:
            dosage["timing"] = timing
        if s.as_needed:
            if s.as_needed_reason:
                dosage["asNeededCodeableConcept"] = {"text": s.as_needed_reason}
            else:
                dosage["asNeededBoolean"] = True
        if dose is not None:
            quantity: dict[str, Any] = {"value": _num(dose)}
            if s.dose_unit:
                quantity["unit"] = s.dose_unit
            dosage["doseAndRate"] = [{"doseQuantity": quantity}]
        out.append(dosage)
    return out


def schedule_from_fhir_timing(
    timing: Mapping[str, Any], *, dose: Decimal | None = None, dose_unit: str | None = None
) -> Schedule:
    repeat: Mapping[str, Any] = timing.get("repeat") or {}
    unit = repeat.get("periodUnit")
    if "period" in repeat and unit not in _UNITS:
        raise FrequencyParseError(
            f"Đơn vị chu kỳ '{unit}' không được hỗ trợ.",
            f"Timing.repeat.periodUnit '{unit}' is not supported.",
        )
    when, tod = repeat.get("when") or [], repeat.get("timeOfDay") or []
    slots = tuple(DoseSlot(when=w, dose=dose) for w in when) + tuple(
        DoseSlot(time_of_day=time.fromisoformat(t), dose=dose) for t in tod
    )
    freq = repeat.get("frequency")
    return Schedule(
        slots=slots,
        frequency=int(freq) if freq is not None else (len(slots) or None),
        frequency_max=int(repeat["frequencyMax"]) if "frequencyMax" in repeat else None,
        period=_dec(repeat["period"]) if "period" in repeat else None,
        period_unit=_UNITS.get(unit) if isinstance(unit, str) else None,
        dose=None if slots else dose,
        dose_unit=dose_unit,
    )


def schedule_from_fhir_dosages(dosages: Sequence[Mapping[str, Any]]) -> Schedule:
    """Merge concurrent ``Dosage`` entries (as written by :func:`to_fhir_dosages`) into one schedule."""
    if not dosages:
        raise FrequencyParseError("Không có liều dùng.", "No dosage instructions.")
    parts = [schedule_from_fhir_timing(d.get("timing") or {}, **_dose_of(d)) for d in dosages]
    first = parts[0]
    slots = tuple(slot for part in parts for slot in part.slots)
    reason = next((d["asNeededCodeableConcept"].get("text") for d in dosages if "asNeededCodeableConcept" in d), None)
    as_needed = any(d.get("asNeededBoolean") for d in dosages) or reason is not None
    return replace(
        first,
        slots=slots,
        frequency=len(slots) if slots else first.frequency,
        as_needed=as_needed,
        as_needed_reason=reason,
        dose_unit=next((p.dose_unit for p in parts if p.dose_unit), None),
    )


def _dose_of(dosage: Mapping[str, Any]) -> dict[str, Any]:
    for dr in dosage.get("doseAndRate") or []:
        quantity = dr.get("doseQuantity")
        if quantity is not None and "value" in quantity:
            return {"dose": _dec(quantity["value"]), "dose_unit": quantity.get("unit")}
    return {"dose": None, "dose_unit": None}
