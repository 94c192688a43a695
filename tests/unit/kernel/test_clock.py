"""``clock.fhir_instant``: a FHIR instant in UTC with milliseconds (datatypes.html#instant)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from benhan.kernel.clock import VN_TZ, fhir_instant


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
