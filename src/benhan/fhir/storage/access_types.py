"""Values exchanged between the repository and the access policy (issue 4).

The repository (storage) fetches facts and runs SQL; the policy (``benhan.access``) is pure and decides.
These plain values are the contract between the two, so storage never imports the access package and
the access package never speaks SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

import orjson

#: Interactions the policy decides on (FHIR R4 http.html + operations and bulk export).
ACTIONS = ("read", "vread", "search", "create", "update", "patch", "delete", "history", "operation", "export")

#: AuditEvent codes (IHE BALP; FHIR R4 auditevent.html), shared by the audit writer (``benhan.access.audit``)
#: and the audit log's FHIR search (``storage.pg.audit_events``).
AUDIT_DCM = "http://dicom.nema.org/resources/ontology/DCM"
AUDIT_RESTFUL = "http://hl7.org/fhir/restful-interaction"
AUDIT_BENHAN = "https://benhan.vn/fhir/CodeSystem/audit-event"
#: interaction → (AuditEvent.action, subtype system, subtype code)
AUDIT_ACTIONS: dict[str, tuple[str, str, str]] = {
    "read": ("R", AUDIT_RESTFUL, "read"), "vread": ("R", AUDIT_RESTFUL, "vread"),
    "history": ("R", AUDIT_RESTFUL, "history-instance"), "search": ("E", AUDIT_RESTFUL, "search-type"),
    "create": ("C", AUDIT_RESTFUL, "create"), "update": ("U", AUDIT_RESTFUL, "update"),
    "patch": ("U", AUDIT_RESTFUL, "patch"), "delete": ("D", AUDIT_RESTFUL, "delete"),
    "operation": ("E", AUDIT_RESTFUL, "operation"), "export": ("R", AUDIT_BENHAN, "export"),
    "print": ("R", AUDIT_BENHAN, "print"), "login": ("E", AUDIT_DCM, "110122"),
    "logout": ("E", AUDIT_DCM, "110123"), "login-failed": ("E", AUDIT_DCM, "110122"),
    "break-glass": ("E", AUDIT_BENHAN, "break-glass"), "token-issue": ("E", AUDIT_BENHAN, "token-issue"),
    "token-revoke": ("E", AUDIT_BENHAN, "token-revoke"), "session-switch": ("E", AUDIT_BENHAN, "session-switch"),
    # a user's remembered "Allow" of an app (SMART consent) and its revocation
    "app-approve": ("E", AUDIT_BENHAN, "app-approve"), "app-revoke": ("E", AUDIT_BENHAN, "app-revoke"),
    # user, role and client administration (and its refusals): DICOM PS3.16 CID 403 "User Security
    # Attributes Changed"
    "admin": ("U", AUDIT_DCM, "110137"),
}
#: interactions recorded with AuditEvent.type DCM 110114 "User Authentication" (the others: ``rest``)
AUDIT_SECURITY_EVENTS = frozenset({"login", "logout", "login-failed", "token-issue", "token-revoke",
                                   "session-switch", "app-approve", "app-revoke"})
#: FHIR R4 valueset-audit-event-outcome: 0 success, 4 minor failure (denied), 8 serious failure (error)
AUDIT_OUTCOMES = {"success": "0", "denied": "4", "failed": "8"}

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
    #: (exports) types the subject reaches only through a ``deidentified`` read level: what is exported of
    #: them must be pseudonymised
    deidentified: frozenset[str] = frozenset()


#: An AuditEvent's canonical JSON, whole (``bytes``) or as ``(template, values)``: the JSON is the template's
#: first text, then each value as a JSON string (``orjson.dumps``) followed by the template's next text
#: (``len(template) == len(values) + 1``).  A read's template is its caller's, serialised once per caller and
#: shared by every record of theirs (``access/audit.py``), so a record holds only its own references, request
#: id and instant, and is joined only when it is read; the read audit's blocks store the templates once
#: and the values of each event (``storage/pg/audit.py``).
EventParts = bytes | tuple[tuple[bytes, ...], tuple[str, ...]]


def event_json(parts: EventParts) -> bytes:
    """The JSON bytes of ``parts``."""
    if isinstance(parts, bytes):
        return parts
    template, values = parts
    if len(template) != len(values) + 1:
        raise ValueError("an audit event's template and values do not match")
    out = [template[0]]
    for value, text in zip(values, template[1:], strict=True):
        out += (orjson.dumps(value), text)
    return b"".join(out)


# The two audit values are made for every read and search: immutable tuples, which Python builds ~8x faster
# than a frozen dataclass (whose ``__init__`` sets each field through ``object.__setattr__``: 12 fields
# ~1.2 us against ~0.15).
class AuditRecord(NamedTuple):
    """One AuditEvent (IHE BALP) ready to store: canonical JSON (:data:`EventParts`) plus the columns reports
    query."""

    parts: EventParts
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
    entity: tuple[str, ...] = ()

    @property
    def content(self) -> bytes:
        """The event's JSON bytes."""
        return event_json(self.parts)


def audit_event_id(chain: int, seq: int, part: int = 0) -> str:
    """An audit event's id (FHIR ``AuditEvent.id``, the auditor's screen): ``<chain>-<seq>`` for a row of the
    audit log, ``<chain>-<seq>-<part>`` for the ``part``-th event of a block of the read audit (migration 0018)."""
    return f"{chain}-{seq}-{part}" if part else f"{chain}-{seq}"


class AuditInfo(NamedTuple):
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
