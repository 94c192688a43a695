"""Administration times of a FHIR R4 ``Timing`` in a time window (for the eMAR and the nurses' summary).

Vietnam keeps one offset, UTC+7, with no daylight saving (Asia/Ho_Chi_Minh), so a fixed offset is
exact for any date after 1975 and needs no time-zone database. Any ``tzinfo`` may be passed instead.

Which clock times a vague ``when`` code (``MORN`` …) or "n times a day" means is a facility habit, not
a standard; the defaults below follow the Vietnamese ward day (sáng 8 h, trưa 12 h, chiều 16 h,
tối 20 h) and are parameters of :func:`schedule_doses`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import Any

VIETNAM_TZ = timezone(timedelta(hours=7), "ICT")
"""Asia/Ho_Chi_Minh: UTC+7, no DST."""

# FHIR R4 valueset-event-timing codes → local clock time.
DEFAULT_WHEN_TIMES: Mapping[str, time] = {
    "WAKE": time(6), "MORN": time(8), "MORN.early": time(7), "MORN.late": time(10),
    "NOON": time(12), "AFT": time(16), "AFT.early": time(14), "AFT.late": time(17),
    "EVE": time(20), "EVE.early": time(18), "EVE.late": time(21), "NIGHT": time(22),
    "PHS": time(21), "HS": time(21),
    "C": time(7), "CM": time(7), "CD": time(12), "CV": time(18),
    "AC": time(6, 30), "ACM": time(6, 30), "ACD": time(11, 30), "ACV": time(17, 30),
    "PC": time(7, 30), "PCM": time(7, 30), "PCD": time(12, 30), "PCV": time(18, 30),
}  # fmt: skip

# "n times a day" without times: spread over the waking day, then evenly from 08:00.
DEFAULT_DAILY_TIMES: Mapping[int, tuple[time, ...]] = {
    1: (time(8),),
    2: (time(8), time(20)),
    3: (time(8), time(14), time(20)),
    4: (time(8), time(12), time(16), time(20)),
}

_UNIT_SECONDS = {"s": 1, "min": 60, "h": 3600, "d": 86400, "wk": 604800, "mo": 2629800, "a": 31557600}
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def daily_times(frequency: int, table: Mapping[int, tuple[time, ...]] = DEFAULT_DAILY_TIMES) -> tuple[time, ...]:
    if frequency in table:
        return table[frequency]
    step = 24 * 60 // frequency
    return tuple(time(((8 * 60 + i * step) // 60) % 24, (8 * 60 + i * step) % 60) for i in range(frequency))


def schedule_doses(
    timing: Mapping[str, Any],
    start: datetime,
    end: datetime,
    tz: tzinfo = VIETNAM_TZ,
    *,
    anchor: datetime | None = None,
    when_times: Mapping[str, time] = DEFAULT_WHEN_TIMES,
    daily_table: Mapping[int, tuple[time, ...]] = DEFAULT_DAILY_TIMES,
) -> list[datetime]:
    """Administration datetimes of ``timing`` in ``[start, end)``, aware, in ``tz``, sorted.

    ``anchor`` is when the order started (default: ``repeat.boundsPeriod.start``, else ``start``);
    interval schedules ("every 8 h") count from it, so a dose at 22:00 yesterday gives 06:00 today.
    A Timing without ``repeat`` or ``event`` (e.g. a PRN order) has no scheduled doses.
    """
    if start.tzinfo is None or end.tzinfo is None or (anchor is not None and anchor.tzinfo is None):
        raise ValueError("start, end and anchor must be timezone-aware datetimes")
    events = [_parse_dt(e, tz) for e in timing.get("event", [])]
    repeat: Mapping[str, Any] = timing.get("repeat") or {}
    start, end, bounds_start = _apply_bounds(repeat, start, end, tz)
    anchor = anchor or bounds_start or start
    if not repeat:
        times = events
    elif _local_times(repeat, when_times) or _is_daily(repeat):
        times = _daily_series(repeat, start, end, anchor, tz, when_times, daily_table)
    else:
        times = _interval_series(repeat, start, end, anchor)
    if "count" in repeat:
        times = _first_count(repeat, anchor, end, tz, when_times, daily_table)
    return sorted(t.astimezone(tz) for t in times if start <= t < end)


def _apply_bounds(
    repeat: Mapping[str, Any], start: datetime, end: datetime, tz: tzinfo
) -> tuple[datetime, datetime, datetime | None]:
    bounds = repeat.get("boundsPeriod") or {}
    b_start = _parse_dt(bounds["start"], tz) if "start" in bounds else None
    b_end = _parse_dt(bounds["end"], tz) if "end" in bounds else None
    if b_start is not None:
        start = max(start, b_start)
    if b_end is not None:
        # FHIR Period.end is inclusive; a date-only end covers that whole day.
        b_end = b_end + timedelta(days=1) if len(bounds["end"]) == 10 else b_end + timedelta(microseconds=1)
        end = min(end, b_end)
    return start, end, b_start


def _parse_dt(value: str, tz: tzinfo) -> datetime:
    if len(value) == 10:  # FHIR dateTime may be a bare date: midnight local time
        return datetime.combine(date.fromisoformat(value), time(0), tz)
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=tz)


def _local_times(repeat: Mapping[str, Any], when_times: Mapping[str, time]) -> tuple[time, ...]:
    if repeat.get("timeOfDay"):
        return tuple(time.fromisoformat(t) for t in repeat["timeOfDay"])
    if repeat.get("when"):
        missing = [w for w in repeat["when"] if w not in when_times]
        if missing:
            raise ValueError(f"no clock time configured for Timing.repeat.when {missing}")
        return tuple(when_times[w] for w in repeat["when"])
    return ()


def _is_daily(repeat: Mapping[str, Any]) -> bool:
    # "n times every p days" is read as clock-aligned times; other periods as a fixed interval.
    unit, period = repeat.get("periodUnit"), repeat.get("period", 1)
    return unit == "d" and (period == 1 or repeat.get("frequency", 1) == 1)


def _daily_series(
    repeat: Mapping[str, Any], start: datetime, end: datetime, anchor: datetime, tz: tzinfo,
    when_times: Mapping[str, time], daily_table: Mapping[int, tuple[time, ...]],
) -> list[datetime]:  # fmt: skip
    times = _local_times(repeat, when_times) or daily_times(int(repeat.get("frequency", 1)), daily_table)
    every = int(repeat.get("period", 1)) if repeat.get("periodUnit") == "d" else 1
    weekdays = set(repeat.get("dayOfWeek", []))
    # From the day before the window (a dose time never precedes its local day), not from the anchor: an
    # order running for weeks would otherwise generate every past day's times only to drop them.  The
    # cycle of "every p days" stays aligned on the anchor's day (on_cycle below).
    first_day = start.astimezone(tz).date() - timedelta(days=1)
    anchor_day = anchor.astimezone(tz).date()
    out: list[datetime] = []
    day = first_day
    while day <= end.astimezone(tz).date():
        on_cycle = (day - anchor_day).days % every == 0
        if on_cycle and (not weekdays or _WEEKDAYS[day.weekday()] in weekdays):
            out.extend(datetime.combine(day, t, tz) for t in times)
        day += timedelta(days=1)
    return out


def _interval(repeat: Mapping[str, Any]) -> timedelta:
    unit = repeat.get("periodUnit")
    if unit not in _UNIT_SECONDS or "period" not in repeat:
        raise ValueError("Timing.repeat needs period and periodUnit (tim-2)")
    seconds = float(repeat["period"]) * _UNIT_SECONDS[unit] / float(repeat.get("frequency", 1))
    if seconds <= 0:
        raise ValueError("Timing.repeat.period must be positive")
    return timedelta(seconds=seconds)


def _interval_series(repeat: Mapping[str, Any], start: datetime, end: datetime, anchor: datetime) -> list[datetime]:
    step = _interval(repeat)
    k = max(0, math.ceil((start - anchor) / step))
    out: list[datetime] = []
    t = anchor + k * step
    while t < end:
        out.append(t)
        t += step
    return out


def _first_count(
    repeat: Mapping[str, Any], anchor: datetime, end: datetime, tz: tzinfo,
    when_times: Mapping[str, time], daily_table: Mapping[int, tuple[time, ...]],
) -> list[datetime]:  # fmt: skip
    """``repeat.count``: only the first ``count`` doses from the anchor are given."""
    count = int(repeat["count"])
    if _local_times(repeat, when_times) or _is_daily(repeat):
        every = int(repeat.get("period", 1)) if repeat.get("periodUnit") == "d" else 1
        horizon = anchor + timedelta(days=(count + 2) * every)
        series = _daily_series(repeat, anchor, horizon, anchor, tz, when_times, daily_table)
    else:
        series = _interval_series(repeat, anchor, anchor + _interval(repeat) * count, anchor)
    return sorted(t for t in series if t >= anchor)[:count]
