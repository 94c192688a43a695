"""Medication frequency text → schedule → FHIR Dosage/Timing → schedule (issue 7)."""

from __future__ import annotations

from datetime import time
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from benhan.clinical.frequency import (
    DoseSlot,
    FrequencyParseError,
    Schedule,
    describe_vi,
    parse_frequency,
    schedule_from_fhir_dosages,
    schedule_from_fhir_timing,
    to_fhir_dosages,
    to_fhir_timing,
)

ONE = Decimal(1)


def test_morning_and_afternoon_tablets() -> None:
    s = parse_frequency("sáng 1 viên, chiều 1 viên")
    assert s.slots == (DoseSlot(when="MORN", dose=ONE), DoseSlot(when="AFT", dose=ONE))
    assert (s.frequency, s.period, s.period_unit, s.dose_unit) == (2, ONE, "d", "viên")
    assert to_fhir_timing(s) == {"repeat": {"when": ["MORN", "AFT"], "frequency": 2, "period": 1, "periodUnit": "d"}}


@pytest.mark.parametrize("text", ["sáng 1 trưa 1 tối 1", "SANG 1 TRUA 1 TOI 1", "Sáng 1; trưa 1 - tối 1"])
def test_three_times_of_day_without_unit(text: str) -> None:
    s = parse_frequency(text)
    assert [x.when for x in s.slots] == ["MORN", "NOON", "EVE"]
    assert all(x.dose == ONE for x in s.slots)
    assert s.dose_unit is None


def test_evening_only() -> None:
    s = parse_frequency("tối 1 viên")
    assert s.slots == (DoseSlot(when="EVE", dose=ONE),)
    assert s.frequency == 1


def test_slots_are_sorted_by_time_of_day() -> None:
    s = parse_frequency("tối 1 viên, sáng 2 viên")
    assert [(x.when, x.dose) for x in s.slots] == [("MORN", Decimal(2)), ("EVE", ONE)]


@pytest.mark.parametrize(
    ("text", "dose"),
    [("sáng 1/2 viên", Decimal("0.5")), ("sáng ½ viên", Decimal("0.5")), ("sáng 1,5 viên", Decimal("1.5"))],
)
def test_fractional_doses(text: str, dose: Decimal) -> None:
    assert parse_frequency(text).slots[0].dose == dose


@pytest.mark.parametrize(
    ("text", "frequency", "period", "unit"),
    [("ngày 2 lần", 2, 1, "d"), ("1 lần/ngày", 1, 1, "d"), ("2 lần / ngày", 2, 1, "d"), ("ngày uống 3 lần", 3, 1, "d"),
     ("tuần 2 lần", 2, 1, "wk"), ("mỗi 8 giờ", 1, 8, "h"), ("cách 6 tiếng", 1, 6, "h"), ("8 giờ/lần", 1, 8, "h"),
     ("q8h", 1, 8, "h"), ("Q 12 H", 1, 12, "h"), ("every 4 hours", 1, 4, "h"), ("mỗi 30 phút", 1, 30, "min"),
     ("bid", 2, 1, "d"), ("TID", 3, 1, "d"), ("qid", 4, 1, "d"), ("qd", 1, 1, "d"), ("qod", 1, 2, "d")],
)  # fmt: skip
def test_counts_and_intervals(text: str, frequency: int, period: int, unit: str) -> None:
    s = parse_frequency(text)
    assert (s.frequency, s.period, s.period_unit, s.slots) == (frequency, Decimal(period), unit, ())
    assert to_fhir_timing(s) == {"repeat": {"frequency": frequency, "period": period, "periodUnit": unit}}


@pytest.mark.parametrize("text", ["ngày 2 lần, mỗi lần 1 viên", "1 viên x 2 lần/ngày", "2 lần/ngày, 1 viên/lần"])
def test_dose_per_administration(text: str) -> None:
    s = parse_frequency(text)
    assert (s.frequency, s.dose, s.dose_unit) == (2, ONE, "viên")


@pytest.mark.parametrize(("text", "reason"), [("PRN", None), ("prn", None), ("khi cần", None), ("khi đau", "khi đau"),
                                              ("khi sốt", "khi sốt"), ("nếu cần", None)])  # fmt: skip
def test_as_needed(text: str, reason: str | None) -> None:
    s = parse_frequency(text)
    assert s.as_needed
    assert s.as_needed_reason == reason
    assert s.slots == ()
    assert s.frequency is None
    (dosage,) = to_fhir_dosages(s)
    assert "timing" not in dosage
    if reason:
        assert dosage["asNeededCodeableConcept"] == {"text": reason}
    else:
        assert dosage["asNeededBoolean"] is True


def test_interval_as_needed() -> None:
    s = parse_frequency("mỗi 6 giờ khi cần")
    assert s.as_needed
    assert (s.frequency, s.period, s.period_unit) == (1, Decimal(6), "h")


def test_as_needed_with_daily_maximum() -> None:
    s = parse_frequency("khi đau, tối đa 4 lần/ngày")
    assert s.as_needed
    assert s.frequency_max == 4
    assert s.frequency is None
    assert to_fhir_timing(s) == {"repeat": {"frequencyMax": 4, "period": 1, "periodUnit": "d"}}


def test_clock_times() -> None:
    s = parse_frequency("8h 1 viên, 20h 1 viên")
    assert [x.time_of_day for x in s.slots] == [time(8), time(20)]
    timing = to_fhir_timing(s)
    assert timing["repeat"]["timeOfDay"] == ["08:00:00", "20:00:00"]
    assert "when" not in timing["repeat"]  # FHIR invariant tim-10


def test_bedtime_latin() -> None:
    assert parse_frequency("hs").slots == (DoseSlot(when="HS"),)
    assert parse_frequency("trước khi ngủ 1 viên").slots == (DoseSlot(when="HS", dose=ONE),)


def test_count_that_matches_times_of_day() -> None:
    s = parse_frequency("ngày 2 lần sáng chiều, mỗi lần 1 viên")
    assert [x.when for x in s.slots] == ["MORN", "AFT"]
    assert all(x.dose == ONE for x in s.slots)


@pytest.mark.parametrize(
    "text",
    ["", "   ", "abc", "uống nhiều nước", "ngày 3 lần sáng chiều", "mỗi 8 giờ ngày 2 lần", "sáng 1 viên 7",
     "sáng 1 viên, sáng 2 viên", "sáng 1 viên, 20h 1 viên", "sáng 1 viên, tối 5 ml", "mỗi 6 giờ, tối đa 3 lần/ngày",
     "25h 1 viên", "sáng 1/0 viên", "ngày 2 lần, mỗi lần 1 viên, 2 viên"],
)  # fmt: skip
def test_garbage_and_contradictions_are_refused(text: str) -> None:
    with pytest.raises(FrequencyParseError) as info:
        parse_frequency(text)
    assert info.value.message_vi
    assert info.value.message_en


def test_different_doses_become_concurrent_dosages() -> None:
    dosages = to_fhir_dosages(parse_frequency("sáng 2 viên, tối 1 viên"), text="sáng 2 viên, tối 1 viên")
    assert [d["sequence"] for d in dosages] == [1, 1]
    assert [d["timing"]["repeat"]["when"] for d in dosages] == [["MORN"], ["EVE"]]
    assert [d["doseAndRate"][0]["doseQuantity"] for d in dosages] == [
        {"value": 2, "unit": "viên"}, {"value": 1, "unit": "viên"}]  # fmt: skip
    assert dosages[0]["text"] == "sáng 2 viên, tối 1 viên"
    assert "text" not in dosages[1]


@pytest.mark.parametrize(
    "text",
    ["sáng 1 viên, chiều 1 viên", "sáng 2 viên, tối 1 viên", "sáng 1 trưa 1 tối 1", "ngày 2 lần, mỗi lần 1 viên",
     "mỗi 8 giờ", "PRN", "khi đau, tối đa 4 lần/ngày", "8h 1 viên, 20h 1/2 viên", "qod", "tuần 2 lần"],
)  # fmt: skip
def test_text_round_trips_through_fhir(text: str) -> None:
    s = parse_frequency(text)
    assert schedule_from_fhir_dosages(to_fhir_dosages(s)) == s


def test_timing_round_trip_without_doses() -> None:
    s = parse_frequency("sáng chiều")
    assert schedule_from_fhir_timing(to_fhir_timing(s)) == s


def test_unsupported_fhir_period_unit() -> None:
    with pytest.raises(FrequencyParseError):
        schedule_from_fhir_timing({"repeat": {"frequency": 1, "period": 1, "periodUnit": "mo"}})
    with pytest.raises(FrequencyParseError):
        schedule_from_fhir_dosages([])


@pytest.mark.parametrize(
    ("text", "expected"),
    [("sáng 1 viên, chiều 1 viên", "sáng 1 viên, chiều 1 viên"), ("sáng 1/2 viên", "sáng 0,5 viên"),
     ("mỗi 8 giờ", "mỗi 8 giờ"), ("ngày 2 lần, mỗi lần 1 viên", "2 lần/ngày, mỗi lần 1 viên"),
     ("khi đau, tối đa 4 lần/ngày", "khi đau, tối đa 4 lần/ngày"), ("8h 1 viên", "08:00 1 viên")],
)  # fmt: skip
def test_describe_vi(text: str, expected: str) -> None:
    assert describe_vi(parse_frequency(text)) == expected


def test_describe_vi_reparses_to_the_same_schedule() -> None:
    for text in ("sáng 2 viên, tối 1 viên", "ngày 3 lần, mỗi lần 2 viên", "mỗi 6 giờ", "khi sốt"):
        s = parse_frequency(text)
        assert parse_frequency(describe_vi(s)) == s


_WHEN = st.sampled_from(["MORN", "NOON", "AFT", "EVE", "NIGHT", "HS"])
_DOSES = st.sampled_from([None, Decimal("0.5"), Decimal(1), Decimal(2), Decimal("2.5")])


@st.composite
def _schedules(draw: st.DrawFn) -> Schedule:
    kind = draw(st.sampled_from(["when", "clock", "count", "interval"]))
    unit = draw(st.sampled_from([None, "viên", "ml"]))
    prn = draw(st.booleans())
    if kind == "when":
        codes = draw(st.lists(_WHEN, min_size=1, max_size=4, unique=True))
        slots = tuple(DoseSlot(when=c, dose=draw(_DOSES)) for c in codes)
    elif kind == "clock":
        hours = draw(st.lists(st.integers(0, 23), min_size=1, max_size=4, unique=True))
        slots = tuple(DoseSlot(time_of_day=time(h), dose=draw(_DOSES)) for h in hours)
    if kind in ("when", "clock"):
        return Schedule(slots=slots, frequency=len(slots), period=ONE, period_unit="d", dose_unit=unit, as_needed=prn)
    period = Decimal(draw(st.integers(1, 12)))
    return Schedule(frequency=draw(st.integers(1, 6)), period=period, period_unit="h" if kind == "interval" else "d",
                    dose=draw(_DOSES), dose_unit=unit, as_needed=prn)  # fmt: skip


@given(_schedules())
def test_fhir_round_trip_property(s: Schedule) -> None:
    back = schedule_from_fhir_dosages(to_fhir_dosages(s))
    assert set(back.slots) == set(s.slots)
    assert (back.frequency, back.period, back.period_unit, back.as_needed) == (
        s.frequency, s.period, s.period_unit, s.as_needed)  # fmt: skip
    assert back.dose == s.dose
    has_dose = s.dose is not None or any(x.dose is not None for x in s.slots)
    assert back.dose_unit == (s.dose_unit if has_dose else None)
