"""The organisation tree as FHIR resources: province (Sở Y tế) → facility → department (khoa) as
Organization, ward/room → bed as Location (FHIR R4 organization.html, location.html).

The kind of an Organization is its ``type`` coding in ``ORG_KIND_SYSTEM``; the standard
``organization-type`` codes are understood too (``govt`` province, ``prov`` facility, ``dept`` department).
"""

from __future__ import annotations

from typing import Any

from benhan.fhir.storage.access_types import OrgUnit

JsonObj = dict[str, Any]

ORG_KIND_SYSTEM = "https://benhan.vn/fhir/CodeSystem/org-kind"
HL7_ORG_TYPE = "http://terminology.hl7.org/CodeSystem/organization-type"
LOCATION_TYPE = "http://terminology.hl7.org/CodeSystem/location-physical-type"
KINDS = ("province", "facility", "department")
_HL7_KIND = {"govt": "province", "prov": "facility", "dept": "department"}
_KIND_LABEL = {"province": "Sở Y tế", "facility": "Cơ sở khám chữa bệnh", "department": "Khoa"}


def org_kind(resource: JsonObj) -> str:
    for concept in resource.get("type") or []:
        for coding in concept.get("coding") or [] if isinstance(concept, dict) else []:
            if coding.get("system") == ORG_KIND_SYSTEM and coding.get("code") in KINDS:
                return str(coding["code"])
            if coding.get("system") == HL7_ORG_TYPE and coding.get("code") in _HL7_KIND:
                return _HL7_KIND[str(coding["code"])]
    return "other"


def org_unit(resource: JsonObj) -> OrgUnit | None:
    """The tree node an Organization write describes (None for other resources or unsaved ones)."""
    if resource.get("resourceType") != "Organization" or not isinstance(resource.get("id"), str):
        return None
    parent = None
    part_of = resource.get("partOf")
    if isinstance(part_of, dict) and isinstance(part_of.get("reference"), str):
        ref = part_of["reference"].split("/")
        if len(ref) == 2 and ref[0] == "Organization":
            parent = ref[1]
    return OrgUnit(id=str(resource["id"]), kind=org_kind(resource), parent_id=parent)


def organization(kind: str, name: str, *, code: str | None = None, parent_id: str | None = None) -> JsonObj:
    """A province, facility or department Organization (``code``: the BHYT facility code, if any)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    res: JsonObj = {
        "resourceType": "Organization",
        "active": True,
        "name": name,
        "type": [{"coding": [{"system": ORG_KIND_SYSTEM, "code": kind, "display": _KIND_LABEL[kind]}]}],
    }
    if code:
        res["identifier"] = [{"system": "https://benhan.vn/fhir/sid/facility-code", "value": code}]
    if parent_id:
        res["partOf"] = {"reference": f"Organization/{parent_id}"}
    return res


def location(kind: str, name: str, *, department_id: str, parent_location_id: str | None = None) -> JsonObj:
    """A ward/room (``ro``) or bed (``bd``) Location managed by a department."""
    codes = {"ward": ("wa", "Ward"), "room": ("ro", "Room"), "bed": ("bd", "Bed")}
    if kind not in codes:
        raise ValueError(f"kind must be one of {sorted(codes)}")
    code, display = codes[kind]
    res: JsonObj = {
        "resourceType": "Location",
        "status": "active",
        "name": name,
        "mode": "instance",
        "physicalType": {"coding": [{"system": LOCATION_TYPE, "code": code, "display": display}]},
        "managingOrganization": {"reference": f"Organization/{department_id}"},
    }
    if parent_location_id:
        res["partOf"] = {"reference": f"Location/{parent_location_id}"}
    return res


def facility_of(unit_id: str, units: dict[str, OrgUnit]) -> str | None:
    """The facility an organisation belongs to (itself if it is one); walks ``partOf`` upwards."""
    seen: set[str] = set()
    current: str | None = unit_id
    while current is not None and current not in seen:
        seen.add(current)
        unit = units.get(current)
        if unit is None:
            return None
        if unit.kind == "facility":
            return unit.id
        current = unit.parent_id
    return None
