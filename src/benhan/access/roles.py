"""Staff roles (issue 4) with their Vietnamese and English names.

A user holds grants (role, facility, department); the roles active in a request are those granted at the
active facility (and, when a grant names one, the active department).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    RECEPTIONIST = "receptionist"
    DOCTOR = "doctor"
    NURSE = "nurse"
    LAB_TECHNICIAN = "lab_technician"
    IMAGING_TECHNICIAN = "imaging_technician"
    RADIOLOGIST = "radiologist"
    PHARMACIST = "pharmacist"
    INSURANCE_CLERK = "insurance_clerk"
    HEAD_OF_DEPARTMENT = "head_of_department"
    FACILITY_ADMIN = "facility_admin"
    DOH_OFFICER = "doh_officer"
    COUNCIL_MEMBER = "council_member"
    AUDITOR = "auditor"


ROLE_LABELS: dict[Role, tuple[str, str]] = {
    Role.RECEPTIONIST: ("Tiếp đón", "Receptionist"),
    Role.DOCTOR: ("Bác sĩ", "Doctor"),
    Role.NURSE: ("Điều dưỡng", "Nurse"),
    Role.LAB_TECHNICIAN: ("Kỹ thuật viên xét nghiệm", "Lab technician"),
    Role.IMAGING_TECHNICIAN: ("Kỹ thuật viên chẩn đoán hình ảnh", "Imaging technician"),
    Role.RADIOLOGIST: ("Bác sĩ chẩn đoán hình ảnh", "Radiologist"),
    Role.PHARMACIST: ("Dược sĩ", "Pharmacist"),
    Role.INSURANCE_CLERK: ("Nhân viên giám định BHYT", "Insurance clerk"),
    Role.HEAD_OF_DEPARTMENT: ("Trưởng khoa", "Head of department"),
    Role.FACILITY_ADMIN: ("Quản trị cơ sở", "Facility administrator"),
    Role.DOH_OFFICER: ("Cán bộ Sở Y tế", "Department of Health officer"),
    Role.COUNCIL_MEMBER: ("Thành viên hội đồng", "Council member"),
    Role.AUDITOR: ("Kiểm toán viên", "Auditor"),
}

#: PractitionerRole.code system for benhan roles
ROLE_SYSTEM = "https://benhan.vn/fhir/CodeSystem/staff-role"


def parse_role(name: str) -> Role:
    try:
        return Role(name)
    except ValueError:
        known = ", ".join(r.value for r in Role)
        raise ValueError(f"unknown role {name!r}; known roles: {known}") from None


@dataclass(frozen=True, slots=True)
class Grant:
    """A role held by a user at a facility (and optionally one department of it)."""

    role: str
    facility_id: str
    department_id: str | None = None


def active_roles(grants: list[Grant], facility_id: str | None, department_id: str | None) -> frozenset[str]:
    """Roles in force at the chosen facility and department."""
    return frozenset(
        g.role for g in grants
        if g.facility_id == facility_id and (g.department_id is None or g.department_id == department_id)
    )


def facilities_of(grants: list[Grant]) -> list[tuple[str, str | None]]:
    """(facility, department) choices a user may switch to, in a stable order."""
    seen: dict[tuple[str, str | None], None] = {}
    for g in grants:
        seen.setdefault((g.facility_id, g.department_id), None)
    return sorted(seen, key=lambda fd: (fd[0], fd[1] or ""))


def practitioner_role(practitioner_id: str, grant: Grant) -> dict[str, object]:
    """The PractitionerRole resource recording a grant (FHIR R4 practitionerrole.html)."""
    vi, en = ROLE_LABELS[parse_role(grant.role)]
    res: dict[str, object] = {
        "resourceType": "PractitionerRole",
        "active": True,
        "practitioner": {"reference": f"Practitioner/{practitioner_id}"},
        "organization": {"reference": f"Organization/{grant.department_id or grant.facility_id}"},
        "code": [{"coding": [{"system": ROLE_SYSTEM, "code": grant.role, "display": en}], "text": vi}],
    }
    return res
