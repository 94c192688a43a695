"""Province-level administrative codes of Vietnam, as used inside identity and insurance numbers.

The codes are the 2-digit province codes of Decision 124/2004/QĐ-TTg (the list referenced by
Circular 07/2016/TT-BCA Annex 1 and by the QĐ 130/4750 field ``MATINH_CU_TRU``; see
``vietnam-regulations.md`` §3.5 and §6.3). They are the 63 provinces in force until the 2025 merger;
``tests/unit/clinical/test_clinical_provinces.py`` cross-checks them against the official list in
``reference/data/admin-units-2024-06`` when that folder is present.

Why the old list: identity (CCCD) and insurance (BHYT) numbers already issued keep the code of the
province that issued them, so the pre-merger codes stay valid inside those numbers after 2025.
"""

from __future__ import annotations

PROVINCE_CODES: frozenset[str] = frozenset(
    (  # noqa: SIM905 - one compact line per row reads better than 63 quoted literals
        "01 02 04 06 08 10 11 12 14 15 17 19 20 22 24 25 26 27 30 31 33 34 35 36 37 38 40 42 44 45 46 "
        "48 49 51 52 54 56 58 60 62 64 66 67 68 70 72 74 75 77 79 80 82 83 84 86 87 89 91 92 93 94 95 96"
    ).split()
)
"""2-digit province codes (``"01"`` Hà Nội … ``"96"`` Cà Mau)."""

CCCD_PROVINCE_CODES: frozenset[str] = frozenset("0" + code for code in PROVINCE_CODES)
"""3-digit province codes used as the first three CCCD digits (``"001"`` … ``"096"``)."""

CA_MAU = "96"
"""The demo province (Cà Mau)."""
