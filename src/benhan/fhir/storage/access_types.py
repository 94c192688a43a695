"""Values exchanged between the repository and the access policy (issue 4).

The repository (storage) fetches facts and runs SQL; the policy (``benhan.access``) is pure and decides.
These plain values are the contract between the two, so storage never imports the access package and
the access package never speaks SQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

#: Interactions the policy decides on (FHIR R4 http.html + operations and bulk export).
ACTIONS = ("read", "vread", "search", "create", "update", "patch", "delete", "history", "operation", "export")

#: Relationship levels of a user to a patient, weakest first.
LEVEL_PROVINCE, LEVEL_FACILITY, LEVEL_DEPARTMENT, LEVEL_ASSIGNED = 0, 1, 2, 3


@dataclass(frozen=True, slots=True)
class CareRelation:
    """"Patient has an encounter/admission/referral/care team at facility F, department D, practitioner P"."""

    patient_id: str
    facility_id: str | None = None
    department_id: str | None = None
    practitioner_id: str | None = None


@dataclass(frozen=True, slots=True)
class CareRef:
    """A care link as written in a resource: the organisation may be a facility or a department, which the
    store resolves with its organisation tree."""

    patient_id: str
    organization_id: str | None = None
    practitioner_id: str | None = None


@dataclass(frozen=True, slots=True)
class OrgUnit:
    """An Organization in the tree: province → facility → department (Locations hang below departments)."""

    id: str
    kind: str  # province | facility | department | other
    parent_id: str | None = None


@dataclass(frozen=True, slots=True)
class Derived:
    """Access facts a write derives from the resource content, maintained in the write transaction."""

    care: tuple[CareRef, ...] = ()
    #: Consent opt-outs: (patient id, facility id or None for "every other facility")
    consent_blocks: tuple[tuple[str, str | None], ...] = ()
    org: OrgUnit | None = None
    #: organisations a non-patient resource belongs to, nearest first (its facility is found from them)
    owners: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Target:
    """What the policy needs to know about the resource an interaction touches."""

    type: str
    id: str | None = None
    patient_id: str | None = None
    relations: tuple[CareRelation, ...] = ()
    #: facility ids the patient opted out of sharing with; None in the tuple = every facility
    consent_blocks: tuple[str | None, ...] = ()
    origin_facility: str | None = None
    exists: bool = True
    #: a non-patient resource's facility (or the province's id above every facility); None: not known
    owner_facility: str | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str
    #: 404 hides existence (instance denials); 403 for denials that reveal nothing (role/scope/type)
    status: int = 200
    break_glass: bool = False


@dataclass(frozen=True, slots=True)
class VisibilityRule:
    """Resources of ``types`` are visible when not in a patient compartment, or when the viewer's
    relationship to the patient reaches ``min_level`` (and consent allows it)."""

    types: frozenset[str]
    min_level: int
    #: SMART ``patient/`` scopes: only this patient's compartment
    patient_id: str | None = None


@dataclass(frozen=True, slots=True)
class Visibility:
    """What a search, history or export may see; translated to SQL by ``storage.pg.access_sql``."""

    rules: tuple[VisibilityRule, ...] = ()
    unrestricted: bool = False
    facility_id: str | None = None
    department_id: str | None = None
    practitioner_id: str | None = None
    #: break-the-glass: these patients are visible whatever the relationship; ("*",) = every patient
    glass_patients: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One AuditEvent (IHE BALP) ready to store: canonical JSON bytes plus the columns reports query."""

    content: bytes
    recorded: datetime
    action: str
    outcome: str
    user_name: str | None = None
    user_id: str | None = None
    client_id: str | None = None
    facility_id: str | None = None
    department_id: str | None = None
    patient_id: str | None = None
    break_glass: bool = False
    entity: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class AuditInfo:
    """What happened, besides who did it (which the request context says)."""

    action: str
    outcome: str = "success"
    type: str | None = None
    id: str | None = None
    version: int | None = None
    patient_id: str | None = None
    query: str | None = None
    detail: str | None = None
    break_glass: bool = False
    #: ids of the resources a search or history returned (entity per resource, capped)
    returned: tuple[str, ...] = ()
