"""Staff of the demo province: Practitioner + PractitionerRole per person, every role represented."""

from __future__ import annotations

import random
from typing import Any

from benhan.synth.fhirgen import concept, ref
from benhan.synth.names import NameGenerator

JsonObj = dict[str, Any]
ROLE_SYSTEM = "https://benhan.vn/fhir/CodeSystem/staff-role"  # benhan.access.roles.ROLE_SYSTEM
_TITLES = {"doctor": "BS.", "head_of_department": "BSCKII.", "radiologist": "BS.", "pharmacist": "DS.",
           "nurse": "ĐD.", "lab_technician": "KTV.", "imaging_technician": "KTV."}  # fmt: skip


def person(
    rng: random.Random, id_: str, role: str, org_id: str, facility_id: str, dept_id: str | None, label: str
) -> list[JsonObj]:
    """A Practitioner and their PractitionerRole (``role`` is a ``benhan.access.roles.Role`` value)."""
    vn_name = NameGenerator(rng).name(None, rng.randint(1962, 1998))
    name = vn_name.to_fhir()
    if role in _TITLES:
        name["prefix"] = [_TITLES[role]]
    practitioner: JsonObj = {
        "resourceType": "Practitioner", "id": id_, "active": True, "name": [name],
        "gender": vn_name.sex,
        "identifier": [{"system": "https://benhan.vn/sid/ma-nhan-vien", "value": id_}],
    }  # fmt: skip
    role_res: JsonObj = {
        "resourceType": "PractitionerRole", "id": f"{id_}-vt", "active": True,
        "practitioner": ref("Practitioner", id_, str(name["text"])),
        "organization": ref("Organization", dept_id or org_id),
        "code": [concept(ROLE_SYSTEM, role, None, label)],
    }  # fmt: skip
    if dept_id and dept_id != facility_id:
        role_res["extension"] = [{"url": "https://benhan.vn/fhir/StructureDefinition/facility",
                                  "valueReference": ref("Organization", facility_id)}]  # fmt: skip
    return [practitioner, role_res]
