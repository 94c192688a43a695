"""Province codes: the 63 pre-2025 provinces, 001–096 in CCCD form; cross-checked with the official list."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from benhan.clinical.vn_provinces import CA_MAU, CCCD_PROVINCE_CODES, PROVINCE_CODES

# Only on a machine with the shared reference data (not on a user's checkout).
OFFICIAL = Path("/work/shared/reference/data/admin-units-2024-06/sheet1.csv")


def test_shape() -> None:
    assert len(PROVINCE_CODES) == 63
    assert min(CCCD_PROVINCE_CODES) == "001"
    assert max(CCCD_PROVINCE_CODES) == "096"
    assert CA_MAU in PROVINCE_CODES
    assert "079" in CCCD_PROVINCE_CODES
    assert "003" not in CCCD_PROVINCE_CODES  # codes are not contiguous


@pytest.mark.skipif(not OFFICIAL.exists(), reason="official admin-unit list not present on this machine")
def test_matches_the_official_administrative_unit_list() -> None:
    with OFFICIAL.open(encoding="utf-8") as f:
        official = {row["matinh"] for row in csv.DictReader(f)}
    assert official == PROVINCE_CODES
