"""Departments, clinic rooms and beds as FHIR Organization and Location resources, and the bed map.

Shape (FHIR R4 location.html, organization.html): a department (khoa) is an Organization of type ``dept``;
its rooms and beds are Locations whose ``managingOrganization`` is the department, rooms with physical type
``ro`` and beds with ``bd`` and ``partOf`` their room. Who lies in a bed is not stored on the bed: it is the
``active`` entry of an in-progress Encounter's ``location`` list. The bed only keeps its housekeeping state
in ``operationalStatus`` (HL7 v2 table 0116: O occupied, U unoccupied, H housekeeping = being cleaned).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from benhan.clinical.records import BED_STATUS, LOCATION_PHYSICAL, JsonObj, Ref, patient_name, ref_id
from benhan.fhir.storage.protocol import Repository
from benhan.kernel.context import RequestContext

ORG_TYPE = "http://terminology.hl7.org/CodeSystem/organization-type"
DEPT_KIND = "https://benhan.vn/fhir/CodeSystem/loai-khoa"  # inpatient | outpatient | emergency
BedState = Literal["free", "occupied", "cleaning"]


@dataclass(frozen=True, slots=True)
class Bed:
    id: str
    name: str
    room: str
    state: BedState
    patient_name: str = ""
    encounter_id: str = ""


@dataclass(frozen=True, slots=True)
class Department:
    id: str
    name: str
    kind: str


def _location(name: str, physical: str, dept: Ref, part_of: Ref | None = None) -> JsonObj:
    loc: JsonObj = {
        "resourceType": "Location",
        "status": "active",
        "name": name,
        "mode": "instance",
        "physicalType": {"coding": [{"system": LOCATION_PHYSICAL, "code": physical}]},
        "managingOrganization": dept.json(),
    }
    if physical == "bd":
        loc["operationalStatus"] = {"system": BED_STATUS, "code": "U", "display": "Unoccupied"}
    if part_of is not None:
        loc["partOf"] = part_of.json()
    return loc


async def create_department(
    repo: Repository,
    ctx: RequestContext,
    *,
    name: str,
    kind: str = "inpatient",
    rooms: Sequence[tuple[str, Sequence[str]]] = (),
    part_of: str | None = None,
) -> Department:
    """Create a department with its rooms (``(room name, [bed names])``); used by demo and test setup."""
    async with repo.unit_of_work() as uow:
        org: JsonObj = {
            "resourceType": "Organization",
            "active": True,
            "name": name,
            "type": [{"coding": [{"system": ORG_TYPE, "code": "dept"}, {"system": DEPT_KIND, "code": kind}]}],
        }
        if part_of:
            org["partOf"] = {"reference": f"Organization/{part_of}"}
        dept = (await uow.create(ctx, org)).resource
        dept_ref = Ref("Organization", dept.id, name)
        for room_name, beds in rooms:
            room = (await uow.create(ctx, _location(room_name, "ro", dept_ref))).resource
            for bed_name in beds:
                await uow.create(ctx, _location(bed_name, "bd", dept_ref, Ref("Location", room.id, room_name)))
    return Department(dept.id, name, kind)


def department_from_json(org: JsonObj) -> Department:
    kind = "inpatient"
    for t in org.get("type") or []:
        for c in t.get("coding") or []:
            if c.get("system") == DEPT_KIND:
                kind = str(c.get("code"))
    return Department(str(org["id"]), str(org.get("name", "")), kind)


async def list_departments(repo: Repository, ctx: RequestContext) -> list[Department]:
    found = await repo.search_json(ctx, "Organization", [("type", f"{ORG_TYPE}|dept")])
    return sorted((department_from_json(o) for o in found), key=lambda d: d.name)


def physical_type(location: JsonObj) -> str | None:
    for c in (location.get("physicalType") or {}).get("coding") or []:
        return str(c.get("code"))
    return None


def current_location(encounter: JsonObj) -> JsonObj | None:
    """The encounter's ``active`` location entry (FHIR R4 encounter.html: location.status)."""
    for entry in reversed(encounter.get("location") or []):
        if entry.get("status") == "active":
            found: JsonObj = entry
            return found
    return None


async def department_locations(repo: Repository, ctx: RequestContext, dept_id: str) -> list[JsonObj]:
    return await repo.search_json(ctx, "Location", [("organization", f"Organization/{dept_id}")])


def build_bed_map(locations: list[JsonObj], encounters: list[JsonObj], names: dict[str, str]) -> list[Bed]:
    """Beds sorted by room then name; ``encounters`` are the department's in-progress inpatient stays."""
    rooms = {loc["id"]: str(loc.get("name", "")) for loc in locations if physical_type(loc) == "ro"}
    occupant: dict[str, JsonObj] = {}
    for enc in encounters:
        loc = current_location(enc)
        bed_id = ref_id(loc.get("location") if loc else None, "Location")
        if bed_id:
            occupant[bed_id] = enc
    beds: list[Bed] = []
    for loc in locations:
        if physical_type(loc) != "bd" or loc.get("status") == "inactive":
            continue
        room = rooms.get(ref_id(loc.get("partOf"), "Location") or "", "")
        stay = occupant.get(loc["id"])
        if stay is not None:
            pid = ref_id(stay.get("subject"), "Patient") or ""
            beds.append(Bed(loc["id"], str(loc.get("name", "")), room, "occupied", names.get(pid, ""), stay["id"]))
            continue
        status = (loc.get("operationalStatus") or {}).get("code")
        beds.append(Bed(loc["id"], str(loc.get("name", "")), room, "cleaning" if status == "H" else "free"))
    return sorted(beds, key=lambda b: (b.room, _natural(b.name)))


def _natural(name: str) -> tuple[str, int]:
    digits = "".join(ch for ch in name if ch.isdigit())
    return (name.rstrip("0123456789 "), int(digits) if digits else 0)


async def bed_map(repo: Repository, ctx: RequestContext, dept_id: str) -> list[Bed]:
    """Free, occupied and cleaning beds of a department: 3 repository calls whatever the bed count."""
    locations = await department_locations(repo, ctx, dept_id)
    encounters = await repo.search_json(
        ctx, "Encounter", [("service-provider", f"Organization/{dept_id}"), ("status", "in-progress")]
    )
    pids = sorted({ref_id(e.get("subject"), "Patient") or "" for e in encounters} - {""})
    names: dict[str, str] = {}
    if pids:
        for p in await repo.search_json(ctx, "Patient", [("_id", ",".join(pids))]):
            names[p["id"]] = patient_name(p)
    return build_bed_map(locations, encounters, names)


async def set_bed_status(repo: Repository, ctx: RequestContext, bed_id: str, code: str) -> None:
    """O occupied, U free, H being cleaned. Updating the bed also locks it for the rest of the transaction."""
    display = {"O": "Occupied", "U": "Unoccupied", "H": "Housekeeping"}[code]
    bed = (await repo.read(ctx, "Location", bed_id)).json()
    bed["operationalStatus"] = {"system": BED_STATUS, "code": code, "display": display}
    await repo.update(ctx, "Location", bed_id, bed)


async def mark_bed_clean(repo: Repository, ctx: RequestContext, bed_id: str) -> None:
    async with repo.unit_of_work() as uow:
        await set_bed_status(uow, ctx, bed_id, "U")
