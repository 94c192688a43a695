"""Typed search values: implicit date ranges, decimal precision ranges and simple UCUM canonical units.

Shared by index extraction (stored values) and query parsing (search values) so both sides use the
same rules (FHIR R4 search.html#date, #number, #quantity).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Final

#: FHIR types a quantity search parameter indexes (Quantity and its profiles, Money); a choice of another type
#: (SampledData) yields no quantity rows
QUANTITY_TYPES: Final = frozenset({"Quantity", "Age", "Duration", "Distance", "Count", "SimpleQuantity", "Money"})

__all__ = [
    "LOCAL_TZ",
    "MAX_INSTANT",
    "MIN_INSTANT",
    "UCUM",
    "canonical_quantity",
    "date_range",
    "decimal_range",
    "parse_decimal",
    "ucum_factor",
]

#: Date values without a time zone are read in Vietnam time (UTC+7, no daylight saving):
#: FHIR R4 search.html#date leaves the zone of such values to the server.
LOCAL_TZ: Final = timezone(timedelta(hours=7))
MIN_INSTANT: Final = datetime(1, 1, 2, tzinfo=UTC)
MAX_INSTANT: Final = datetime(9999, 12, 30, tzinfo=UTC)
UCUM: Final = "http://unitsofmeasure.org"

_DATE = re.compile(
    r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?"
    r"(Z|[+-]\d{2}:\d{2})?)?)?)?$"
)


_SECOND: Final = timedelta(seconds=1)


def _add_months(d: datetime, months: int) -> datetime:
    y, m = divmod(d.month - 1 + months, 12)
    return d.replace(year=d.year + y, month=m + 1)


@lru_cache(maxsize=64)
def _tz(text: str | None) -> timezone:
    if not text:
        return LOCAL_TZ
    if text == "Z":
        return UTC
    sign = 1 if text[0] == "+" else -1
    return timezone(sign * timedelta(hours=int(text[1:3]), minutes=int(text[4:6])))


def date_range(text: str) -> tuple[datetime, datetime] | None:
    """The implicit range ``[low, high)`` of a FHIR date/dateTime/instant by its precision.

    ``2025`` → the whole year, ``2025-03`` → March, ``2025-03-04T10:00+07:00`` → that minute, a value
    with seconds → that second (or that millisecond when fractions are given). None when malformed.
    """
    text = text.strip()
    if len(text) in (20, 25) and text[10] == "T" and text[19] in "Z+-":
        # Fast path for the commonest form, seconds with a zone ("2025-03-04T10:00:00+07:00" or "…Z"):
        # the regex and the field-by-field construction cost ~4x more (index extraction, bulk loads).
        try:
            low = datetime.fromisoformat(text)
        except ValueError:
            return None
        if _DATE.match(text):
            return low, low + _SECOND
    m = _DATE.match(text)
    if not m:
        return None
    year, month, day, hh, mi, ss, frac, tz = m.groups()
    try:
        low = datetime(int(year), int(month or 1), int(day or 1), int(hh or 0), int(mi or 0),
                       int(ss or 0), int(Decimal(frac) * 1_000_000) if frac else 0, tzinfo=_tz(tz))
    except ValueError:
        return None
    if hh is not None:
        step = (timedelta(microseconds=10 ** (6 - min(6, len(frac) - 1))) if frac
                else timedelta(seconds=1) if ss is not None else timedelta(minutes=1))
        return low, low + step
    if day is not None:
        return low, low + timedelta(days=1)
    if month is not None:
        return low, _add_months(low, 1)
    return low, low.replace(year=low.year + 1)


def parse_decimal(text: str) -> Decimal | None:
    try:
        value = Decimal(text.strip())
    except (InvalidOperation, ValueError):
        return None
    return value if value.is_finite() else None


def decimal_range(value: Decimal) -> tuple[Decimal, Decimal]:
    """Implicit range of a search number by its significant digits (search.html#number): 100 → [99.5, 100.5)."""
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    half = Decimal(5).scaleb(exponent - 1)
    return value - half, value + half


# Simple UCUM units: (canonical unit, factor). Only pure scalings, no offsets (°C/°F are not here).
_UCUM_SCALE: Final[dict[str, tuple[str, Decimal]]] = {
    "g": ("g", Decimal(1)), "kg": ("g", Decimal(1000)), "mg": ("g", Decimal("0.001")),
    "ug": ("g", Decimal("0.000001")), "ng": ("g", Decimal("1e-9")),
    "m": ("m", Decimal(1)), "cm": ("m", Decimal("0.01")), "mm": ("m", Decimal("0.001")),
    "km": ("m", Decimal(1000)),
    "L": ("L", Decimal(1)), "l": ("L", Decimal(1)), "dL": ("L", Decimal("0.1")), "mL": ("L", Decimal("0.001")),
    "s": ("s", Decimal(1)), "min": ("s", Decimal(60)), "h": ("s", Decimal(3600)), "d": ("s", Decimal(86400)),
    "wk": ("s", Decimal(604800)),
    "g/L": ("g/L", Decimal(1)), "g/dL": ("g/L", Decimal(10)), "mg/dL": ("g/L", Decimal("0.01")),
    "mg/L": ("g/L", Decimal("0.001")),
    "mmol/L": ("mol/L", Decimal("0.001")), "umol/L": ("mol/L", Decimal("0.000001")),
    "mol/L": ("mol/L", Decimal(1)),
}


def ucum_factor(system: str | None, code: str | None) -> tuple[Decimal, str] | None:
    """(factor, canonical unit) when ``code`` is a UCUM unit that is a simple scaling; else None."""
    if system != UCUM or code is None or code not in _UCUM_SCALE:
        return None
    unit, factor = _UCUM_SCALE[code]
    return factor, unit


def canonical_quantity(value: Decimal, system: str | None, code: str | None) -> tuple[Decimal, str] | None:
    """(value, unit) in canonical UCUM form when the unit is a simple scaling; else None."""
    found = ucum_factor(system, code)
    return ((value * found[0]).normalize(), found[1]) if found else None
