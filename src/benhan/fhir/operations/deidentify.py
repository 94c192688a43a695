"""De-identification of patient-level resources for DoH officers and council members (pure, no I/O).

Pseudonymisation in the sense of ISO 25237 (Health informatics — Pseudonymization): the data stay linkable
(the same patient always gets the same pseudonym under the same key, so counts per patient, readmissions and
care paths survive) but cannot be tied back to a person without the key, which only the server holds
(``BENHAN_PSEUDONYM_KEY``).  What is removed or coarsened:

- the Patient id and every reference to a Patient → ``HMAC-SHA256(key, id)`` (a keyed hash, not a plain
  one: without the key nobody can test a known id against the pseudonyms);
- names, identifiers (CCCD, BHYT, MA_BN, encounter numbers… everywhere, also inside references), telecom,
  photos, Patient.contact, and the display text of references to a Patient;
- addresses down to district level: only ``district``, ``state`` (province) and ``country`` stay;
- free text: the narrative (``text.div``) and notes (Annotation ``note``), attachment content and links;
- birthDate (and deceasedDateTime) reduced to the year.

Each resource is labelled ``meta.security`` PSEUDED from v3-ObservationValue, the HL7 security label for
"pseudonymized" (FHIR R4 security-labels.html, valueset-security-labels).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any

JsonObj = dict[str, Any]

#: HL7 v3 ObservationValue "PSEUDED" (FHIR R4 security-labels.html: an integrity/de-identification label)
PSEUDED = {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "PSEUDED",
           "display": "pseudonymized"}
#: person-describing elements removed wherever they appear (names only on the person-like resources below)
_REMOVED = frozenset({"identifier", "telecom", "photo", "note", "contact"})
#: resources describing a person, whose ``name`` is removed and ``address`` coarsened
_PERSONS = frozenset({"Patient", "RelatedPerson", "Person"})
_ADDRESS_KEPT = ("use", "type", "district", "state", "country")
_PATIENT_REF = re.compile(r"^(?P<base>(?:.*/)?Patient/)(?P<id>[A-Za-z0-9\-.]{1,64})(?P<rest>/_history/.*)?$")


def pseudonym(patient_id: str, key: bytes) -> str:
    """The patient's pseudonymous id: a valid FHIR id (32 hex digits, 128 bits of the keyed hash)."""
    return hmac.new(key, patient_id.encode(), hashlib.sha256).hexdigest()[:32]


def deidentify(resource: JsonObj, key: bytes) -> JsonObj:
    """A de-identified copy of ``resource`` (the input is not changed)."""
    out: JsonObj = _walk(resource, key)
    if out.get("resourceType") == "Patient" and isinstance(out.get("id"), str):
        out["id"] = pseudonym(out["id"], key)
    meta = out.setdefault("meta", {})
    meta["security"] = [*[s for s in meta.get("security", []) if s.get("code") != "PSEUDED"], dict(PSEUDED)]
    return out


def _walk(node: Any, key: bytes) -> Any:
    if isinstance(node, list):
        return [_walk(item, key) for item in node]
    if not isinstance(node, dict):
        return node
    if isinstance(node.get("reference"), str) and _PATIENT_REF.match(node["reference"]):
        return _patient_reference(node, key)
    person = node.get("resourceType") in _PERSONS
    out: JsonObj = {}
    for name, value in node.items():
        if name in _REMOVED or (name == "name" and person) or _is_narrative(name, value):
            continue
        if name == "address" and person:
            out[name] = [{k: a[k] for k in _ADDRESS_KEPT if k in a} for a in value if isinstance(a, dict)]
        elif name in ("birthDate", "deceasedDateTime") and isinstance(value, str):
            out[name] = value[:4]
        elif name == "contained" and isinstance(value, list):
            out[name] = [deidentify(c, key) if isinstance(c, dict) else c for c in value]
        else:
            out[name] = _walk(value, key)
    if "contentType" in out:  # an Attachment: scanned papers and images carry names and faces
        for field in ("data", "url", "title"):
            out.pop(field, None)
    return out


def _is_narrative(name: str, value: Any) -> bool:
    """``text`` as a Narrative (``{status, div}``); ``CodeableConcept.text`` (a string) is kept."""
    return name == "text" and isinstance(value, dict)


def _patient_reference(ref: JsonObj, key: bytes) -> JsonObj:
    m = _PATIENT_REF.match(ref["reference"])
    assert m is not None
    out = {k: v for k, v in ref.items() if k not in ("display", "identifier")}
    out["reference"] = f"Patient/{pseudonym(m['id'], key)}"
    return out


__all__ = ["PSEUDED", "deidentify", "pseudonym"]
