"""Access facts derived from resource content (pure): care links, Consent opt-outs, the organisation tree.

The repository maintains them in the write transaction, so the policy always sees the relationships the
database holds.  Conventions (docs/security.md):

- Encounter: ``subject`` ← ``serviceProvider`` (facility or department) and ``participant.individual``;
- EpisodeOfCare: ``patient`` ← ``managingOrganization`` and ``careManager``;
- ServiceRequest (orders and referrals): ``subject`` ← ``performer`` (organisations and practitioners);
- CareTeam: ``subject`` ← ``managingOrganization`` and ``participant.member``;
- Consent (active, ``provision.type = deny``): the patient opts out of sharing with each
  ``provision.actor`` Organization, or with every other facility when no Organization is named.
"""

from __future__ import annotations

from typing import Any

from benhan.access.org import org_unit
from benhan.fhir.storage.access_types import CareRef, Derived

JsonObj = dict[str, Any]


def _ref_id(value: Any, type_: str) -> str | None:
    """The id in a literal relative reference ``Type/id`` (absolute and contained references are ignored)."""
    if not isinstance(value, dict):
        return None
    ref = value.get("reference")
    if not isinstance(ref, str) or "://" in ref:
        return None
    parts = ref.split("/")
    if len(parts) >= 2 and parts[-2] == type_:
        return parts[-1]
    return None


def _refs(values: Any, type_: str) -> list[str]:
    items = values if isinstance(values, list) else [values]
    return [i for i in (_ref_id(v, type_) for v in items) if i]


def _links(patient: str | None, orgs: list[str], practitioners: list[str]) -> tuple[CareRef, ...]:
    if patient is None:
        return ()
    out = [CareRef(patient, organization_id=o) for o in orgs]
    out += [CareRef(patient, practitioner_id=p) for p in practitioners]
    return tuple(dict.fromkeys(out))


def care_links(resource: JsonObj) -> tuple[CareRef, ...]:
    rtype = resource.get("resourceType")
    if rtype == "Encounter":
        people = [_ref_id(p.get("individual"), "Practitioner") for p in resource.get("participant") or []
                  if isinstance(p, dict)]
        return _links(_ref_id(resource.get("subject"), "Patient"),
                      _refs(resource.get("serviceProvider"), "Organization"), [p for p in people if p])
    if rtype == "EpisodeOfCare":
        return _links(_ref_id(resource.get("patient"), "Patient"),
                      _refs(resource.get("managingOrganization"), "Organization"),
                      _refs(resource.get("careManager"), "Practitioner"))
    if rtype == "ServiceRequest":
        performers = resource.get("performer") or []
        return _links(_ref_id(resource.get("subject"), "Patient"), _refs(performers, "Organization"),
                      _refs(performers, "Practitioner"))
    if rtype == "CareTeam":
        members = [p.get("member") for p in resource.get("participant") or [] if isinstance(p, dict)]
        return _links(_ref_id(resource.get("subject"), "Patient"),
                      _refs(resource.get("managingOrganization"), "Organization") + _refs(members, "Organization"),
                      _refs(members, "Practitioner"))
    return ()


def consent_blocks(resource: JsonObj) -> tuple[tuple[str, str | None], ...]:
    """(patient, facility or None) opt-outs of an active deny Consent (FHIR R4 consent.html#provision)."""
    if resource.get("resourceType") != "Consent" or resource.get("status") != "active":
        return ()
    patient = _ref_id(resource.get("patient"), "Patient")
    provision = resource.get("provision")
    if patient is None or not isinstance(provision, dict) or provision.get("type") != "deny":
        return ()
    actors = [a.get("reference") for a in provision.get("actor") or [] if isinstance(a, dict)]
    facilities = _refs(actors, "Organization")
    if not facilities:
        return ((patient, None),)
    return tuple((patient, f) for f in dict.fromkeys(facilities))


#: the element naming the Organization a directory resource belongs to (FHIR R4 resource definitions)
OWNER_ELEMENT = {"Location": "managingOrganization", "PractitionerRole": "organization",
                 "HealthcareService": "providedBy", "Endpoint": "managingOrganization"}


def owners(resource: JsonObj) -> tuple[str, ...]:
    """The organisations a non-patient resource belongs to, nearest first: an Organization belongs to itself,
    then to what it is ``partOf``; a Location, PractitionerRole, HealthcareService or Endpoint to the
    Organization its owning element names."""
    type_ = resource.get("resourceType")
    if type_ == "Organization":
        own = resource.get("id")
        return tuple(x for x in (own if isinstance(own, str) else None, _ref_id(resource.get("partOf"), type_)) if x)
    element = OWNER_ELEMENT.get(str(type_))
    owner = _ref_id(resource.get(element), "Organization") if element else None
    return (owner,) if owner else ()


def derive(resource: JsonObj) -> Derived:
    return Derived(care=care_links(resource), consent_blocks=consent_blocks(resource), org=org_unit(resource),
                   owners=owners(resource))
