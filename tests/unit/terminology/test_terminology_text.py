"""Vietnamese accent folding shared by every search."""

from __future__ import annotations

import pytest

from benhan.kernel.text import fold, tokens


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Viêm phổi", "viem phoi"),
        ("ĐẦM DƠI", "dam doi"),
        ("Thành phố Hồ Chí Minh", "thanh pho ho chi minh"),
        ("  Bệnh tả, do Vibrio-cholerae 01 ", "benh ta do vibrio cholerae 01"),
        ("Nhiễm độc; ngộ độc", "nhiem doc ngo doc"),
        ("", ""),
    ],
)
def test_fold(text: str, folded: str) -> None:
    assert fold(text) == folded


def test_fold_is_idempotent_and_tokens_split() -> None:
    text = "Đái tháo đường týp 2"
    assert fold(fold(text)) == fold(text)
    assert tokens(text) == ["dai", "thao", "duong", "typ", "2"]
    assert tokens("  ") == []
