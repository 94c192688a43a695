"""Vietnamese administrative units (provinces, districts, communes) used in addresses and in XML1
``MATINH_CU_TRU`` (2 digits), ``MAHUYEN_CU_TRU`` (3) and ``MAXA_CU_TRU`` (5).

The packaged list is the 06/2024 one, before the 2025 reorganisation (provinces merged, districts
abolished). :func:`from_json` accepts any list of the same shape with its own ``version``; a list
without districts is allowed (communes then name their province directly). See README.md.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from benhan.terminology._data import read_json
from benhan.terminology._index import SearchIndex

__all__ = ["AdminUnit", "AdminUnits", "default", "from_json", "lookup", "search"]

DEFAULT_VERSION = "2024-06"
Level = Literal["province", "district", "commune"]


@dataclass(frozen=True, slots=True)
class AdminUnit:
    code: str
    name: str
    level: Level
    kind: str  # for communes: "Xã" / "Phường" / "Thị trấn"; empty otherwise
    district: str  # parent district code ("" for provinces, districts and district-less communes)
    province: str  # province code ("" for provinces)


class AdminUnits:
    def __init__(self, units: list[AdminUnit], version: str) -> None:
        self.version = version
        self._units = {(u.level, u.code): u for u in units}
        self._children: dict[tuple[Level, str], list[AdminUnit]] = {}
        for u in units:
            if u.level == "district":
                self._children.setdefault(("province", u.province), []).append(u)
            elif u.level == "commune":
                parent: tuple[Level, str] = ("district", u.district) if u.district else ("province", u.province)
                self._children.setdefault(parent, []).append(u)
        self._index = SearchIndex(units, lambda u: u.code, lambda u: (u.name,))

    def __len__(self) -> int:
        return len(self._units)

    def province(self, code: str) -> AdminUnit | None:
        return self._units.get(("province", code.strip()))

    def district(self, code: str) -> AdminUnit | None:
        return self._units.get(("district", code.strip()))

    def commune(self, code: str) -> AdminUnit | None:
        return self._units.get(("commune", code.strip()))

    def provinces(self) -> list[AdminUnit]:
        return sorted((u for (lvl, _), u in self._units.items() if lvl == "province"), key=lambda u: u.code)

    def districts_of(self, province_code: str) -> list[AdminUnit]:
        return list(self._children.get(("province", province_code), []))

    def communes_of(self, code: str) -> list[AdminUnit]:
        """Communes of a district, or of a province when the list has no districts."""
        found = self._children.get(("district", code)) or self._children.get(("province", code), [])
        return [u for u in found if u.level == "commune"]

    def address_of(self, commune_code: str) -> tuple[AdminUnit, AdminUnit | None, AdminUnit] | None:
        """(commune, district or None, province) for a commune code, as XML1 and Address.line need."""
        commune = self.commune(commune_code)
        if commune is None:
            return None
        province = self.province(commune.province)
        if province is None:
            return None
        return commune, self.district(commune.district) if commune.district else None, province

    def search(self, text: str, limit: int = 20, level: Level | None = None) -> list[AdminUnit]:
        """Accent-insensitive search by name or code prefix, optionally at one level."""
        if level is None:
            return self._index.search(text, limit)
        return [u for u in self._index.search(text, len(self._units)) if u.level == level][:limit]


def from_json(raw: Mapping[str, Any]) -> AdminUnits:
    """Build the list from the converter's JSON shape (see tools/terminology/build_admin_units.py)."""
    version = raw.get("version")
    if not isinstance(version, str) or not version:
        raise ValueError("administrative-unit list without a 'version'")
    units = [AdminUnit(code, name, "province", "", "", "") for code, name in raw["provinces"]]
    units += [AdminUnit(code, name, "district", "", "", prov) for code, name, prov in raw.get("districts", [])]
    units += [AdminUnit(code, name, "commune", kind, dist, prov) for code, name, kind, dist, prov in raw["communes"]]
    return AdminUnits(units, version)


@functools.cache
def default() -> AdminUnits:
    """The packaged 06/2024 list."""
    raw = read_json(f"admin_units_{DEFAULT_VERSION.replace('-', '_')}.json.gz")
    assert isinstance(raw, dict)
    return from_json(raw)


def lookup(code: str) -> AdminUnit | None:
    """Province (2 digits), district (3) or commune (5) by code length."""
    units = default()
    by_len = {2: units.province, 3: units.district, 5: units.commune}
    finder = by_len.get(len(code.strip()))
    return finder(code) if finder else None


def search(text: str, limit: int = 20) -> list[AdminUnit]:
    return default().search(text, limit)
