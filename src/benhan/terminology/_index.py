"""Accent-insensitive prefix search over a code list, built once and queried for type-ahead.

Each entry is indexed by its code (dots and spaces removed, lower-cased) and by the folded words of its
names (:func:`benhan.kernel.text.fold`). A query matches an entry when the query *as a code* is a
prefix of the entry's code, or when every folded query word is a prefix of some word of the entry
("viem pho" finds "Viêm phổi"). Prefix look-ups are binary searches in sorted vocabularies, so a query
costs a few set unions and intersections instead of a scan of every name.
"""

from __future__ import annotations

import heapq
import re
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from typing import Generic, TypeVar

from benhan.kernel.text import fold, tokens

T = TypeVar("T")

_CODE_CHARS = re.compile(r"[^0-9a-z]")
_MAX_PREFIX = "\uffff"


def code_key(code: str) -> str:
    """Normalised code for matching: lower case, only letters and digits ("J18.9" → "j189")."""
    return _CODE_CHARS.sub("", code.lower())


class SearchIndex(Generic[T]):
    """Immutable index over ``items``; ``search`` returns items, best match first."""

    def __init__(
        self,
        items: Sequence[T],
        code_of: Callable[[T], str],
        texts_of: Callable[[T], Iterable[str]],
    ) -> None:
        self._items = tuple(items)
        self._codes = sorted((code_key(code_of(it)), i) for i, it in enumerate(self._items))
        self._code_keys = [c for c, _ in self._codes]
        self._primary: list[str] = []
        postings: dict[str, list[int]] = {}
        for i, item in enumerate(self._items):
            texts = [fold(t) for t in texts_of(item) if t]
            self._primary.append(texts[0] if texts else "")
            for word in {w for t in texts for w in t.split(" ") if w}:
                postings.setdefault(word, []).append(i)
        self._words = sorted(postings)
        self._postings = [postings[w] for w in self._words]

    def __len__(self) -> int:
        return len(self._items)

    def _code_prefix(self, key: str) -> list[int]:
        lo = bisect_left(self._code_keys, key)
        hi = bisect_left(self._code_keys, key + _MAX_PREFIX, lo)
        return [i for _, i in self._codes[lo:hi]]

    def _word_prefix(self, word: str) -> set[int]:
        lo = bisect_left(self._words, word)
        hi = bisect_left(self._words, word + _MAX_PREFIX, lo)
        found: set[int] = set()
        for plist in self._postings[lo:hi]:
            found.update(plist)
        return found

    def search(self, text: str, limit: int = 20) -> list[T]:
        """Items matching ``text``: code-prefix hits first (exact code first), then name hits."""
        if limit <= 0:
            return []
        key = code_key(text)
        by_code = self._code_prefix(key) if key else []
        words = tokens(text)
        by_words: set[int] = set()
        if words:
            by_words = self._word_prefix(words[0])
            for word in words[1:]:
                if not by_words:
                    break
                by_words &= self._word_prefix(word)
        query = " ".join(words)
        code_rank = {i: n for n, i in enumerate(by_code)}

        def rank(i: int) -> tuple[int, int, int, str]:
            # Code hits keep their sorted code order (shorter = broader first); then names that start
            # with the whole query, then shorter names: "viem phoi" ranks "Viêm phổi, ..." before
            # "Áp xe phổi có viêm phổi".
            if i in code_rank:
                return (0, code_rank[i], 0, "")
            primary = self._primary[i]
            return (1, 0 if primary.startswith(query) else 1, len(primary), primary)

        return [self._items[i] for i in heapq.nsmallest(limit, set(by_code) | by_words, key=rank)]
