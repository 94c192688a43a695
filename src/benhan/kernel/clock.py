"""Time in one place, so tests can reason about it. Vietnam is UTC+7 with no daylight saving."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone

VN_TZ = timezone(timedelta(hours=7), "ICT")


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: the last millisecond asked for, its datetime and (once asked for) its FHIR instant: a busy server asks
#: several times per millisecond (each request's audit record and write stamps one)
_last: tuple[int, datetime] = (-1, _EPOCH)
_last_instant: tuple[datetime, str] = (_EPOCH, "1970-01-01T00:00:00.000Z")


def now() -> datetime:
    """Now, truncated to milliseconds: stored timestamps then equal the ``meta.lastUpdated`` clients see,
    so ``_since``/``_at`` given a value read from a resource select exactly that version.  Within one
    millisecond the same (immutable) object: 0.9 -> 0.3 us."""
    global _last
    ms = time.time_ns() // 1_000_000
    last = _last
    if last[0] == ms:
        return last[1]
    found = _EPOCH + timedelta(milliseconds=ms)
    _last = (ms, found)
    return found


def fhir_instant(dt: datetime) -> str:
    """FHIR instant with millisecond precision and an explicit offset (datatypes.html#instant), in UTC:
    ``dt.astimezone(UTC).isoformat(timespec="milliseconds")`` with ``Z``, formatted directly (every write
    stamps one and every audit record holds one: 0.7 instead of 1.8 us)."""
    global _last_instant
    last = _last_instant
    if dt is last[0]:  # the datetime :func:`now` gave for this millisecond
        return last[1]
    if dt.tzinfo is not UTC:
        dt = dt.astimezone(UTC)
    found = "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (  # noqa: UP031 (twice as fast as the f-string)
        dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second, dt.microsecond // 1000)
    _last_instant = (dt, found)
    return found


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def http_date(dt: datetime) -> str:
    """An HTTP date (RFC 9110 section 5.6.7, IMF-fixdate: ``Sun, 06 Nov 1994 08:49:37 GMT``) for the
    ``Last-Modified`` of every read: ``email.utils.format_datetime(dt, usegmt=True)``, formatted directly
    (4.4 -> 1.2 us on a slow 2-core VM)."""
    if dt.tzinfo is not UTC:
        dt = dt.astimezone(UTC)
    return "%s, %02d %s %04d %02d:%02d:%02d GMT" % (  # noqa: UP031 (as in fhir_instant)
        _DAYS[dt.weekday()], dt.day, _MONTHS[dt.month - 1], dt.year, dt.hour, dt.minute, dt.second)
