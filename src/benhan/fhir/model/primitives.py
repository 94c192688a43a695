"""Checks for FHIR R4 primitive values in their JSON form (FHIR R4 datatypes.html, json.html#primitive).

Each checker takes the decoded JSON value and returns ``None`` when it is valid, else an
``(issue_code, message)`` pair. The regexes are the spec's own, read from the generated data
(the ``regex`` extension on each primitive type's ``value`` element).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Mapping

Problem = tuple[str, str]
Checker = Callable[[object], Problem | None]

# FHIR R4 datatypes.html#integer: a signed 32-bit integer.
_INT_MIN = -2_147_483_648
_INT_MAX = 2_147_483_647
# FHIR R4 datatypes.html#string: "strings SHALL NOT exceed 1MB in size".
_MAX_STRING = 1024 * 1024

_HINTS = {
    "date": "YYYY, YYYY-MM or YYYY-MM-DD",
    "dateTime": "YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss+zz:zz (time zone required with a time)",
    "instant": "YYYY-MM-DDThh:mm:ss(.sss)+zz:zz or Z, with seconds and time zone",
    "time": "hh:mm:ss(.sss)",
    "id": "1 to 64 characters from A-Z, a-z, 0-9, '-' and '.'",
    "code": "no leading, trailing or repeated inner whitespace",
    "oid": "urn:oid:<digits and dots>",
    "uuid": "urn:uuid:<lower-case UUID>",
    "uri": "no whitespace",
    "url": "no whitespace",
    "canonical": "no whitespace",
    "base64Binary": "base64 characters in groups of 4",
}


def _calendar_ok(value: str) -> bool:
    # The spec regex accepts 2023-02-31; a real date must exist (datatypes.html#date "valid dates").
    if len(value) < 10:
        return True
    try:
        dt.date(int(value[0:4]), int(value[5:7]), int(value[8:10]))
    except ValueError:
        return False
    return True


def _string_checker(type_code: str, regex: str | None) -> Checker:
    match = re.compile(regex).fullmatch if regex else None
    hint = _HINTS.get(type_code)
    dated = type_code in ("date", "dateTime", "instant")

    def check(value: object) -> Problem | None:
        if type(value) is not str:
            return "structure", f"a {type_code} must be a JSON string, not {json_kind(value)}"
        if not value:
            # FHIR R4 json.html: empty values are not allowed; omit the property instead.
            return "value", f"an empty string is not a valid {type_code}; omit the element instead"
        if len(value) > _MAX_STRING:
            return "value", f"the {type_code} is longer than 1 MB"
        if match is not None and match(value) is None:
            expected = f" (expected {hint})" if hint else ""
            return "value", f"{_short(value)} is not a valid {type_code}{expected}"
        if dated and not _calendar_ok(value):
            return "value", f"{_short(value)} is not a valid {type_code}: no such calendar date"
        return None

    return check


def _integer_checker(type_code: str, lowest: int) -> Checker:
    def check(value: object) -> Problem | None:
        if type(value) is not int:
            return "structure", f"a {type_code} must be a JSON integer number, not {json_kind(value)}"
        if value < lowest or value > _INT_MAX:
            return "value", f"{value} is out of range for {type_code} ({lowest}..{_INT_MAX})"
        return None

    return check


def _check_decimal(value: object) -> Problem | None:
    if type(value) is int:
        return None
    if type(value) is float:
        return None if math.isfinite(value) else ("value", "a decimal must be a finite number")
    return "structure", f"a decimal must be a JSON number, not {json_kind(value)}"


def _check_boolean(value: object) -> Problem | None:
    if type(value) is bool:
        return None
    return "structure", f"a boolean must be JSON true or false, not {json_kind(value)}"


def _check_xhtml(value: object) -> Problem | None:
    if type(value) is not str:
        return "structure", f"xhtml must be a JSON string, not {json_kind(value)}"
    # FHIR R4 narrative.html#xhtml: the content is a single XHTML <div> element.
    if not value.lstrip().startswith("<div"):
        return "value", 'narrative xhtml must be a single <div xmlns="http://www.w3.org/1999/xhtml"> element'
    return None


def build_checkers(regexes: Mapping[str, str | None]) -> dict[str, Checker]:
    """One checker per primitive type named in the definitions."""
    checkers: dict[str, Checker] = {}
    for type_code, regex in regexes.items():
        if type_code == "boolean":
            checkers[type_code] = _check_boolean
        elif type_code == "decimal":
            checkers[type_code] = _check_decimal
        elif type_code == "integer":
            checkers[type_code] = _integer_checker(type_code, _INT_MIN)
        elif type_code == "unsignedInt":
            checkers[type_code] = _integer_checker(type_code, 0)
        elif type_code == "positiveInt":
            checkers[type_code] = _integer_checker(type_code, 1)
        elif type_code == "xhtml":
            checkers[type_code] = _check_xhtml
        else:
            checkers[type_code] = _string_checker(type_code, regex)
    return checkers


def json_kind(value: object) -> str:
    """Human name of a decoded JSON value's kind, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _short(value: str) -> str:
    return repr(value if len(value) <= 60 else value[:57] + "...")
