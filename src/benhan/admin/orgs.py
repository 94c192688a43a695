"""The organisation tree (issue 4): facilities and departments (Organization), wards, rooms and beds
(Location), listed and created or renamed through the repository (versioned and audited).  A provincial
administrator registers facilities; a facility administrator works inside their own facility."""

from __future__ import annotations

from dataclasses import dataclass, field

from benhan.access import org
from benhan.admin.scope import AdminDeps, AdminScope, admin_scope, facility_of, org_units, refuse
from benhan.clinical.records import BED_STATUS, ClinicalError, JsonObj, ref_id
from benhan.fhir.storage.access_types import OrgUnit
from benhan.kernel.context import RequestContext
from benhan.kernel.errors import ErrorCode

LOCATION_KINDS = ("ward", "room", "bed")


@dataclass(slots=True)
class PlaceNode:
    id: str
    name: str
    kind: str  # ward | room | bed
    children: list[PlaceNode] = field(default_factory=list)


@dataclass(slots=True)
class DeptNode:
    id: str
    name: str
    places: list[PlaceNode] = field(default_factory=list)


@dataclass(slots=True)
class FacilityNode:
    id: str
    name: str
    departments: list[DeptNode] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class OrgTree:
    scope: AdminScope
    facilities: list[FacilityNode]


def _name(value: str, field_: str = "name") -> str:
    name = " ".join(value.split())
    if not name or len(name) > 200:
        raise ClinicalError.one(field_, "Nhập tên (tối đa 200 ký tự).", "Enter a name (at most 200 characters).")
    return name


def _place_kind(loc: JsonObj) -> str:
    code = next((c.get("code") for c in (loc.get("physicalType") or {}).get("coding") or []), None)
    return {"wa": "ward", "ro": "room", "bd": "bed"}.get(str(code), "room")


async def org_tree(deps: AdminDeps, ctx: RequestContext) -> OrgTree:
    """Facilities in reach with their departments and places (two searches)."""
    scope = await admin_scope(deps, ctx)
    units = await org_units(deps, ctx)
    facilities = {uid: FacilityNode(uid, name) for uid, (u, name) in units.items()
                  if u.kind == "facility" and scope.covers(uid)}
    depts: dict[str, DeptNode] = {}
    for uid, (u, name) in sorted(units.items(), key=lambda kv: kv[1][1]):
        fac = facility_of(uid, units) if u.kind == "department" else None
        if fac in facilities:
            depts[uid] = DeptNode(uid, name)
            facilities[fac].departments.append(depts[uid])
    if depts:
        locations = await deps.repo.search_json(ctx, "Location", [("organization", ",".join(depts))])
        nodes = {loc["id"]: PlaceNode(loc["id"], str(loc.get("name", "")), _place_kind(loc)) for loc in locations}
        for loc in sorted(locations, key=lambda x: str(x.get("name", ""))):
            parent = ref_id(loc.get("partOf"), "Location")
            if parent in nodes:
                nodes[parent].children.append(nodes[loc["id"]])
            elif (dept := ref_id(loc.get("managingOrganization"), "Organization")) in depts:
                depts[dept].places.append(nodes[loc["id"]])
    return OrgTree(scope, sorted(facilities.values(), key=lambda f: f.name))


async def create_facility(deps: AdminDeps, ctx: RequestContext, name: str, code: str = "",
                          province_id: str | None = None, *, kind: str = "facility") -> str:
    """A facility (provincial administrators only); ``code`` is the BHYT facility code (5 digits).  With
    ``kind="province"``: the province (Sở Y tế) Organization itself, the root of the tree."""
    scope = await admin_scope(deps, ctx)
    if not scope.province:
        await refuse(deps, ctx, "only a provincial administrator registers facilities")
    if code and not (code.isdigit() and len(code) == 5):
        raise ClinicalError.one("code", "Mã cơ sở KCB BHYT gồm 5 chữ số.", "The BHYT facility code has 5 digits.")
    if kind not in ("facility", "province"):
        raise ClinicalError.one("kind", "Chọn cơ sở hoặc Sở Y tế.", "Choose facility or province.")
    parent = None if kind == "province" else province_id or scope.province_id
    res = org.organization(kind, _name(name), code=code or None, parent_id=parent)
    return (await deps.repo.create(ctx, res)).resource.id


async def _in_reach(deps: AdminDeps, ctx: RequestContext, scope: AdminScope, unit_id: str,
                    kinds: tuple[str, ...]) -> dict[str, tuple[OrgUnit, str]]:
    units = await org_units(deps, ctx)
    unit = units.get(unit_id)
    if unit is None or unit[0].kind not in kinds or not scope.covers(facility_of(unit_id, units)):
        await refuse(deps, ctx, f"Organization/{unit_id} is not in your facility", ErrorCode.NOT_FOUND)
    return units


async def create_department(deps: AdminDeps, ctx: RequestContext, name: str, facility_id: str) -> str:
    scope = await admin_scope(deps, ctx)
    await _in_reach(deps, ctx, scope, facility_id, ("facility",))
    return (await deps.repo.create(ctx, org.organization("department", _name(name), parent_id=facility_id))).resource.id


async def create_place(deps: AdminDeps, ctx: RequestContext, kind: str, name: str, department_id: str,
                       parent_id: str | None = None) -> str:
    """A ward, room or bed of a department; a bed starts unoccupied (HL7 v2 table 0116 ``U``)."""
    scope = await admin_scope(deps, ctx)
    if kind not in LOCATION_KINDS:
        raise ClinicalError.one("kind", "Chọn loại: buồng, phòng hoặc giường.", "Choose ward, room or bed.")
    await _in_reach(deps, ctx, scope, department_id, ("department",))
    if parent_id:
        parent = (await deps.repo.read(ctx, "Location", parent_id)).json()
        if ref_id(parent.get("managingOrganization"), "Organization") != department_id:
            raise ClinicalError.one("parent_id", "Vị trí cha không thuộc khoa này.",
                                    "The parent place is not in this department.")
    res = org.location(kind, _name(name), department_id=department_id, parent_location_id=parent_id or None)
    if kind == "bed":
        res["operationalStatus"] = {"system": BED_STATUS, "code": "U", "display": "Unoccupied"}
    return (await deps.repo.create(ctx, res)).resource.id


async def rename(deps: AdminDeps, ctx: RequestContext, type_: str, id_: str, name: str) -> None:
    """A new name for an Organization or Location in reach (a new version: the old name stays in history)."""
    scope = await admin_scope(deps, ctx)
    if type_ not in ("Organization", "Location"):
        await refuse(deps, ctx, f"cannot rename a {type_}")
    new_name = _name(name)
    current = await deps.repo.read(ctx, type_, id_)
    res = current.json()
    owner = id_ if type_ == "Organization" else ref_id(res.get("managingOrganization"), "Organization") or ""
    await _in_reach(deps, ctx, scope, owner, ("province", "facility", "department"))
    if type_ == "Organization" and org.org_kind(res) == "province" and not scope.province:
        await refuse(deps, ctx, "only a provincial administrator renames the province")
    await deps.repo.update(ctx, type_, id_, {**res, "name": new_name}, if_match=current.version)
