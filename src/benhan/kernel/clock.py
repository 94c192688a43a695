"""Time in one place, so tests can reason about it. Vietnam is UTC+7 with no daylight saving."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

VN_TZ = timezone(timedelta(hours=7), "ICT")


def now() -> datetime:
    """Now, truncated to milliseconds: stored timestamps then equal the ``meta.lastUpdated`` clients see,
    so ``_since``/``_at`` given a value read from a resource select exactly that version."""
    t = datetime.now(UTC)
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


def fhir_instant(dt: datetime) -> str:
    """FHIR instant with millisecond precision and an explicit offset (datatypes.html#instant), in UTC:
    ``dt.astimezone(UTC).isoformat(timespec="milliseconds")`` with ``Z``, formatted directly (every write
    stamps one and every audit record holds one: 0.7 instead of 1.8 us)."""
    if dt.tzinfo is not UTC:
        dt = dt.astimezone(UTC)
    return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (  # noqa: UP031 (twice as fast as the f-string)
        dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second, dt.microsecond // 1000)


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
