"""Administration times of a FHIR Timing: UTC+7, across midnight, anchors, bounds, count (issue 7)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from benhan.clinical.dose_times import VIETNAM_TZ, daily_times, schedule_doses
from benhan.clinical.frequency import parse_frequency, to_fhir_timing

VN = VIETNAM_TZ


def vn(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2025, month, day, hour, minute, tzinfo=VN)


def timing(text: str) -> dict[str, object]:
    return to_fhir_timing(parse_frequency(text))


def test_vietnam_offset_is_plus_seven_all_year() -> None:
    for month in (1, 4, 7, 10):  # no DST: the same offset in every season
        assert datetime(2025, month, 1, tzinfo=VN).utcoffset() == timedelta(hours=7)
        assert datetime(2025, month, 1, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh")).utcoffset() == timedelta(hours=7)


def test_times_of_day_in_local_time() -> None:
    doses = schedule_doses(timing("sáng 1 viên, chiều 1 viên"), vn(1, 0), vn(2, 0))
    assert doses == [vn(1, 8), vn(1, 16)]
    assert all(d.utcoffset() == timedelta(hours=7) for d in doses)
    assert doses[0].astimezone(UTC).hour == 1  # 08:00 in Vietnam is 01:00 UTC


def test_window_given_in_utc_is_converted() -> None:
    start, end = datetime(2025, 2, 28, 17, tzinfo=UTC), datetime(2025, 3, 1, 17, tzinfo=UTC)  # = 1/3 local day
    assert schedule_doses(timing("ngày 2 lần"), start, end) == [vn(1, 8), vn(1, 20)]


def test_q8h_across_midnight_from_the_order_anchor() -> None:
    doses = schedule_doses(timing("mỗi 8 giờ"), vn(1, 0), vn(2, 0), anchor=vn(28, 22, month=2))
    assert doses == [vn(1, 6), vn(1, 14), vn(1, 22)]


def test_q8h_window_spanning_midnight() -> None:
    doses = schedule_doses(timing("q8h"), vn(1, 20), vn(2, 8), anchor=vn(1, 22))
    assert doses == [vn(1, 22), vn(2, 6)]
    assert doses[1].date() != doses[0].date()


def test_night_shift_window_across_midnight() -> None:
    # Night shift 19:00 → 07:00: the evening, night and the next morning's early dose.
    t = {"repeat": {"when": ["EVE", "NIGHT", "WAKE"], "frequency": 3, "period": 1, "periodUnit": "d"}}
    assert schedule_doses(t, vn(1, 19), vn(2, 7)) == [vn(1, 20), vn(1, 22), vn(2, 6)]


def test_end_is_exclusive_and_start_inclusive() -> None:
    assert schedule_doses(timing("sáng 1 viên"), vn(1, 8), vn(2, 8)) == [vn(1, 8)]


def test_standard_daily_times() -> None:
    assert schedule_doses(timing("ngày 3 lần"), vn(1, 0), vn(2, 0)) == [vn(1, 8), vn(1, 14), vn(1, 20)]
    assert [t.hour for t in daily_times(6)] == [8, 12, 16, 20, 0, 4]  # evenly from 08:00, crossing midnight
    six = schedule_doses({"repeat": {"frequency": 6, "period": 1, "periodUnit": "d"}}, vn(1, 0), vn(2, 0))
    assert [d.hour for d in six] == [0, 4, 8, 12, 16, 20]


def test_every_other_day_counts_from_the_anchor() -> None:
    doses = schedule_doses(timing("qod"), vn(1, 0), vn(7, 0), anchor=vn(2, 9))
    assert doses == [vn(2, 8), vn(4, 8), vn(6, 8)]


def test_clock_times() -> None:
    assert schedule_doses(timing("8h 1 viên, 22h 1 viên"), vn(1, 0), vn(2, 0)) == [vn(1, 8), vn(1, 22)]


def test_prn_has_no_scheduled_doses() -> None:
    assert schedule_doses(timing("khi cần"), vn(1, 0), vn(2, 0)) == []


def test_bounds_period_limits_and_anchors() -> None:
    bounds = {"start": "2025-03-01T10:00:00+07:00", "end": "2025-03-02T10:00:00+07:00"}
    t = {"repeat": {"frequency": 1, "period": 12, "periodUnit": "h", "boundsPeriod": bounds}}
    assert schedule_doses(t, vn(1, 0), vn(5, 0)) == [vn(1, 10), vn(1, 22), vn(2, 10)]  # end is inclusive


def test_bounds_with_date_only_end_covers_the_day() -> None:
    t = {"repeat": {"when": ["EVE"], "boundsPeriod": {"start": "2025-03-01", "end": "2025-03-02"}}}
    assert schedule_doses(t, vn(1, 0), vn(5, 0)) == [vn(1, 20), vn(2, 20)]


def test_count_limits_the_course() -> None:
    t = {"repeat": {"count": 3, "frequency": 1, "period": 8, "periodUnit": "h"}}
    assert schedule_doses(t, vn(1, 0), vn(5, 0), anchor=vn(1, 22)) == [vn(1, 22), vn(2, 6), vn(2, 14)]
    daily = {"repeat": {"count": 3, "when": ["MORN", "EVE"]}}
    assert schedule_doses(daily, vn(1, 0), vn(5, 0), anchor=vn(1, 9)) == [vn(1, 20), vn(2, 8), vn(2, 20)]


def test_day_of_week() -> None:
    t = {"repeat": {"when": ["MORN"], "dayOfWeek": ["mon", "thu"]}}
    doses = schedule_doses(t, vn(3, 0), vn(10, 0))  # 3 March 2025 is a Monday
    assert doses == [vn(3, 8), vn(6, 8)]


def test_explicit_events() -> None:
    t = {"event": ["2025-03-01T09:30:00+07:00", "2025-03-03T09:30:00+07:00"]}
    assert schedule_doses(t, vn(1, 0), vn(2, 0)) == [vn(1, 9, 30)]


def test_custom_clock_for_when_codes() -> None:
    doses = schedule_doses(timing("sáng 1 viên"), vn(1, 0), vn(2, 0), when_times={"MORN": time(7, 30)})
    assert doses == [vn(1, 7, 30)]


def test_other_time_zone_object_gives_the_same_instants() -> None:
    zone = ZoneInfo("Asia/Ho_Chi_Minh")
    a = schedule_doses(timing("mỗi 6 giờ"), vn(1, 0), vn(2, 0), anchor=vn(1, 2))
    b = schedule_doses(timing("mỗi 6 giờ"), vn(1, 0), vn(2, 0), zone, anchor=vn(1, 2))
    assert a == b
    assert [d.hour for d in b] == [2, 8, 14, 20]


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        schedule_doses(timing("ngày 2 lần"), datetime(2025, 3, 1), vn(2, 0))


def test_bad_timing() -> None:
    with pytest.raises(ValueError, match="periodUnit"):
        schedule_doses({"repeat": {"frequency": 1}}, vn(1, 0), vn(2, 0))
    with pytest.raises(ValueError, match="clock time"):
        schedule_doses({"repeat": {"when": ["XYZ"]}}, vn(1, 0), vn(2, 0))
    with pytest.raises(ValueError, match="positive"):
        schedule_doses({"repeat": {"frequency": 1, "period": 0, "periodUnit": "h"}}, vn(1, 0), vn(2, 0))


def test_empty_window() -> None:
    assert schedule_doses(timing("q8h"), vn(2, 0), vn(1, 0)) == []
