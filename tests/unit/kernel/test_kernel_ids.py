"""Server-assigned ids: short, random, valid FHIR ids (kernel/ids.py)."""

from __future__ import annotations

import random

import pytest

from benhan.kernel.ids import ID_BITS, ID_LENGTH, encode_id, is_valid_id, new_id
from benhan.synth.fhirgen import new_id as synth_id


def test_new_ids_are_20_base62_characters_and_valid_fhir_ids() -> None:
    ids = {new_id() for _ in range(20_000)}
    assert len(ids) == 20_000  # no repeats: 119 random bits each
    for i in ids:
        assert len(i) == ID_LENGTH == 20
        assert i.isalnum()
        assert i.isascii()
        assert is_valid_id(i)


def test_encoding_is_fixed_length_and_covers_the_whole_range() -> None:
    assert encode_id(0) == "0" * 20
    top = encode_id((1 << ID_BITS) - 1)
    assert len(top) == 20
    assert encode_id(61) == "z" + "0" * 19  # least significant digit first
    with pytest.raises(ValueError, match="out of range"):
        encode_id(1 << ID_BITS)
    with pytest.raises(ValueError, match="out of range"):
        encode_id(-1)


def test_ids_do_not_follow_each_other() -> None:
    a, b = new_id(), new_id()
    assert a != b
    assert a[:6] != b[:6]  # no shared prefix that a counter or clock would give (p ~ 1e-11)


def test_synthetic_ids_have_the_same_form_and_repeat_per_seed() -> None:
    first = [synth_id(random.Random(7)) for _ in range(3)]
    assert len(set(first)) == 1  # same seed, same id
    assert synth_id(random.Random(8)) != first[0]
    assert len(first[0]) == 20
    assert is_valid_id(first[0])
