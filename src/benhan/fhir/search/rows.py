"""What one resource gives the search index: its rows (:class:`IndexRows`, filled by :mod:`.extract`) and the
keys the rows share with the search SQL (the system hash of tokens and quantities, the split of a literal
reference).  Pure, no I/O; the tables' layout: ``storage/pg/index.py``."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import lru_cache

from benhan.fhir.search.registry import SearchParam

__all__ = ["IndexRows", "split_reference", "system_hash"]


@lru_cache(maxsize=4096)
def system_hash(system: str | None) -> int:
    """Signed 64-bit hash of a token/quantity system; 0 stands for "no system"."""
    if not system:
        return 0
    return int.from_bytes(hashlib.blake2b(system.encode(), digest_size=8).digest(), "big", signed=True)


@dataclass(slots=True)
class IndexRows:
    """Rows per index table, without the ``rid`` column (see storage/pg/index.py for the layout)."""

    strings: set[tuple[int, str, str | None]] = field(default_factory=set)  # pid, folded, original (None: = folded)
    # (pid, system hash, code) -> folded :text carried by the row (a coding's display), or None
    tokens: dict[tuple[int, int, str], str | None] = field(default_factory=dict)
    dates: set[tuple[int, datetime, datetime]] = field(default_factory=set)  # pid, low, high (exclusive)
    numbers: set[tuple[int, Decimal]] = field(default_factory=set)
    # pid, value, system hash, code, canonical value, canonical code
    quantities: set[tuple[int, Decimal, int, str, Decimal | None, str | None]] = field(default_factory=set)
    references: set[tuple[int, str, str]] = field(default_factory=set)  # pid, target type ("" unknown), id/url
    uris: set[tuple[int, str]] = field(default_factory=set)
    narrative: str = ""  # folded narrative text (_text)
    content: str = ""  # folded text of every string in the resource (_content)
    # :text values no token row carries: (pseudo-parameter ``:text``, folded text); see _place_texts
    text_rows: set[tuple[int, str]] = field(default_factory=set)
    # :text values not yet placed: (parameter, folded text)
    texts: list[tuple[SearchParam, str]] = field(default_factory=list)

    def token_rows(self) -> list[tuple[int, int, str, str | None]]:
        """The ``sp_token`` rows: (pid, system hash, code, folded text or None); a text-only row has no
        system and an empty code, under a parameter id that no code search reads."""
        return [(*key, text) for key, text in self.tokens.items()] + [(pid, 0, "", t) for pid, t in self.text_rows]


def split_reference(literal: str) -> tuple[str, str] | None:
    """(type, id) of a literal reference: ``Patient/1`` → (Patient, 1); absolute URLs keep the URL as id."""
    if literal.startswith("#"):
        return None  # contained resources are not indexed (search.html#contained)
    parts = literal.split("/")
    if "://" in literal or literal.startswith("urn:"):
        typ = parts[-2] if len(parts) >= 2 and parts[-2][:1].isupper() else ""
        return typ, literal
    if len(parts) >= 4 and parts[-2] == "_history":
        return parts[-4], parts[-3]
    if len(parts) == 2:
        return parts[0], parts[1]
    return "", literal
