"""``clock.fhir_instant``: a FHIR instant in UTC with milliseconds (datatypes.html#instant); ``clock.http_date``:
an HTTP date (RFC 9110 section 5.6.7)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from benhan.kernel.clock import VN_TZ, fhir_instant, http_date


def test_same_text_as_isoformat_in_utc() -> None:
    rng = random.Random(7)
    start = datetime(1, 1, 2, tzinfo=UTC)
    for _ in range(2000):
        dt = start + timedelta(microseconds=rng.randrange(int(3.1e17)))
        for zoned in (dt, dt.astimezone(VN_TZ)):
            expected = dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")
            assert fhir_instant(zoned) == expected


def test_examples() -> None:
    assert fhir_instant(datetime(2025, 3, 1, 8, 0, tzinfo=VN_TZ)) == "2025-03-01T01:00:00.000Z"
    assert fhir_instant(datetime(999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)) == "0999-12-31T23:59:59.999Z"


def test_http_date_is_the_standard_librarys_imf_fixdate() -> None:
    rng = random.Random(11)
    start = datetime(1900, 1, 1, tzinfo=UTC)
    for _ in range(2000):
        dt = start + timedelta(microseconds=rng.randrange(int(6.3e15)))
        for zoned in (dt, dt.astimezone(VN_TZ)):
            assert http_date(zoned) == format_datetime(dt, usegmt=True)
    assert http_date(datetime(1994, 11, 6, 15, 49, 37, tzinfo=VN_TZ)) == "Sun, 06 Nov 1994 08:49:37 GMT"
