"""Synthetic CCCD / BHYT / BHXH numbers parse back with benhan's own checkers."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from benhan.clinical.bhyt_card import check_bhyt_card, parse_bhyt_number
from benhan.clinical.cccd_qr import parse_cccd_qr
from benhan.clinical.vn_provinces import PROVINCE_CODES
from benhan.synth.identifiers import (
    beneficiary_group,
    bhxh_number,
    bhyt_card,
    cccd_number,
    cccd_qr_text,
    cmnd_number,
)
from benhan.synth.names import NameGenerator

PROVINCES = st.sampled_from(sorted(PROVINCE_CODES))
BIRTHS = st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31))


@given(st.integers(0, 2**32), BIRTHS, st.sampled_from(["male", "female"]), PROVINCES)
def test_cccd_qr_round_trip(seed: int, born: date, sex: str, province: str) -> None:
    rng = random.Random(seed)
    name = NameGenerator(rng).name(sex, born.year)  # type: ignore[arg-type]
    number = cccd_number(rng, born.year, name.sex, province)
    issued = born + timedelta(days=rng.randint(14 * 365, 40 * 365))
    old_id = cmnd_number(rng) if rng.random() < 0.5 else ""
    data = parse_cccd_qr(cccd_qr_text(number, name, born, "Ấp 1, Xã Tân Lộc, Huyện Thới Bình, Cà Mau", issued, old_id))
    assert data.cccd == number
    assert data.old_id == (old_id or None)
    assert (data.family_name, data.middle_name, data.given_name) == (name.family, name.middle, name.given)
    assert (data.birth_date, data.sex, data.issue_date) == (born, name.sex, issued)
    assert len(number) == 12
    assert number.isdigit()
    assert number[1:3] == province


def test_cccd_structure() -> None:
    rng = random.Random(0)
    assert cccd_number(rng, 1990, "male", "96")[:6] == "096090"
    assert cccd_number(rng, 2005, "female", "01")[:6] == "001305"


@given(st.integers(0, 2**32), st.dates(min_value=date(1920, 1, 1), max_value=date(2025, 6, 1)), PROVINCES)
def test_bhyt_card_parses_and_is_valid_on_the_day(seed: int, born: date, province: str) -> None:
    rng = random.Random(seed)
    on = date(2025, 6, 1)
    card = bhyt_card(rng, born, on, province=province)
    check = check_bhyt_card(card.number, valid_from=card.valid_from, valid_to=card.valid_to,
                            facility=card.facility, on=on)  # fmt: skip
    assert check.ok, check.errors
    assert check.warnings == ()  # the level is the one usual for the group
    assert check.card is not None
    assert (check.card.group, check.card.benefit_level, check.card.province, check.card.bhxh_number) == (
        card.group, card.benefit_level, card.province, card.bhxh_number)  # fmt: skip


def test_bhyt_groups_follow_age() -> None:
    rng = random.Random(9)
    assert beneficiary_group(rng, 3) == "TE"
    assert beneficiary_group(rng, 12) == "HS"
    assert {beneficiary_group(rng, 70) for _ in range(200)} <= {"HT", "BT", "GD", "CC", "HN", "KC", "TC"}


def test_child_card_runs_until_sixth_birthday() -> None:
    born = date(2024, 2, 29)
    card = bhyt_card(random.Random(1), born, date(2025, 1, 10))
    assert card.group == "TE"
    assert card.benefit_level == 1
    assert (card.valid_from, card.valid_to) == (born, date(2030, 2, 28))


def test_registered_facility_from_the_list() -> None:
    card = bhyt_card(random.Random(2), date(1980, 5, 5), date(2025, 1, 1), facilities=("96001", "96002"))
    assert card.facility in ("96001", "96002")


@pytest.mark.parametrize("seed", range(5))
def test_bhxh_and_cmnd_shapes(seed: int) -> None:
    rng = random.Random(seed)
    bhxh = bhxh_number(rng, "96")
    assert len(bhxh) == 10
    assert bhxh.isdigit()
    assert bhxh.startswith("96")
    assert parse_bhyt_number(f"GD496{bhxh}").ok
    cmnd = cmnd_number(rng)
    assert len(cmnd) == 9
    assert cmnd.isdigit()


def test_deterministic_per_seed() -> None:
    def draw(seed: int) -> list[str]:
        rng = random.Random(seed)
        return [cccd_number(rng, 1970 + i, "male") + bhyt_card(rng, date(1970 + i, 1, 1), date(2025, 1, 1)).number
                for i in range(20)]  # fmt: skip

    assert draw(11) == draw(11)
    assert draw(11) != draw(12)
