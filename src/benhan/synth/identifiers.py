"""Synthetic Vietnamese identifiers that pass benhan's own checks (issue 5).

- CCCD: 12 digits, province code (3) + century/sex digit + birth year (2) + 6 random digits, the
  structure checked by :mod:`benhan.clinical.cccd_qr`.
- BHXH number: 10 digits, the issuing province (2) then 8 digits [SECONDARY: the 10-digit "mã số
  BHXH" is the last part of the card number, ``vietnam-regulations.md`` §4.1; the province prefix is
  the observed convention, not a published rule].
- BHYT card: group (2 letters) + benefit level + province (2) + BHXH number, with the level that
  QĐ 1351 pairs with the group, yearly validity dates and a registered facility (MA_DKBD), as checked by
  :mod:`benhan.clinical.bhyt_card`.

All functions take a ``random.Random`` so the generator is deterministic per seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from benhan.clinical.bhyt_card import BENEFICIARY_GROUPS
from benhan.clinical.cccd_qr import AdministrativeGender, century_sex_digit
from benhan.clinical.vn_provinces import CA_MAU
from benhan.synth.names import VietnameseName


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def cccd_number(rng: random.Random, birth_year: int, sex: AdministrativeGender, province: str = CA_MAU) -> str:
    """A 12-digit CCCD number for someone born in ``birth_year`` (1900–2399) in ``province`` (2 digits)."""
    return f"0{province}{century_sex_digit(birth_year, sex)}{birth_year % 100:02d}{_digits(rng, 6)}"


def cmnd_number(rng: random.Random) -> str:
    """An old 9-digit identity-card (CMND) number."""
    return _digits(rng, 9)


def bhxh_number(rng: random.Random, province: str = CA_MAU) -> str:
    return f"{province}{_digits(rng, 8)}"


def cccd_qr_text(
    cccd: str,
    name: VietnameseName,
    birth_date: date,
    address: str,
    issue_date: date,
    old_id: str = "",
) -> str:
    """The text of the CCCD front-side QR code (``vietnam-regulations.md`` §5, seven fields)."""
    sex = "Nam" if name.sex == "male" else "Nữ"
    return "|".join((cccd, old_id, name.full, f"{birth_date:%d%m%Y}", sex, address, f"{issue_date:%d%m%Y}"))


@dataclass(frozen=True, slots=True)
class SynthBhytCard:
    number: str
    group: str
    benefit_level: int
    province: str
    bhxh_number: str
    valid_from: date
    valid_to: date
    facility: str
    """MA_DKBD, the registered first-contact facility (5 digits)."""


# Working-age mix: weights are a plausible spread for a rural southern province, not statistics.
_ADULT_GROUPS = (("GD", 30), ("DN", 15), ("HN", 8), ("CN", 6), ("HC", 6), ("BT", 4), ("DT", 3), ("CB", 2),
                 ("TN", 1), ("XK", 1))  # fmt: skip
_ELDER_GROUPS = (("HT", 35), ("BT", 20), ("GD", 25), ("CC", 5), ("HN", 8), ("KC", 4), ("TC", 3))


def beneficiary_group(rng: random.Random, age: int) -> str:
    """A beneficiary group plausible for the age (children under 6: TE; pupils: HS; …)."""
    if age < 6:
        return "TE"
    if age < 18:
        return "HS"
    if age < 23 and rng.random() < 0.4:
        return "SV"
    table = _ELDER_GROUPS if age >= 60 else _ADULT_GROUPS
    codes = [code for code, _ in table]
    chosen: str = rng.choices(codes, weights=[w for _, w in table])[0]
    return chosen


def bhyt_card(
    rng: random.Random,
    birth_date: date,
    on: date,
    *,
    province: str = CA_MAU,
    facilities: tuple[str, ...] = (),
    bhxh: str | None = None,
) -> SynthBhytCard:
    """A card valid on ``on`` for a person born on ``birth_date``.

    Validity is the calendar year of ``on`` (cards are renewed yearly); a child's TE card runs from
    birth until the day before the 6th birthday. ``facilities`` are MA_DKBD codes to register at;
    without them a code "<province>" + 3 digits is drawn.
    """
    age = on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))
    group = beneficiary_group(rng, age)
    level = BENEFICIARY_GROUPS[group].usual_level
    bhxh = bhxh or bhxh_number(rng, province)
    if group == "TE":
        valid_from, valid_to = birth_date, _sixth_birthday(birth_date) - timedelta(days=1)
    else:
        valid_from, valid_to = date(on.year, 1, 1), date(on.year, 12, 31)
    facility = rng.choice(facilities) if facilities else f"{province}{rng.randint(1, 99):03d}"
    number = f"{group}{level}{province}{bhxh}"
    return SynthBhytCard(number, group, level, province, bhxh, valid_from, valid_to, facility)


def _sixth_birthday(born: date) -> date:
    try:
        return born.replace(year=born.year + 6)
    except ValueError:  # born on 29 February
        return date(born.year + 6, 3, 1)
