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
    """FHIR instant with millisecond precision and an explicit offset (datatypes.html#instant)."""
    return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
