"""The facilities a synthetic patient is treated at: ids of organisations, rooms, beds and staff.

The generator only needs references; the resources themselves come from the province builder
(``benhan.demo.province``), which also builds a :class:`World` from what it generates.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Department:
    id: str
    code: str  # "kham", "cap-cuu", "noi", "nhi", "san", "ngoai", "hstc", "lao-tim" …
    name: str
    rooms: tuple[str, ...]
    beds: tuple[str, ...]
    doctors: tuple[str, ...]
    nurses: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Facility:
    id: str
    name: str
    code: str  # 5-digit facility code (MA_CSKCB / MA_DKBD)
    district: str  # administrative district code ("" for the provincial hospitals)
    departments: dict[str, Department] = field(default_factory=dict)

    def department(self, code: str) -> Department:
        """The department ``code``, or the nearest one this facility has (a health centre treats
        paediatric and surgical cases in its general ward)."""
        for candidate in (code, *_FALLBACK.get(code, ()), "noi", "kham"):
            if candidate in self.departments:
                return self.departments[candidate]
        return next(iter(self.departments.values()))


_FALLBACK = {"hstc": ("cap-cuu",), "lao-tim": ("noi",), "san": ("san-nhi",), "nhi": ("san-nhi",)}


@dataclass(frozen=True, slots=True)
class World:
    facilities: tuple[Facility, ...]
    payor_id: str  # the provincial social-insurance agency (Coverage.payor)
    province: str  # 2-digit province code ("96" Cà Mau)

    def home_facility(self, district: str) -> Facility:
        for f in self.facilities:
            if f.district == district:
                return f
        return self.facilities[0]

    def referral_facility(self, setting: str, department: str) -> Facility:
        """Where serious cases go: the provincial general hospital, or the obstetric-paediatric one."""
        if department in ("san", "nhi") and len(self.facilities) > 1:
            return self.facilities[1]
        return self.facilities[0]
