"""The demo province: a fictional-patient copy of the structure of Cà Mau's health system.

Sở Y tế Cà Mau and 11 facilities: the three named in the source article (Bệnh viện Đa khoa tỉnh Cà Mau,
Bệnh viện Sản - Nhi Cà Mau, Bệnh viện Đa khoa Đầm Dơi) and one district health centre (Trung tâm Y tế)
for each other district of the 06/2024 administrative-unit list. Facility codes (``96xxx``), department
line-ups, bed counts and staff are plausible inventions, not the real ones. Every resource has a stable,
readable id (``cm-…``), so loading twice finds what the first load wrote.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from benhan.synth.fhirgen import concept, ref
from benhan.synth.world import Department, Facility, World
from benhan.terminology import admin_units

JsonObj = dict[str, Any]

ORG_KIND = "https://benhan.vn/fhir/CodeSystem/org-kind"  # benhan.access.org.ORG_KIND_SYSTEM
HL7_ORG_TYPE = "http://terminology.hl7.org/CodeSystem/organization-type"
DEPT_KIND = "https://benhan.vn/fhir/CodeSystem/loai-khoa"  # benhan.clinical.facility.DEPT_KIND
FACILITY_CODE = "https://benhan.vn/fhir/sid/facility-code"
ROLE_SYSTEM = "https://benhan.vn/fhir/CodeSystem/staff-role"  # benhan.access.roles.ROLE_SYSTEM
PHYSICAL = "http://terminology.hl7.org/CodeSystem/location-physical-type"
BED_STATUS = "http://terminology.hl7.org/CodeSystem/v2-0116"
PROVINCE = "96"

#: code → (name, kind, rooms, beds per room)
DEPARTMENTS: dict[str, tuple[str, str, int, int]] = {
    "kham": ("Khoa Khám bệnh", "outpatient", 5, 0),
    "cap-cuu": ("Khoa Cấp cứu", "emergency", 1, 8),
    "noi": ("Khoa Nội tổng hợp", "inpatient", 4, 6),
    "lao-tim": ("Khoa Lão khoa - Tim mạch", "inpatient", 3, 6),
    "hstc": ("Khoa Hồi sức tích cực - Chống độc", "inpatient", 1, 8),
    "ngoai": ("Khoa Ngoại tổng hợp", "inpatient", 3, 6),
    "nhi": ("Khoa Nhi", "inpatient", 3, 6),
    "san": ("Khoa Phụ sản", "inpatient", 3, 5),
    "san-nhi": ("Khoa Sản - Nhi", "inpatient", 2, 6),
    "xn": ("Khoa Xét nghiệm", "support", 0, 0),
    "cdha": ("Khoa Chẩn đoán hình ảnh", "support", 0, 0),
    "duoc": ("Khoa Dược", "support", 0, 0),
}
_HOSPITAL = ("kham", "cap-cuu", "noi", "lao-tim", "hstc", "ngoai", "nhi", "san", "xn", "cdha", "duoc")
_MCH = ("kham", "cap-cuu", "nhi", "san", "hstc", "xn", "cdha", "duoc")
_DISTRICT_HOSPITAL = ("kham", "cap-cuu", "noi", "ngoai", "nhi", "san", "hstc", "xn", "cdha", "duoc")
_CENTRE = ("kham", "cap-cuu", "noi", "ngoai", "san-nhi", "xn", "duoc")
_SUPPORT_ROLE = {"xn": "lab_technician", "cdha": "imaging_technician", "duoc": "pharmacist"}


@dataclass(frozen=True, slots=True)
class FacilitySpec:
    key: str
    name: str
    code: str
    district: str  # "" for provincial hospitals
    departments: tuple[str, ...]


def facility_specs() -> list[FacilitySpec]:
    """The 11 facilities; district health centres take their district names from the admin-unit list."""
    specs = [
        FacilitySpec("bvdk-tinh", "Bệnh viện Đa khoa tỉnh Cà Mau", "96001", "", _HOSPITAL),
        FacilitySpec("bv-san-nhi", "Bệnh viện Sản - Nhi Cà Mau", "96002", "", _MCH),
    ]
    for n, district in enumerate(admin_units.default().districts_of(PROVINCE), start=3):
        if district.name.endswith("Đầm Dơi"):
            specs.append(FacilitySpec("bvdk-dam-doi", "Bệnh viện Đa khoa Đầm Dơi", f"96{n:03d}", district.code,
                                      _DISTRICT_HOSPITAL))  # fmt: skip
            continue
        place = district.name.replace("Huyện ", "huyện ").replace("Thành phố ", "thành phố ")
        specs.append(FacilitySpec(f"ttyt-{district.code}", f"Trung tâm Y tế {place}", f"96{n:03d}", district.code,
                                  _CENTRE))  # fmt: skip
    return specs


def _org(id_: str, name: str, kind: str, hl7: str, part_of: str | None = None, extra: JsonObj | None = None) -> JsonObj:
    labels = {"province": "Sở Y tế", "facility": "Cơ sở khám chữa bệnh", "department": "Khoa"}
    codings = [{"system": ORG_KIND, "code": kind, "display": labels[kind]}, {"system": HL7_ORG_TYPE, "code": hl7}]
    org: JsonObj = {"resourceType": "Organization", "id": id_, "active": True, "name": name,
                    "type": [{"coding": codings}]}  # fmt: skip
    if part_of:
        org["partOf"] = ref("Organization", part_of)
    return org | (extra or {})


def _location(id_: str, name: str, physical: str, dept_id: str, part_of: str | None = None) -> JsonObj:
    loc: JsonObj = {
        "resourceType": "Location", "id": id_, "status": "active", "name": name, "mode": "instance",
        "physicalType": concept(PHYSICAL, physical), "managingOrganization": ref("Organization", dept_id),
    }  # fmt: skip
    if physical == "bd":
        loc["operationalStatus"] = {"system": BED_STATUS, "code": "U", "display": "Unoccupied"}
    if part_of:
        loc["partOf"] = ref("Location", part_of)
    return loc


@dataclass(slots=True)
class Province:
    resources: list[JsonObj]
    world: World
    #: role → (practitioner id, facility id, department id or None): the staff member behind each demo login
    staff_by_role: dict[str, tuple[str, str, str | None]]


def _department(
    rng: random.Random, fac_id: str, code: str, out: list[JsonObj], staff: dict[str, tuple[str, str, str | None]]
) -> Department:
    from benhan.demo.staff import person

    name, kind, rooms, beds = DEPARTMENTS[code]
    dept_id = f"{fac_id}-{code}"
    out.append(_org(dept_id, name, "department", "dept", fac_id, {"type": [{"coding": [
        {"system": ORG_KIND, "code": "department", "display": "Khoa"}, {"system": HL7_ORG_TYPE, "code": "dept"},
        {"system": DEPT_KIND, "code": kind}]}]}))  # fmt: skip
    room_ids, bed_ids = [], []
    for r in range(1, rooms + 1):
        room_id = f"{dept_id}-p{r}"
        room_ids.append(room_id)
        out.append(_location(room_id, f"Phòng khám {r}" if kind == "outpatient" else f"Phòng {r}", "ro", dept_id))
        for b in range(1, beds + 1):
            bed_ids.append(f"{room_id}-g{b}")
            out.append(_location(bed_ids[-1], f"Giường {r}.{b}", "bd", dept_id, room_id))
    people: dict[str, list[str]] = {"doctor": [], "nurse": []}
    roles = [("head_of_department", "Trưởng khoa")]
    if code in _SUPPORT_ROLE:
        roles += [(_SUPPORT_ROLE[code], "Kỹ thuật viên" if code != "duoc" else "Dược sĩ")] * 2
        if code == "cdha":
            roles.append(("radiologist", "Bác sĩ chẩn đoán hình ảnh"))
    else:
        roles += [("doctor", "Bác sĩ")] * 3 + [("nurse", "Điều dưỡng")] * 4
    for n, (role, label) in enumerate(roles, start=1):
        pid = f"{dept_id}-nv{n}"
        out += person(rng, pid, role, fac_id, fac_id, dept_id, label)
        people.setdefault("doctor" if role == "head_of_department" else role, []).append(pid)
        staff.setdefault(role, (pid, fac_id, dept_id))
    return Department(dept_id, code, name, tuple(room_ids), tuple(bed_ids), tuple(people["doctor"]),
                      tuple(people["nurse"]) or tuple(people["doctor"]))  # fmt: skip


_FACILITY_STAFF = (("receptionist", "Tiếp đón"), ("receptionist", "Tiếp đón"), ("insurance_clerk", "Giám định BHYT"),
                   ("facility_admin", "Quản trị cơ sở"))  # fmt: skip
_PROVINCE_STAFF = (("doh_officer", "Cán bộ Sở Y tế"), ("council_member", "Thành viên hội đồng"),
                   ("auditor", "Kiểm toán viên"))  # fmt: skip


def build_province(seed: int = 2024) -> Province:
    """Every structural resource of the demo province, and the references the patient generator needs."""
    from benhan.demo.staff import person

    rng = random.Random(f"benhan-province:{seed}")
    doh = "cm-so-y-te"
    out: list[JsonObj] = [
        _org(doh, "Sở Y tế tỉnh Cà Mau", "province", "govt"),
        _org("cm-bhxh", "Bảo hiểm xã hội tỉnh Cà Mau", "province", "pay",
             extra={"type": [{"coding": [{"system": HL7_ORG_TYPE, "code": "pay", "display": "Payer"}]}]}),
    ]  # fmt: skip
    staff: dict[str, tuple[str, str, str | None]] = {}
    for n, (role, label) in enumerate(_PROVINCE_STAFF, start=1):
        out += person(rng, f"{doh}-nv{n}", role, doh, doh, None, label)
        staff.setdefault(role, (f"{doh}-nv{n}", doh, None))
    facilities = []
    for spec in facility_specs():
        fac_id = f"cm-{spec.key}"
        out.append(_org(fac_id, spec.name, "facility", "prov", doh,
                        {"identifier": [{"system": FACILITY_CODE, "value": spec.code}]}))  # fmt: skip
        depts = {code: _department(rng, fac_id, code, out, staff) for code in spec.departments}
        for n, (role, label) in enumerate(_FACILITY_STAFF, start=1):
            out += person(rng, f"{fac_id}-nv{n}", role, fac_id, fac_id, None, label)
            staff.setdefault(role, (f"{fac_id}-nv{n}", fac_id, None))
        facilities.append(Facility(fac_id, spec.name, spec.code, spec.district, depts))
    return Province(out, World(tuple(facilities), "cm-bhxh", PROVINCE), staff)
