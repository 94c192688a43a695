"""Vietnamese-aware text folding shared by every search (terminology, patients, UI type-ahead).

Vietnamese users often type without diacritics ("viem phoi" for "Viêm phổi"), so search keys are
compared after *folding*: Unicode NFD decomposition, removal of combining marks (tone and vowel
marks), ``đ``/``Đ`` → ``d`` (đ is a letter of its own in Unicode, not d + a mark, so NFD leaves it
alone), lower-casing, and collapsing every run of non-alphanumeric characters into one space.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["fold", "tokens"]

_D_MAP = str.maketrans({"đ": "d", "Đ": "d", "ð": "d", "Ð": "d"})
_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def fold(text: str) -> str:
    """Return ``text`` without diacritics, lower-cased, with punctuation runs turned into single spaces.

    >>> fold("Viêm phổi, không đặc hiệu")
    'viem phoi khong dac hieu'
    >>> fold("ĐẦM DƠI")
    'dam doi'
    """
    decomposed = unicodedata.normalize("NFD", text.translate(_D_MAP))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NON_ALNUM.sub(" ", stripped.lower()).strip()


def tokens(text: str) -> list[str]:
    """Folded words of ``text`` (empty list for blank input)."""
    folded = fold(text)
    return folded.split(" ") if folded else []
