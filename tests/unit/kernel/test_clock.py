"""``clock.now``: the current millisecond; ``clock.fhir_instant``: a FHIR instant in UTC with milliseconds
(datatypes.html#instant); ``clock.http_date``: an HTTP date (RFC 9110 section 5.6.7)."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from benhan.kernel import clock
from benhan.kernel.clock import VN_TZ, fhir_instant, http_date


def _instants(seed: int, start: datetime, span_us: float) -> Iterator[tuple[datetime, datetime]]:
    """2,000 random UTC instants from ``start``, each with the same instant in Vietnam time."""
    rng = random.Random(seed)
    for _ in range(2000):
        dt = start + timedelta(microseconds=rng.randrange(int(span_us)))
        yield dt, dt.astimezone(VN_TZ)


def test_same_text_as_isoformat_in_utc() -> None:
    for dt, in_vietnam in _instants(7, datetime(1, 1, 2, tzinfo=UTC), 3.1e17):
        expected = dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        assert fhir_instant(dt) == expected
        assert fhir_instant(in_vietnam) == expected


def test_examples() -> None:
    assert fhir_instant(datetime(2025, 3, 1, 8, 0, tzinfo=VN_TZ)) == "2025-03-01T01:00:00.000Z"
    assert fhir_instant(datetime(999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)) == "0999-12-31T23:59:59.999Z"


def test_http_date_is_the_standard_librarys_imf_fixdate() -> None:
    for dt, in_vietnam in _instants(11, datetime(1900, 1, 1, tzinfo=UTC), 6.3e15):
        assert http_date(dt) == format_datetime(dt, usegmt=True)
        assert http_date(in_vietnam) == format_datetime(dt, usegmt=True)
    assert http_date(datetime(1994, 11, 6, 15, 49, 37, tzinfo=VN_TZ)) == "Sun, 06 Nov 1994 08:49:37 GMT"


def test_now_is_the_current_millisecond_in_utc_and_one_object_within_it() -> None:
    before = datetime.now(UTC)
    seen = [clock.now() for _ in range(2000)]
    after = datetime.now(UTC)
    for t in seen:
        assert t.tzinfo is UTC
        assert t.microsecond % 1000 == 0
        assert before.replace(microsecond=before.microsecond // 1000 * 1000) <= t <= after
    assert seen == sorted(seen)
    for a, b in itertools.pairwise(seen):
        assert (a is b) == (a == b)  # the same millisecond: the same object, else a new one
    assert fhir_instant(seen[-1]) == seen[-1].isoformat(timespec="milliseconds").replace("+00:00", "Z")
    assert fhir_instant(seen[-1]) is fhir_instant(seen[-1])  # formatted once per millisecond
