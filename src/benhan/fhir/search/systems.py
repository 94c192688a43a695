"""Identifier systems for Vietnamese identifiers used by benhan (search, registration, insurance).

The custom SearchParameters in ``data/custom-vn.json`` filter ``identifier`` by these systems, so a
client can search ``Patient?cccd=001234567890`` instead of ``Patient?identifier=<system>|<value>``.
"""

from __future__ import annotations

from typing import Final

#: Căn cước công dân (citizen identity card number, 12 digits).
CCCD: Final = "https://benhan.vn/sid/cccd"
#: Thẻ bảo hiểm y tế (health-insurance card number, 15 characters).
BHYT: Final = "https://benhan.vn/sid/bhyt"
#: Mã số bảo hiểm xã hội (social-insurance number, 10 digits).
BHXH: Final = "https://benhan.vn/sid/bhxh"
#: MA_BN: the facility's own patient code (Decision 130/4750 XML).
MA_BN: Final = "https://benhan.vn/sid/ma-bn"
#: MA_LK: the visit link code tying the XML tables of one encounter together (Decision 130/4750).
MA_LK: Final = "https://benhan.vn/sid/ma-lk"

ALL: Final[tuple[str, ...]] = (CCCD, BHYT, BHXH, MA_BN, MA_LK)
