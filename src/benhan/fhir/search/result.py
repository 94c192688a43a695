"""What a search returns (pure data; filled by storage/pg/search.py, turned into a Bundle by :mod:`.bundle`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

__all__ = ["Row", "SearchResult"]

#: (type, id, version, last_updated, content) — ``content`` is the stored JSON bytes, sent as they are.
Row = tuple[str, str, int, datetime, bytes]


@dataclass(frozen=True, slots=True)
class SearchResult:
    matches: list[Row] = field(default_factory=list)
    includes: list[Row] = field(default_factory=list)
    #: Number of matches; None when not computed (``_total=none`` or the cheap default on a large result).
    total: int | None = None
    #: Keyset cursors for the next / previous page (``_cursor=`` in the links), None when there is none.
    next_cursor: str | None = None
    previous_cursor: str | None = None
