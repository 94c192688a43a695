"""The structured medication schedule shared by the frequency parser and its FHIR mapping."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from decimal import Decimal
from typing import Literal

PeriodUnit = Literal["min", "h", "d", "wk"]
"""UCUM units of FHIR R4 Timing.repeat.periodUnit that orders use."""


class FrequencyParseError(ValueError):
    def __init__(self, message_vi: str, message_en: str) -> None:
        super().__init__(f"{message_vi} / {message_en}")
        self.message_vi = message_vi
        self.message_en = message_en


@dataclass(frozen=True, slots=True)
class DoseSlot:
    """One administration at a time of day: a FHIR event code or a clock time, with its dose."""

    when: str | None = None
    time_of_day: time | None = None
    dose: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Schedule:
    slots: tuple[DoseSlot, ...] = ()
    frequency: int | None = None
    frequency_max: int | None = None
    period: Decimal | None = None
    period_unit: PeriodUnit | None = None
    dose: Decimal | None = None
    """Dose per administration when it is the same every time and not given per slot."""
    dose_unit: str | None = None
    as_needed: bool = False
    as_needed_reason: str | None = None
