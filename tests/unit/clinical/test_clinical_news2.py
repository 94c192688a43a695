"""NEWS2 against the RCP 2017 chart: every threshold from both sides, worked examples, bands, alert."""

from __future__ import annotations

import pytest

from benhan.clinical.news2 import (
    News2Input,
    is_alert,
    risk_band,
    score_air_or_oxygen,
    score_consciousness,
    score_news2,
    score_pulse,
    score_respiration_rate,
    score_spo2_scale1,
    score_spo2_scale2,
    score_systolic_bp,
    score_temperature,
)

# (value, expected score) pairs on both sides of every boundary of RCP Chart 1.
RESPIRATION = [(0, 3), (8, 3), (9, 1), (11, 1), (12, 0), (20, 0), (21, 2), (24, 2), (25, 3), (60, 3)]
SPO2_SCALE1 = [(50, 3), (91, 3), (92, 2), (93, 2), (94, 1), (95, 1), (96, 0), (100, 0)]
SYSTOLIC = [(50, 3), (90, 3), (91, 2), (100, 2), (101, 1), (110, 1), (111, 0), (219, 0), (220, 3), (280, 3)]
PULSE = [(20, 3), (40, 3), (41, 1), (50, 1), (51, 0), (90, 0), (91, 1), (110, 1), (111, 2), (130, 2),
         (131, 3), (200, 3)]  # fmt: skip
TEMPERATURE = [(33.0, 3), (35.0, 3), (35.1, 1), (36.0, 1), (36.1, 0), (38.0, 0), (38.1, 1), (39.0, 1),
               (39.1, 2), (42.0, 2)]  # fmt: skip


@pytest.mark.parametrize(("rate", "expected"), RESPIRATION)
def test_respiration_rate_thresholds(rate: int, expected: int) -> None:
    assert score_respiration_rate(rate) == expected


@pytest.mark.parametrize(("spo2", "expected"), SPO2_SCALE1)
def test_spo2_scale1_thresholds(spo2: int, expected: int) -> None:
    assert score_spo2_scale1(spo2) == expected


@pytest.mark.parametrize(
    ("spo2", "on_oxygen", "expected"),
    [
        (83, False, 3), (84, False, 2), (85, True, 2), (86, False, 1), (87, True, 1), (88, False, 0),
        (92, True, 0), (93, False, 0), (100, False, 0),  # on air, ≥93 scores 0 on scale 2
        (93, True, 1), (94, True, 1), (95, True, 2), (96, True, 2), (97, True, 3), (100, True, 3),
    ],
)  # fmt: skip
def test_spo2_scale2_thresholds(spo2: int, on_oxygen: bool, expected: int) -> None:
    assert score_spo2_scale2(spo2, on_oxygen) == expected


@pytest.mark.parametrize(("sbp", "expected"), SYSTOLIC)
def test_systolic_thresholds(sbp: int, expected: int) -> None:
    assert score_systolic_bp(sbp) == expected


@pytest.mark.parametrize(("pulse", "expected"), PULSE)
def test_pulse_thresholds(pulse: int, expected: int) -> None:
    assert score_pulse(pulse) == expected


@pytest.mark.parametrize(("temp", "expected"), TEMPERATURE)
def test_temperature_thresholds(temp: float, expected: int) -> None:
    assert score_temperature(temp) == expected


def test_air_oxygen_and_acvpu() -> None:
    assert (score_air_or_oxygen(False), score_air_or_oxygen(True)) == (0, 2)
    assert [score_consciousness(c) for c in ("A", "C", "V", "P", "U")] == [0, 3, 3, 3, 3]
    with pytest.raises(ValueError, match="consciousness"):
        score_consciousness("X")  # type: ignore[arg-type]


def test_chart_is_read_after_rounding() -> None:
    assert score_respiration_rate(20.4) == 0
    assert score_respiration_rate(20.5) == 2
    assert score_temperature(38.04) == 0
    assert score_temperature(38.05) == 1
    assert score_temperature(35.04) == 3


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -1])
def test_garbage_vitals_are_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="finite"):
        score_pulse(bad)


def _obs(**overrides: object) -> News2Input:
    base: dict[str, object] = {"respiration_rate": 16, "spo2": 98, "on_oxygen": False, "systolic_bp": 120, "pulse": 70,
                                   "consciousness": "A", "temperature": 37.0}  # fmt: skip
    base.update(overrides)
    return News2Input(**base)  # type: ignore[arg-type]


def test_worked_example_normal_patient_scores_zero() -> None:
    result = score_news2(_obs())
    assert result.total == 0
    assert result.risk == "low"
    assert result.colour == "green"
    assert not result.alert
    assert result.response[1].startswith("Minimum 12-hourly")


def test_worked_example_high_risk() -> None:
    # RR 22 →2, SpO2 95 →1, air →0, SBP 105 →1, pulse 115 →2, Alert →0, 38.5 °C →1: total 7.
    result = score_news2(_obs(respiration_rate=22, spo2=95, systolic_bp=105, pulse=115, temperature=38.5))
    assert result.scores == {"respiration_rate": 2, "spo2": 1, "air_or_oxygen": 0, "systolic_bp": 1,
                             "pulse": 2, "consciousness": 0, "temperature": 1}  # fmt: skip
    assert (result.total, result.risk, result.colour, result.alert) == (7, "high", "red", True)


def test_worked_example_medium_on_oxygen() -> None:
    # RR 18 →0, SpO2 94 →1, oxygen →2, SBP 112 →0, pulse 92 →1, A, 38.2 →1: total 5.
    result = score_news2(_obs(respiration_rate=18, spo2=94, on_oxygen=True, systolic_bp=112, pulse=92,
                              temperature=38.2))  # fmt: skip
    assert (result.total, result.risk, result.colour, result.alert) == (5, "medium", "orange", True)
    assert not result.any_single_three


def test_single_three_is_low_medium_and_alerts() -> None:
    result = score_news2(_obs(consciousness="C"))
    assert (result.total, result.risk, result.colour, result.alert) == (3, "low-medium", "yellow", True)


def test_total_four_without_a_three_is_low_and_silent() -> None:
    # RR 21 →2, pulse 111 →2: total 4.
    result = score_news2(_obs(respiration_rate=21, pulse=111))
    assert (result.total, result.risk, result.alert) == (4, "low", False)


def test_scale2_used_only_when_asked() -> None:
    hypercapnic = _obs(spo2=89, on_oxygen=True, spo2_scale=2)
    assert score_news2(hypercapnic).scores["spo2"] == 0
    assert score_news2(_obs(spo2=89, on_oxygen=True)).scores["spo2"] == 3


@pytest.mark.parametrize(
    ("total", "single_three", "band"),
    [(0, False, "low"), (4, False, "low"), (3, True, "low-medium"), (4, True, "low-medium"), (5, False, "medium"),
     (6, True, "medium"), (7, False, "high"), (20, True, "high")],
)  # fmt: skip
def test_risk_band_boundaries(total: int, single_three: bool, band: str) -> None:
    assert risk_band(total, single_three) == band


def test_alert_predicate() -> None:
    assert not is_alert(4, False)
    assert is_alert(5, False)
    assert is_alert(3, True)
    assert is_alert(0, True)
