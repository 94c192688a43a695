"""Seeded random FHIR resources for the search oracle (tests/integration/test_search_oracle.py)."""

from __future__ import annotations

import random
from typing import Any

from benhan.fhir.search.systems import BHYT, CCCD

FAMILIES = ["Nguyễn", "Trần", "Lê", "Phạm", "Dương", "Đường", "Đặng", "Bùi", "Võ", "Hồ"]
GIVENS = ["Văn An", "Thị Bình", "Minh", "Nguyên", "Thu Hà", "Đức", "Ngọc Ánh", "Quốc Bảo"]
CITIES = ["Cà Mau", "Bạc Liêu", "Hà Nội", "Huế", "Đà Nẵng"]
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
UCUM = "http://unitsofmeasure.org"
OBS = [("8867-4", "/min"), ("29463-7", "kg"), ("8310-5", "Cel"), ("2339-0", "mg/dL"), ("8302-2", "cm")]


def _date(rng: random.Random, kind: str) -> str:
    y, m, d = rng.randint(2019, 2025), rng.randint(1, 12), rng.randint(1, 28)
    if kind == "year":
        return f"{y}"
    if kind == "month":
        return f"{y}-{m:02d}"
    if kind == "date":
        return f"{y}-{m:02d}-{d:02d}"
    return f"{y}-{m:02d}-{d:02d}T{rng.randint(0, 23):02d}:{rng.choice([0, 30]):02d}:00+07:00"


def _any_date(rng: random.Random) -> str:
    return _date(rng, rng.choice(["year", "month", "date", "dt", "dt", "dt"]))


def _period(rng: random.Random) -> dict[str, str]:
    a, b = sorted([_date(rng, "dt"), _date(rng, "dt")])
    out = {"start": a, "end": b}
    if rng.random() < 0.15:
        del out["end"]
    return out


PROFILES = [
    "http://fhir.hl7.org.vn/core/StructureDefinition/vn-core-patient",
    "http://fhir.hl7.org.vn/core/StructureDefinition/vn-core-patient/v2",
    "http://fhir.hl7.org.vn/core/StructureDefinition",
    "https://benhan.vn/fhir/StructureDefinition/benhan-patient",
    "urn:oid:2.16.840.1.113883.4.642",
]
PROTOCOLS = [
    "https://benhan.vn/protocol/icu/sepsis", "https://benhan.vn/protocol/icu", "https://benhan.vn/protocol/er/stroke",
    "https://moh.gov.vn/qd/4068/sepsis",
]


def _cc(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    coding: dict[str, Any] = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding]}


def _ref(t: str, i: int) -> dict[str, str]:
    return {"reference": f"{t}/{t[:3].lower()}{i}"}


def patient(rng: random.Random, i: int) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "Patient", "id": f"pat{i}", "active": rng.random() < 0.8,
        "gender": rng.choice(["male", "female", "other"]),
        "name": [{"family": rng.choice(FAMILIES), "given": rng.choice(GIVENS).split()}],
        "identifier": [{"system": CCCD, "value": f"0010{rng.randint(0, 99):02d}00{i:04d}"}],
        "address": [{"city": rng.choice(CITIES), "country": "VN"}],
        "telecom": [{"system": "phone", "value": f"09{rng.randint(0, 30):08d}"}],
    }
    if rng.random() < 0.7:
        res["birthDate"] = _date(rng, rng.choice(["year", "date", "date"]))
    if rng.random() < 0.5:
        res["identifier"].append({"system": BHYT, "value": f"DN40{rng.randint(0, 5)}"})
    if rng.random() < 0.6:  # uri values in a path hierarchy, for :below / :above
        res["meta"] = {"profile": [rng.choice(PROFILES)]}
    return res


def encounter(rng: random.Random, i: int, npat: int) -> dict[str, Any]:
    return {
        "resourceType": "Encounter", "id": f"enc{i}", "status": rng.choice(["planned", "in-progress", "finished"]),
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                  "code": rng.choice(["AMB", "IMP", "EMER"])},
        "subject": _ref("Patient", rng.randrange(npat)), "period": _period(rng),
        "length": {"value": rng.choice([1, 2, 2.5, 3, 10]), "system": UCUM, "code": rng.choice(["d", "h"])},
        "reasonCode": [_cc(ICD10, rng.choice(["J18", "I10", "E11", "K29"]))],
    }


def observation(rng: random.Random, i: int, npat: int, nenc: int) -> dict[str, Any]:
    code, unit = rng.choice(OBS)
    res: dict[str, Any] = {
        "resourceType": "Observation", "id": f"obs{i}", "status": rng.choice(["final", "preliminary", "amended"]),
        "category": [_cc("http://terminology.hl7.org/CodeSystem/observation-category",
                         rng.choice(["vital-signs", "laboratory"]))],
        "code": _cc(LOINC, code, "Chỉ số"), "subject": _ref("Patient", rng.randrange(npat)),
        "encounter": _ref("Encounter", rng.randrange(nenc)),
    }
    if rng.random() < 0.85:
        res["effectiveDateTime" if rng.random() < 0.8 else "effectivePeriod"] = (
            _any_date(rng) if rng.random() < 0.8 else _period(rng))
        if "effectivePeriod" in res and isinstance(res["effectivePeriod"], str):
            res["effectivePeriod"] = _period(rng)
        if "effectiveDateTime" in res and isinstance(res["effectiveDateTime"], dict):
            res["effectiveDateTime"] = _any_date(rng)
    kind = rng.random()
    if kind < 0.7:
        value = rng.choice([36.5, 37, 60, 72, 100, 120.5, 0.5, 65.25])
        res["valueQuantity"] = {"value": value, "system": UCUM, "code": unit, "unit": unit}
    elif kind < 0.8:
        res["valueString"] = rng.choice(["Bình thường", "Âm tính", "Dương tính"])
    elif kind < 0.9:  # code-value-concept; its text is also a value-string (code-value-string keeps rows)
        found = rng.choice([("260385009", "Âm tính"), ("10828004", "Dương tính")])
        res["valueCodeableConcept"] = {**_cc("http://snomed.info/sct", found[0]), "text": found[1]}
    else:  # code-value-date: a dateTime or a Period
        res["valueDateTime" if rng.random() < 0.5 else "valuePeriod"] = None
        if "valueDateTime" in res:
            res["valueDateTime"] = _any_date(rng)
        else:
            res["valuePeriod"] = _period(rng)
    if i % 4 == 0:  # blood pressure panels: composite parameters must pair code and value per component
        res["component"] = [
            {"code": _cc(LOINC, code), "valueQuantity": {"value": rng.choice([80, 90, 120, 140, 141]),
                                                         "system": UCUM, "code": "mm[Hg]"}}
            for code in rng.sample(["8480-6", "8462-4", "8478-0"], 2)]
    return res


def condition(rng: random.Random, i: int, npat: int) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "Condition", "id": f"con{i}", "subject": _ref("Patient", rng.randrange(npat)),
        # categories and subcodes, so that ICD-10 :below / :above have a hierarchy to walk
        "code": _cc(ICD10, rng.choice(["J18", "J18.9", "I10", "E11", "E11.6", "E11.65", "E14.9", "K29.7", "A09"])),
        "clinicalStatus": _cc("http://terminology.hl7.org/CodeSystem/condition-clinical",
                              rng.choice(["active", "resolved"])),
        "recordedDate": _date(rng, "dt"),
    }
    if rng.random() < 0.7:
        res["onsetDateTime"] = _any_date(rng)
    if rng.random() < 0.3:
        res["abatementAge"] = {"value": rng.choice([5, 40, 65]), "system": UCUM, "code": "a"}
    return res


def medication_request(rng: random.Random, i: int, npat: int, nenc: int) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest", "id": f"med{i}", "status": rng.choice(["active", "completed", "stopped"]),
        "intent": rng.choice(["order", "plan"]), "subject": _ref("Patient", rng.randrange(npat)),
        "encounter": _ref("Encounter", rng.randrange(nenc)), "authoredOn": _any_date(rng),
        "medicationCodeableConcept": _cc("http://www.nlm.nih.gov/research/umls/rxnorm",
                                         rng.choice(["197361", "310965", "1049502"])),
    }


def service_request(rng: random.Random, i: int, npat: int) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "ServiceRequest", "id": f"ser{i}", "status": rng.choice(["active", "completed"]),
        "intent": "order", "priority": rng.choice(["routine", "urgent", "stat"]),
        "code": _cc(SNOMED, rng.choice(["396550006", "168537006", "77477000"])),
        "subject": _ref("Patient", rng.randrange(npat)), "authoredOn": _any_date(rng),
    }
    if rng.random() < 0.5:
        res["occurrenceDateTime"] = _any_date(rng)
    else:
        res["occurrencePeriod"] = _period(rng)
    if rng.random() < 0.6:
        res["instantiatesUri"] = [rng.choice(PROTOCOLS)]
    return res


def diagnostic_report(rng: random.Random, i: int, npat: int, nobs: int) -> dict[str, Any]:
    return {
        "resourceType": "DiagnosticReport", "id": f"dia{i}", "status": rng.choice(["final", "registered"]),
        "code": _cc(LOINC, rng.choice(["58410-2", "24323-8"])), "subject": _ref("Patient", rng.randrange(npat)),
        "effectiveDateTime": _any_date(rng), "issued": _date(rng, "dt"),
        "result": [_ref("Observation", rng.randrange(nobs)) for _ in range(rng.randint(1, 3))],
    }


def risk_assessment(rng: random.Random, i: int, npat: int) -> dict[str, Any]:
    return {
        "resourceType": "RiskAssessment", "id": f"ris{i}", "status": "final",
        "subject": _ref("Patient", rng.randrange(npat)),
        "prediction": [{"probabilityDecimal": rng.choice([0.1, 0.25, 0.5, 0.05, 0.125])}],
    }


def molecular_sequence(rng: random.Random, i: int) -> dict[str, Any]:
    """Three-part composites (chromosome$start$end): several variants, so pairing across them is tested."""
    start = rng.choice([0, 100, 1000])
    variants = []
    for _ in range(rng.randint(1, 3)):
        lo = rng.choice([100, 150, 300, 1200])
        variants.append({"start": lo, "end": lo + rng.choice([10, 100, 500])})
    return {
        "resourceType": "MolecularSequence", "id": f"mol{i}", "coordinateSystem": 0,
        "referenceSeq": {"chromosome": _cc("http://hl7.org/fhir/chromosome-human", rng.choice(["1", "2", "X"])),
                         "windowStart": start, "windowEnd": start + rng.choice([500, 2000])},
        "variant": variants,
    }


def generate(seed: int, npat: int = 40) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    nenc, nobs = npat * 2, npat * 5
    out = [patient(rng, i) for i in range(npat)]
    out += [encounter(rng, i, npat) for i in range(nenc)]
    out += [observation(rng, i, npat, nenc) for i in range(nobs)]
    out += [condition(rng, i, npat) for i in range(npat * 2)]
    out += [medication_request(rng, i, npat, nenc) for i in range(npat * 2)]
    out += [service_request(rng, i, npat) for i in range(npat)]
    out += [diagnostic_report(rng, i, npat, nobs) for i in range(npat)]
    out += [risk_assessment(rng, i, npat) for i in range(npat // 2)]
    out += [molecular_sequence(rng, i) for i in range(npat // 2)]
    return out


# -- token :text (displays and texts; migration 0012 stores them on the token rows) -------------------------
TEXTS = ["Nhịp tim", "NHỊP TIM", "Huyết áp tâm thu", "Huyết áp", "Đường huyết", "Cân nặng", "Heart rate",
         "Body weight", "Natri (Na)", "Kali", "Dấu hiệu sinh tồn", "Xét nghiệm", "Tỉnh táo", "Căn cước",
         "Xét nghiệm máu toàn phần " * 12]  # the last is longer than the 200 folded characters kept


def _text_concept(rng: random.Random, codes: list[str]) -> dict[str, Any]:
    """A CodeableConcept with 0-3 codings (some without a code or display, some repeating a code with another
    display) and a text that is absent, one of its displays in other letters, or another text."""
    codings = []
    for _ in range(rng.choice([0, 1, 1, 1, 2, 3])):
        coding: dict[str, Any] = {"system": LOINC}
        if rng.random() < 0.85:
            coding["code"] = rng.choice(codes)
        if rng.random() < 0.75:
            coding["display"] = rng.choice(TEXTS)
        codings.append(coding)
    out: dict[str, Any] = {"coding": codings} if codings else {}
    displays = [c["display"] for c in codings if "display" in c]
    roll = rng.random()
    if displays and roll < 0.45:
        out["text"] = rng.choice(displays).upper() if rng.random() < 0.5 else rng.choice(displays)
    elif roll < 0.75 or not codings:
        out["text"] = rng.choice(TEXTS)
    return out


def text_resources(seed: int, n: int = 60, version: int = 1) -> list[dict[str, Any]]:
    """Observations, Conditions, Encounters and Patients whose token parameters carry displays and texts."""
    rng = random.Random(seed * 10 + version)
    out: list[dict[str, Any]] = []
    for i in range(n):
        obs: dict[str, Any] = {
            "resourceType": "Observation", "id": f"tobs{i}", "status": "final",
            "code": _text_concept(rng, ["8867-4", "8480-6", "2951-2"]),
            "category": [_text_concept(rng, ["vital-signs", "laboratory"]) for _ in range(rng.randint(1, 2))],
        }
        if rng.random() < 0.5:
            obs["valueCodeableConcept"] = _text_concept(rng, ["A", "V"])
        if rng.random() < 0.4:
            obs["component"] = [{"code": _text_concept(rng, ["8480-6", "8462-4"]),
                                 "valueQuantity": {"value": 120, "system": UCUM, "code": "mm[Hg]"}}]
        out.append(obs)
        out.append({"resourceType": "Condition", "id": f"tcon{i}", "subject": _ref("Patient", i),
                    "code": _text_concept(rng, ["E11", "I10"])})
        enc: dict[str, Any] = {"resourceType": "Encounter", "id": f"tenc{i}", "status": "finished",
                               "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                                         "code": rng.choice(["AMB", "IMP"])},
                               "type": [_text_concept(rng, ["KB", "NT"])]}
        if rng.random() < 0.6:
            enc["class"]["display"] = rng.choice(TEXTS)
        out.append(enc)
        ident: dict[str, Any] = {"system": CCCD, "value": f"0790{i:08d}"}
        if rng.random() < 0.6:
            ident["type"] = {"text": rng.choice(TEXTS)}
            if rng.random() < 0.5:
                ident["type"]["coding"] = [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                            "code": "NI", "display": "Căn cước"}]
        out.append({"resourceType": "Patient", "id": f"tpat{i}", "identifier": [ident]})
    return out
