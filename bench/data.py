"""Realistic FHIR R4 resources for the workloads: Vietnamese patients, vital signs, ICD-10 diagnoses, drugs.

Deterministic per ``random.Random``.  Uses ``benhan.synth`` (the synthetic-data generator) for names and
CCCD numbers when it is importable, else a small built-in list, so the suite runs on any commit.
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

Json = dict[str, Any]
VN = timezone(timedelta(hours=7))
CCCD_SYSTEM = "http://benhan.vn/fhir/sid/cccd"
BHYT_SYSTEM = "http://benhan.vn/fhir/sid/bhyt"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
OBS_CAT = "http://terminology.hl7.org/CodeSystem/observation-category"

_FAMILY = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Dương")
_GIVEN = ("An", "Bình", "Chi", "Dũng", "Hà", "Hải", "Hương", "Lan", "Minh", "Ngọc", "Phúc", "Thảo", "Tuấn")
_MIDDLE = ("Văn", "Thị", "Minh", "Thanh", "Ngọc", "Hữu", "Quốc")
# (LOINC code, display, unit, UCUM code, low, high) — the vital signs of FHIR R4 observation-vitalsigns.
VITALS = (
    ("8867-4", "Heart rate", "beats/minute", "/min", 55, 120),
    ("9279-1", "Respiratory rate", "breaths/minute", "/min", 12, 28),
    ("8310-5", "Body temperature", "Cel", "Cel", 36.0, 39.5),
    ("59408-5", "Oxygen saturation", "%", "%", 88, 100),
    ("29463-7", "Body weight", "kg", "kg", 35, 90),
    ("8302-2", "Body height", "cm", "cm", 145, 180),
)
DIAGNOSES = (
    ("I10", "Tăng huyết áp vô căn"), ("E11", "Đái tháo đường type 2"), ("J18", "Viêm phổi"),
    ("A09", "Tiêu chảy và viêm dạ dày ruột"), ("K29", "Viêm dạ dày và tá tràng"), ("J45", "Hen phế quản"),
)
DRUGS = (
    ("Amlodipin 5mg", "1 viên sáng"), ("Metformin 500mg", "sáng 1 viên, chiều 1 viên"),
    ("Amoxicilin 500mg", "1 viên mỗi 8 giờ"), ("Paracetamol 500mg", "1 viên khi sốt > 38.5"),
    ("Omeprazol 20mg", "1 viên trước ăn sáng"),
)


class NameSource:
    """Names and CCCD numbers from ``benhan.synth`` when present, else a small fallback list."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        try:
            from benhan.synth.names import NameGenerator

            self._gen: Any = NameGenerator(rng)
        except ImportError:  # the generator is another issue; the bench must still run without it
            self._gen = None

    def name(self, sex: str, birth_year: int) -> Json:
        if self._gen is not None:
            try:
                human: Json = self._gen.name(sex, birth_year).to_fhir()
                return human
            except (AttributeError, TypeError):
                self._gen = None
        family, middle, given = (self.rng.choice(x) for x in (_FAMILY, _MIDDLE, _GIVEN))
        return {"use": "official", "text": f"{family} {middle} {given}", "family": family, "given": [middle, given]}

    def cccd(self, birth_year: int, sex: str) -> str:
        try:
            from benhan.synth.identifiers import cccd_number

            return str(cccd_number(self.rng, birth_year, sex))  # type: ignore[arg-type]
        except (ImportError, TypeError, ValueError):
            return f"096{self.rng.randrange(10**9):09d}"


def _ts(rng: random.Random, days_back: int = 365) -> str:
    when = datetime(2025, 6, 1, 8, tzinfo=VN) - timedelta(minutes=rng.randrange(days_back * 24 * 60))
    return when.isoformat(timespec="seconds")


def _ref(kind: str, target: str) -> Json:
    return {"reference": target if ":" in target else f"{kind}/{target}"}


def patient(rng: random.Random, names: NameSource) -> Json:
    sex = rng.choice(("male", "female"))
    year = rng.randrange(1940, 2020)
    return {
        "resourceType": "Patient",
        "identifier": [
            {"system": CCCD_SYSTEM, "value": names.cccd(year, sex)},
            {"system": BHYT_SYSTEM, "value": f"HC4{rng.randrange(10**11):011d}"},
        ],
        "active": True,
        "name": [names.name(sex, year)],
        "telecom": [{"system": "phone", "value": f"09{rng.randrange(10**8):08d}", "use": "mobile"}],
        "gender": sex,
        "birthDate": f"{year}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}",
        "address": [{"line": [f"{rng.randrange(1, 300)} Trần Hưng Đạo"], "city": "Cà Mau", "country": "VN"}],
    }


def person(rng: random.Random, names: NameSource, type_: str = "Patient") -> Json:
    """A Patient, or the same elements as another person type (R4 Practitioner and RelatedPerson have identifier,
    active, name, telecom, gender, birthDate and address too): the server selection creates Practitioners of a
    Patient's size, so its creates do not join the Patients the searches range over (bench/run.py)."""
    return {**patient(rng, names), "resourceType": type_}


def organization(rng: random.Random) -> Json:
    return {"resourceType": "Organization", "active": True, "name": f"Bệnh viện Đa khoa {rng.randrange(1, 99)}",
            "identifier": [{"system": "http://benhan.vn/fhir/sid/facility", "value": f"96{rng.randrange(999):03d}"}],
            "type": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/organization-type",
                                  "code": "prov"}]}]}


def location(rng: random.Random) -> Json:
    return {"resourceType": "Location", "status": "active", "name": f"Khoa Nội - Giường {rng.randrange(1, 60)}",
            "mode": "instance",
            "physicalType": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/location-physical-type",
                                         "code": "bd"}]}}


def practitioner(rng: random.Random, names: NameSource) -> Json:
    sex = rng.choice(("male", "female"))
    return {"resourceType": "Practitioner", "active": True, "name": [names.name(sex, rng.randrange(1960, 1998))],
            "gender": sex,
            "identifier": [{"system": "http://benhan.vn/fhir/sid/cchn", "value": f"{rng.randrange(10**6):06d}/CM"}]}


def encounter(rng: random.Random, pat: str, loc: str | None = None, prac: str | None = None,
              org: str | None = None) -> Json:
    start = _ts(rng)
    res: Json = {
        "resourceType": "Encounter", "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
        "subject": _ref("Patient", pat), "period": {"start": start},
        "reasonCode": [{"text": rng.choice(DIAGNOSES)[1]}],
    }
    if loc:
        res["location"] = [{"location": _ref("Location", loc)}]
    if prac:
        res["participant"] = [{"individual": _ref("Practitioner", prac)}]
    if org:
        res["serviceProvider"] = _ref("Organization", org)
    return res


def vital(rng: random.Random, pat: str, enc: str | None, index: int) -> Json:
    code, display, unit, ucum, low, high = VITALS[index % len(VITALS)]
    value = round(rng.uniform(low, high), 1)
    res: Json = {
        "resourceType": "Observation", "status": "final",
        "category": [{"coding": [{"system": OBS_CAT, "code": "vital-signs"}]}],
        "code": {"coding": [{"system": LOINC, "code": code, "display": display}]},
        "subject": _ref("Patient", pat), "effectiveDateTime": _ts(rng),
        "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": ucum},
    }
    if enc:
        res["encounter"] = _ref("Encounter", enc)
    return res


def condition(rng: random.Random, pat: str, enc: str) -> Json:
    code, text = rng.choice(DIAGNOSES)
    return {"resourceType": "Condition", "subject": _ref("Patient", pat), "encounter": _ref("Encounter", enc),
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                           "code": "active"}]},
            "code": {"coding": [{"system": ICD10, "code": code, "display": text}], "text": text},
            "recordedDate": _ts(rng)}


def medication_request(rng: random.Random, pat: str, enc: str | None, prac: str | None = None) -> Json:
    drug, sig = rng.choice(DRUGS)
    res: Json = {"resourceType": "MedicationRequest", "status": "active", "intent": "order",
                 "medicationCodeableConcept": {"text": drug}, "subject": _ref("Patient", pat),
                 "authoredOn": _ts(rng), "dosageInstruction": [{"text": sig}]}
    if enc:
        res["encounter"] = _ref("Encounter", enc)
    if prac:
        res["requester"] = _ref("Practitioner", prac)
    return res


def claim(rng: random.Random, pat: str, provider: str, enc: str | None = None, prescription: str | None = None) -> Json:
    res: Json = {
        "resourceType": "Claim", "status": "active", "use": "claim", "created": _ts(rng),
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "institutional"}]},
        "patient": _ref("Patient", pat), "provider": _ref("Organization", provider),
        "priority": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/processpriority",
                                 "code": "normal"}]},
        "insurance": [{"sequence": 1, "focal": True, "coverage": {"display": "BHYT"}}],
        "item": [{"sequence": 1, "productOrService": {"text": "Ngày giường bệnh Nội khoa"},
                  "net": {"value": rng.randrange(100, 900) * 1000, "currency": "VND"}}],
    }
    if enc:
        res["item"][0]["encounter"] = [_ref("Encounter", enc)]
    if prescription:
        res["prescription"] = _ref("MedicationRequest", prescription)
    return res


def explanation_of_benefit(rng: random.Random, pat: str, prac: str, claim_id: str, enc: str | None) -> Json:
    item: Json = {"sequence": 1, "productOrService": {"text": "Ngày giường bệnh Nội khoa"}}
    if enc:
        item["encounter"] = [_ref("Encounter", enc)]
    return {
        "resourceType": "ExplanationOfBenefit", "status": "active", "use": "claim", "outcome": "complete",
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "institutional"}]},
        "patient": _ref("Patient", pat), "created": _ts(rng), "insurer": {"display": "BHXH Cà Mau"},
        "provider": _ref("Practitioner", prac), "claim": _ref("Claim", claim_id),
        "careTeam": [{"sequence": 1, "provider": _ref("Practitioner", prac)}],
        "insurance": [{"focal": True, "coverage": {"display": "BHYT"}}], "item": [item],
    }


def patient_bundle(rng: random.Random, names: NameSource, size: int = 100) -> Json:
    """A transaction Bundle of ``size`` resources for one patient: encounters with vitals, diagnoses, drugs,
    a claim each, placeholders as ``urn:uuid:`` (FHIR R4 http.html#transaction)."""
    entries: list[Json] = []

    def add(res: Json) -> str:
        full = f"urn:uuid:{uuid.UUID(int=rng.getrandbits(128), version=4)}"
        entries.append({"fullUrl": full, "resource": res, "request": {"method": "POST", "url": res["resourceType"]}})
        return full

    pat = add(patient(rng, names))
    org = add(organization(rng))
    while len(entries) < size:
        enc = add(encounter(rng, pat, org=org))
        for i in range(12):
            if len(entries) < size:
                add(vital(rng, pat, enc, i))
        extras = (condition, medication_request, medication_request, claim)
        for make in extras:
            if len(entries) < size:
                add(make(rng, pat, org, enc) if make is claim else make(rng, pat, enc))
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}
