"""Hierarchies behind the ``:above`` / ``:below`` search modifiers (FHIR R4 search.html#modifiers).

- **uri** (search.html#uri): ``:below`` matches every URL that starts with the value; ``:above`` every URL
  the value starts with, cut at ``/`` boundaries (``.../ValueSet/123/_history/5`` is below
  ``.../ValueSet/123``). "These modifiers only apply to URLs, not URNs or OIDs": a ``urn:`` value matches
  exactly.
- **token** (search.html#token: subsumption in the code system's hierarchy): only ICD-10, whose hierarchy
  is its code structure: a category ``E11`` subsumes ``E11.9`` and ``E11.65`` (WHO ICD-10 volume 2:
  3-character categories, 4th and 5th characters after the dot), and a block ``E10-E14`` (the "group"
  of terminology/icd10) subsumes the categories between its ends. Other code systems have no hierarchy
  here: their ``:above`` / ``:below`` are refused as unsupported modifiers.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["ICD10", "TOP", "icd10_above", "icd10_below", "uri_above", "uri_below"]

#: The ICD-10 system benhan codes diagnoses with (terminology/fhir.py ICD10_SYSTEM).
ICD10: Final = "http://hl7.org/fhir/sid/icd-10"
#: The greatest code point: ``[p, p + TOP)`` is every string that starts with ``p`` (COLLATE "C" columns).
TOP: Final = chr(0x10FFFF)

_CODE = re.compile(r"^[A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?$")
_BLOCK = re.compile(r"^([A-Z][0-9][0-9A-Z])-([A-Z][0-9][0-9A-Z])$")


def uri_below(value: str) -> tuple[str, str] | None:
    """The ``[low, high)`` range of URIs below ``value``; None when only an exact match applies (URN)."""
    return None if value.startswith("urn:") else (value, value + TOP)


def uri_above(value: str) -> list[str]:
    """``value`` and its ancestors, cut after each ``/`` of its path (never shorter than scheme://host)."""
    if value.startswith("urn:") or "://" not in value:
        return [value]
    start = value.index("://") + 3
    cuts = [i for i in range(start, len(value)) if value[i] == "/"]
    return list(dict.fromkeys([value, *(value[:i] for i in cuts), *(value[:i + 1] for i in cuts)]))


def icd10_below(code: str) -> tuple[str, str] | None:
    """The ``[low, high)`` range of ICD-10 codes subsumed by ``code`` (a code or a ``A00-A09`` block);
    None when ``code`` is not ICD-10 shaped."""
    code = code.strip().upper()
    block = _BLOCK.match(code)
    if block:
        return block.group(1), block.group(2) + TOP
    if not _CODE.match(code):
        return None
    return code, code + TOP


def icd10_above(code: str) -> list[str] | None:
    """``code`` and the codes that subsume it (``E11.65`` → ``E11.65``, ``E11.6``, ``E11``); None when
    ``code`` is not ICD-10 shaped."""
    code = code.strip().upper()
    if not _CODE.match(code):
        return None
    category, _, rest = code.partition(".")
    return [code] + [f"{category}.{rest[:n]}" for n in range(len(rest) - 1, 0, -1)] + ([category] if rest else [])
