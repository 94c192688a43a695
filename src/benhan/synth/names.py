"""Vietnamese personal names in Vietnamese order (family, middle, given), deterministic per seed.

Family-name weights: the commonly cited shares from the Wikipedia article "Vietnamese name"
(https://en.wikipedia.org/wiki/Vietnamese_name#Family_name): Nguyễn 38.4 %, Trần 11 %, Lê 9.5 %,
Phạm 7.1 %, Hoàng/Huỳnh 5.1 %, Phan 4.5 %, Vũ/Võ 3.9 %, Đặng 2.1 %, Bùi 2 %, Đỗ 1.4 %, Hồ 1.3 %,
Ngô 1.3 %, Dương 1 %, Lý 0.5 % (together ≈ 89 %). The remaining ≈ 11 % is spread evenly over other
surnames listed there. The split of Hoàng/Huỳnh and Vũ/Võ is regional (Huỳnh and Võ are the southern
forms); the demo province, Cà Mau, is southern, so "south" is the default.

Middle names follow sex (Văn, Hữu, Đức … for men; Thị, Ngọc, Thu … for women), and the old pattern
Văn/Thị is more frequent for people born before 1980. Faker's ``vi_VN`` is not used: it emits
Western order (issue 5).
"""

from __future__ import annotations

import random
from bisect import bisect
from dataclasses import dataclass
from itertools import accumulate
from typing import Literal

Sex = Literal["male", "female"]
Region = Literal["north", "south"]

_TOP_FAMILY: tuple[tuple[str, float], ...] = (
    ("Nguyễn", 38.4), ("Trần", 11.0), ("Lê", 9.5), ("Phạm", 7.1), ("HOANG", 5.1), ("Phan", 4.5),
    ("VU", 3.9), ("Đặng", 2.1), ("Bùi", 2.0), ("Đỗ", 1.4), ("Hồ", 1.3), ("Ngô", 1.3), ("Dương", 1.0),
    ("Lý", 0.5),
)  # fmt: skip
_OTHER_FAMILY = (
    "Đinh", "Trương", "Lâm", "Mai", "Đoàn", "Cao", "Lưu", "Tạ", "Hà", "Quách", "Châu", "Tô", "Thái",
    "Lương", "Vương", "Triệu", "Kiều", "La", "Đào", "Trịnh", "Phùng", "Chung", "Tăng", "Thạch", "Kim",
)  # fmt: skip
_OTHER_SHARE = 100.0 - sum(w for _, w in _TOP_FAMILY)
# (northern form, southern form) and the share of the southern form in each region.
_REGIONAL = {"HOANG": ("Hoàng", "Huỳnh"), "VU": ("Vũ", "Võ")}
_SOUTHERN_SHARE: dict[Region, float] = {"north": 0.1, "south": 0.8}

_MIDDLE: dict[Sex, tuple[str, ...]] = {
    "male": ("Văn", "Hữu", "Đức", "Minh", "Quốc", "Thành", "Công", "Trọng", "Xuân", "Đình", "Quang",
             "Hoàng", "Anh", "Gia", "Thanh", "Tấn", "Ngọc", "Chí"),
    "female": ("Thị", "Ngọc", "Thu", "Thanh", "Minh", "Kim", "Phương", "Mỹ", "Bích", "Hồng", "Thùy",
               "Diệu", "Hoài", "Khánh", "Ánh", "Cẩm", "Tuyết", "Bảo"),
}  # fmt: skip
_OLD_STYLE: dict[Sex, str] = {"male": "Văn", "female": "Thị"}
_GIVEN: dict[Sex, tuple[str, ...]] = {
    "male": ("An", "Anh", "Bảo", "Bình", "Cường", "Dũng", "Duy", "Đạt", "Hải", "Hiếu", "Hòa", "Hùng",
             "Hưng", "Huy", "Khang", "Khoa", "Kiên", "Lâm", "Long", "Lộc", "Minh", "Nam", "Nghĩa",
             "Nhân", "Phát", "Phong", "Phúc", "Quân", "Sơn", "Tài", "Tâm", "Thắng", "Thành", "Thịnh",
             "Toàn", "Trung", "Tuấn", "Tú", "Việt", "Vinh"),
    "female": ("An", "Anh", "Châu", "Chi", "Dung", "Duyên", "Giang", "Hà", "Hạnh", "Hằng", "Hiền",
               "Hoa", "Hương", "Huyền", "Lan", "Liên", "Linh", "Loan", "Mai", "My", "Nga", "Ngân",
               "Ngọc", "Nhi", "Nhung", "Oanh", "Phượng", "Quyên", "Tâm", "Thảo", "Thủy", "Thư", "Trang",
               "Trinh", "Tuyết", "Uyên", "Vân", "Vy", "Xuân", "Yến"),
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class VietnameseName:
    family: str
    middle: str
    given: str
    sex: Sex

    @property
    def full(self) -> str:
        """Vietnamese order, as printed on the CCCD: "Nguyễn Văn An"."""
        return " ".join(p for p in (self.family, self.middle, self.given) if p)

    def to_fhir(self) -> dict[str, object]:
        """FHIR R4 HumanName: family, then middle and given names in ``given`` (in spoken order)."""
        given = [*self.middle.split(), self.given]
        return {"use": "official", "text": self.full, "family": self.family, "given": given}


class NameGenerator:
    """Draws names from one ``random.Random``; the same seed gives the same names."""

    def __init__(self, rng: random.Random, region: Region = "south") -> None:
        self._rng = rng
        self._region = region
        names = [n for n, _ in _TOP_FAMILY] + list(_OTHER_FAMILY)
        weights = [w for _, w in _TOP_FAMILY] + [_OTHER_SHARE / len(_OTHER_FAMILY)] * len(_OTHER_FAMILY)
        self._family_names = names
        self._family_cumulative = list(accumulate(weights))

    def family_name(self) -> str:
        total = self._family_cumulative[-1]
        name = self._family_names[bisect(self._family_cumulative, self._rng.random() * total)]
        if name in _REGIONAL:
            northern, southern = _REGIONAL[name]
            return southern if self._rng.random() < _SOUTHERN_SHARE[self._region] else northern
        return name

    def middle_name(self, sex: Sex, birth_year: int | None = None) -> str:
        old_style_share = 0.6 if birth_year is not None and birth_year < 1980 else 0.25
        if self._rng.random() < old_style_share:
            return _OLD_STYLE[sex]
        return self._rng.choice(_MIDDLE[sex])

    def given_name(self, sex: Sex) -> str:
        return self._rng.choice(_GIVEN[sex])

    def name(self, sex: Sex | None = None, birth_year: int | None = None) -> VietnameseName:
        chosen: Sex = sex or ("male" if self._rng.random() < 0.5 else "female")
        middle = self.middle_name(chosen, birth_year)
        given = self.given_name(chosen)
        if given == middle:  # "Minh Minh" does not happen in practice
            given = self._rng.choice([g for g in _GIVEN[chosen] if g != middle])
        # Some people carry two middle names ("Nguyễn Thị Bích Ngọc").
        if self._rng.random() < 0.12:
            second = self._rng.choice([m for m in _MIDDLE[chosen] if m not in (middle, given)])
            middle = f"{middle} {second}"
        return VietnameseName(self.family_name(), middle, given, chosen)
