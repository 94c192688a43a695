"""National Early Warning Score 2 (NEWS2), Royal College of Physicians, December 2017.

Thresholds are those of the NEWS2 observation chart ("Chart 1: The NEWS scoring system") and the
clinical-risk table ("Chart 2: NEWS thresholds and triggers") of *National Early Warning Score (NEWS)
2: Standardising the assessment of acute-illness severity in the NHS*, RCP London 2017.

Inputs are rounded the way the chart is read: temperature to one decimal place, every other value to
a whole number (half up), so 20.4 breaths/min reads as 20 and 38.05 °C as 38.1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

Consciousness = Literal["A", "C", "V", "P", "U"]
"""ACVPU: Alert, new Confusion, responds to Voice, to Pain, Unresponsive (RCP 2017)."""
RiskBand = Literal["low", "low-medium", "medium", "high"]
Parameter = Literal["respiration_rate", "spo2", "air_or_oxygen", "systolic_bp", "pulse", "consciousness", "temperature"]

# Chart 2 colours, used by the department board; the RCP chart shades low green-white, a single red
# score yellow-amber, medium orange and high red.
RISK_COLOURS: dict[RiskBand, str] = {
    "low": "green",
    "low-medium": "yellow",
    "medium": "orange",
    "high": "red",
}

# Chart 2 "Frequency of monitoring" / clinical response, summarised for the UI.
RESPONSE: dict[str, tuple[str, str]] = {
    "0": ("Theo dõi tối thiểu mỗi 12 giờ.", "Minimum 12-hourly observations."),
    "low": ("Theo dõi tối thiểu mỗi 4–6 giờ; điều dưỡng đánh giá.", "Minimum 4–6-hourly; nurse assessment."),
    "low-medium": (
        "Theo dõi tối thiểu mỗi giờ; báo bác sĩ đánh giá khẩn.",
        "Minimum hourly; urgent review by a doctor.",
    ),
    "medium": (
        "Theo dõi tối thiểu mỗi giờ; đánh giá khẩn bởi bác sĩ.",
        "Minimum hourly; urgent review by a clinician competent in acute illness.",
    ),
    "high": (
        "Theo dõi liên tục; đánh giá cấp cứu, cân nhắc chuyển hồi sức.",
        "Continuous monitoring; emergency assessment, consider critical care.",
    ),
}


@dataclass(frozen=True, slots=True)
class News2Input:
    respiration_rate: float
    """Breaths per minute."""
    spo2: float
    """Oxygen saturation, %."""
    on_oxygen: bool
    """Any supplemental oxygen (the chart's "Air or oxygen?" row)."""
    systolic_bp: float
    """mmHg."""
    pulse: float
    """Beats per minute."""
    consciousness: Consciousness
    temperature: float
    """°C."""
    spo2_scale: Literal[1, 2] = 1
    """Scale 2 only for hypercapnic respiratory failure with a prescribed 88–92 % target (RCP 2017)."""


@dataclass(frozen=True, slots=True)
class News2Result:
    scores: dict[Parameter, int]
    total: int
    risk: RiskBand
    colour: str
    alert: bool
    """Board alert: total ≥ 5 or a 3 in any single parameter (issue 6, RCP "urgent response")."""

    @property
    def any_single_three(self) -> bool:
        return 3 in self.scores.values()

    @property
    def response(self) -> tuple[str, str]:
        """(Vietnamese, English) recommended monitoring and response."""
        return RESPONSE["0"] if self.total == 0 else RESPONSE[self.risk]


def _checked(value: float) -> Decimal:
    # Plausibility (and "impossible value" refusal) is the vitals form's job; here only garbage is refused.
    if isinstance(value, bool) or not math.isfinite(value) or value < 0:
        raise ValueError(f"a vital sign must be a finite, non-negative number; got {value!r}")
    return Decimal(str(value))


def _whole(value: float) -> Decimal:
    return _checked(value).quantize(Decimal(1), rounding=ROUND_HALF_UP)


def _tenth(value: float) -> Decimal:
    return _checked(value).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def score_respiration_rate(rate: float) -> int:
    r = _whole(rate)  # Chart 1: ≤8 →3, 9–11 →1, 12–20 →0, 21–24 →2, ≥25 →3
    if r <= 8:
        return 3
    if r <= 11:
        return 1
    if r <= 20:
        return 0
    return 2 if r <= 24 else 3


def score_spo2_scale1(spo2: float) -> int:
    s = _whole(spo2)  # Chart 1, SpO2 scale 1: ≤91 →3, 92–93 →2, 94–95 →1, ≥96 →0
    if s <= 91:
        return 3
    if s <= 93:
        return 2
    return 1 if s <= 95 else 0


def score_spo2_scale2(spo2: float, on_oxygen: bool) -> int:
    """Chart 1, SpO2 scale 2: ≤83 →3, 84–85 →2, 86–87 →1, 88–92 (or ≥93 on air) →0,
    93–94 on oxygen →1, 95–96 on oxygen →2, ≥97 on oxygen →3."""
    s = _whole(spo2)
    if s <= 83:
        return 3
    if s <= 85:
        return 2
    if s <= 87:
        return 1
    if s <= 92 or not on_oxygen:
        return 0
    if s <= 94:
        return 1
    return 2 if s <= 96 else 3


def score_air_or_oxygen(on_oxygen: bool) -> int:
    return 2 if on_oxygen else 0  # Chart 1: oxygen →2, air →0


def score_systolic_bp(systolic: float) -> int:
    s = _whole(systolic)  # Chart 1: ≤90 →3, 91–100 →2, 101–110 →1, 111–219 →0, ≥220 →3
    if s <= 90:
        return 3
    if s <= 100:
        return 2
    if s <= 110:
        return 1
    return 0 if s <= 219 else 3


def score_pulse(pulse: float) -> int:
    p = _whole(pulse)  # Chart 1: ≤40 →3, 41–50 →1, 51–90 →0, 91–110 →1, 111–130 →2, ≥131 →3
    if p <= 40:
        return 3
    if p <= 50:
        return 1
    if p <= 90:
        return 0
    if p <= 110:
        return 1
    return 2 if p <= 130 else 3


def score_consciousness(level: Consciousness) -> int:
    if level not in ("A", "C", "V", "P", "U"):
        raise ValueError(f"consciousness must be one of A, C, V, P, U; got {level!r}")
    return 0 if level == "A" else 3  # Chart 1: Alert →0, new Confusion/Voice/Pain/Unresponsive →3


def score_temperature(celsius: float) -> int:
    t = _tenth(celsius)  # Chart 1: ≤35.0 →3, 35.1–36.0 →1, 36.1–38.0 →0, 38.1–39.0 →1, ≥39.1 →2
    if t <= Decimal("35.0"):
        return 3
    if t <= Decimal("36.0"):
        return 1
    if t <= Decimal("38.0"):
        return 0
    return 1 if t <= Decimal("39.0") else 2


def risk_band(total: int, any_single_three: bool) -> RiskBand:
    """Chart 2: 0–4 low (a single 3 makes it low-medium), 5–6 medium, ≥7 high."""
    if total >= 7:
        return "high"
    if total >= 5:
        return "medium"
    return "low-medium" if any_single_three else "low"


def score_news2(obs: News2Input) -> News2Result:
    spo2 = score_spo2_scale2(obs.spo2, obs.on_oxygen) if obs.spo2_scale == 2 else score_spo2_scale1(obs.spo2)
    scores: dict[Parameter, int] = {
        "respiration_rate": score_respiration_rate(obs.respiration_rate),
        "spo2": spo2,
        "air_or_oxygen": score_air_or_oxygen(obs.on_oxygen),
        "systolic_bp": score_systolic_bp(obs.systolic_bp),
        "pulse": score_pulse(obs.pulse),
        "consciousness": score_consciousness(obs.consciousness),
        "temperature": score_temperature(obs.temperature),
    }
    total = sum(scores.values())
    single_three = 3 in scores.values()
    band = risk_band(total, single_three)
    return News2Result(scores, total, band, RISK_COLOURS[band], is_alert(total, single_three))


def is_alert(total: int, any_single_three: bool) -> bool:
    """Issue 6: a NEWS2 of 5 or more, or a 3 in any single parameter, alerts the department's doctors."""
    return total >= 5 or any_single_three
