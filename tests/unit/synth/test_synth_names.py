"""Synthetic Vietnamese names: order, sex-appropriate middle names, distribution, determinism."""

from __future__ import annotations

import random
from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from benhan.clinical.cccd_qr import split_vietnamese_name
from benhan.synth.names import NameGenerator


def test_same_seed_same_names() -> None:
    a = [NameGenerator(random.Random(42)).name() for _ in range(1)]
    gen1, gen2 = NameGenerator(random.Random(7)), NameGenerator(random.Random(7))
    assert [gen1.name() for _ in range(50)] == [gen2.name() for _ in range(50)]
    assert a == [NameGenerator(random.Random(42)).name()]
    other = NameGenerator(random.Random(8))
    assert [other.name() for _ in range(50)] != [NameGenerator(random.Random(7)).name() for _ in range(50)]


def test_family_name_distribution_follows_the_cited_shares() -> None:
    gen = NameGenerator(random.Random(1))
    n = 40_000
    counts = Counter(gen.family_name() for _ in range(n))
    share = {k: v / n for k, v in counts.items()}
    assert abs(share["Nguyễn"] - 0.384) < 0.015
    assert abs(share["Trần"] - 0.11) < 0.01
    assert abs(share["Lê"] - 0.095) < 0.01
    assert abs(share["Phạm"] - 0.071) < 0.008
    assert abs(share.get("Hoàng", 0) + share.get("Huỳnh", 0) - 0.051) < 0.008
    assert share["Huỳnh"] > share["Hoàng"]  # southern default
    assert counts.most_common(4)[0][0] == "Nguyễn"


def test_northern_region_prefers_hoang_and_vu() -> None:
    gen = NameGenerator(random.Random(3), region="north")
    counts = Counter(gen.family_name() for _ in range(20_000))
    assert counts["Hoàng"] > counts["Huỳnh"]
    assert counts["Vũ"] > counts["Võ"]


def test_middle_names_follow_sex() -> None:
    gen = NameGenerator(random.Random(5))
    men = [gen.name("male", 1960) for _ in range(500)]
    women = [gen.name("female", 1960) for _ in range(500)]
    assert not any("Thị" in m.middle.split() for m in men)
    assert not any("Văn" in w.middle.split() for w in women)
    assert sum(w.middle.startswith("Thị") for w in women) > 250  # old-style names dominate before 1980
    young = [gen.name("female", 2005) for _ in range(500)]
    assert sum(w.middle.startswith("Thị") for w in young) < 200


@given(st.integers(0, 2**32), st.sampled_from(["male", "female"]))
def test_names_are_in_vietnamese_order_and_split_back(seed: int, sex: str) -> None:
    name = NameGenerator(random.Random(seed)).name(sex)  # type: ignore[arg-type]
    family, middle, given_name = split_vietnamese_name(name.full)
    assert (family, middle, given_name) == (name.family, name.middle, name.given)
    fhir = name.to_fhir()
    assert fhir["family"] == name.family
    assert fhir["given"] == [*name.middle.split(), name.given]
    assert fhir["text"] == name.full
    assert name.sex == sex
