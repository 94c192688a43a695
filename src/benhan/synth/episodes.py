"""One episode of care of a synthetic patient: an outpatient or emergency visit, or an inpatient stay with
daily vital signs, labs, medication administrations and treatment-sheet notes (pure)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from benhan.synth import results
from benhan.synth.fhirgen import (
    ACT_CODE,
    COND_CATEGORY,
    COND_CLINICAL,
    COND_VERIFICATION,
    ICD9CM,
    ICD10,
    coding,
    concept,
    instant,
    meta,
    new_id,
    ref,
)  # fmt: skip
from benhan.synth.scenarios import Scenario
from benhan.synth.world import Department, Facility
from benhan.terminology import catalogue, catalogue_fhir, icd10

JsonObj = dict[str, Any]
_CLASS = {"outpatient": ("AMB", "ambulatory"), "emergency": ("EMER", "emergency"),
          "inpatient": ("IMP", "inpatient encounter")}  # fmt: skip
_DOSE_HOURS = {1: (8,), 2: (8, 16), 3: (7, 13, 19), 4: (6, 12, 18, 22)}


@dataclass(frozen=True, slots=True)
class Episode:
    scenario: Scenario
    start: datetime
    facility: Facility
    in_progress: bool = False
    until: datetime | None = None  # "now" for an admission in progress
    bed: str | None = None  # the bed an admission in progress holds (allocated by ``generator.plan_beds``)


@dataclass(slots=True)
class Context:
    rng: random.Random
    patient: JsonObj
    age: int
    weight: float


def _drug(code: str) -> catalogue.DrugItem | None:
    for item in catalogue.demo_drugs():
        if item.ma_thuoc == code:
            return item
    return None


def condition(c: Context, sc: Scenario, enc_id: str | None, when: datetime, category: str) -> JsonObj:
    entry = icd10.lookup(sc.icd10)
    display = entry.name_vi if entry else sc.icd10
    cond: JsonObj = {
        "resourceType": "Condition", "id": new_id(c.rng), "meta": meta(),
        "clinicalStatus": concept(COND_CLINICAL, "active" if sc.chronic else "resolved"),
        "verificationStatus": concept(COND_VERIFICATION, "confirmed"),
        "category": [concept(COND_CATEGORY, category)], "code": concept(ICD10, sc.icd10, display),
        "subject": ref("Patient", c.patient["id"]), "onsetDateTime": instant(when), "recordedDate": instant(when),
    }  # fmt: skip
    if enc_id:
        cond["encounter"] = ref("Encounter", enc_id)
    return cond


def _encounter(c: Context, ep: Episode, dept: Department, end: datetime | None, doctor: str) -> JsonObj:
    code, display = _CLASS[ep.scenario.setting]
    enc: JsonObj = {
        "resourceType": "Encounter", "id": new_id(c.rng), "meta": meta(),
        "status": "in-progress" if ep.in_progress else "finished", "class": coding(ACT_CODE, code, display),
        "subject": ref("Patient", c.patient["id"]), "serviceProvider": ref("Organization", dept.id, dept.name),
        "participant": [{"individual": ref("Practitioner", doctor)}],
        "period": {"start": instant(ep.start)} | ({"end": instant(end)} if end else {}),
    }  # fmt: skip
    return enc


def _medications(c: Context, ep: Episode, ids: JsonObj, days: int) -> list[JsonObj]:
    out: list[JsonObj] = []
    for code, dose, per_day in ep.scenario.drugs:
        item = _drug(code)
        if item is None:
            continue
        # coded in the catalogue of the facility that treats the episode, as the order screens write it
        med = concept(catalogue_fhir.codesystem_url("drug", ep.facility.id), item.ma_thuoc, item.ten_thuoc)
        text = f"{dose} x {per_day} lần/ngày, {item.ten_duong_dung or item.duong_dung}"
        request: JsonObj = {
            "resourceType": "MedicationRequest", "id": new_id(c.rng), "meta": meta(),
            "status": "active" if ep.in_progress else "completed", "intent": "order",
            "medicationCodeableConcept": med, "subject": ref("Patient", c.patient["id"]),
            "encounter": ref("Encounter", ids["encounter"]), "authoredOn": instant(ep.start),
            "requester": ref("Practitioner", ids["doctor"]),
            "dosageInstruction": [{"text": text, "timing": {"repeat": {"frequency": per_day, "period": 1,
                                                                      "periodUnit": "d"}}}],
            "dispenseRequest": {"expectedSupplyDuration": {"value": days, "unit": "d",
                                                           "system": "http://unitsofmeasure.org", "code": "d"}},
        }  # fmt: skip
        out.append(request)
        if ep.scenario.setting == "inpatient":
            out += _administrations(c, ep, ids, request, days)
    return out


def _administrations(c: Context, ep: Episode, ids: JsonObj, request: JsonObj, days: int) -> list[JsonObj]:
    per_day = request["dosageInstruction"][0]["timing"]["repeat"]["frequency"]
    out: list[JsonObj] = []
    first = ep.start.replace(hour=0, minute=0, second=0)
    for d in range(days):
        for hour in _DOSE_HOURS.get(per_day, (8,)):
            when = first + timedelta(days=d, hours=hour, minutes=c.rng.randint(0, 25))
            if when < ep.start or (ep.until is not None and when > ep.until):
                continue
            out.append({
                "resourceType": "MedicationAdministration", "id": new_id(c.rng), "meta": meta(),
                "status": "completed", "medicationCodeableConcept": request["medicationCodeableConcept"],
                "subject": ref("Patient", c.patient["id"]), "context": ref("Encounter", ids["encounter"]),
                "effectiveDateTime": instant(when), "request": ref("MedicationRequest", request["id"]),
                "performer": [{"actor": ref("Practitioner", ids["nurse"])}],
                "dosage": {"text": request["dosageInstruction"][0]["text"]},
            })  # fmt: skip
    return out


def _procedure(c: Context, ep: Episode, ids: JsonObj, when: datetime) -> JsonObj | None:
    if ep.scenario.procedure is None:
        return None
    icd9, service, name = ep.scenario.procedure
    in_catalogue = coding(catalogue_fhir.codesystem_url("service", ep.facility.id), service, name)
    return {
        "resourceType": "Procedure", "id": new_id(c.rng), "meta": meta(), "status": "completed",
        "code": {"coding": [coding(ICD9CM, icd9), in_catalogue], "text": name},
        "subject": ref("Patient", c.patient["id"]), "encounter": ref("Encounter", ids["encounter"]),
        "performedDateTime": instant(when), "performer": [{"actor": ref("Practitioner", ids["doctor"])}],
    }  # fmt: skip


def visit(c: Context, ep: Episode) -> list[JsonObj]:
    """An outpatient or emergency visit: vitals, diagnosis, maybe labs, prescription, procedure."""
    sc = ep.scenario
    dept = ep.facility.department("cap-cuu" if sc.setting == "emergency" else "kham")
    doctor, nurse = c.rng.choice(dept.doctors), c.rng.choice(dept.nurses)
    end = ep.start + timedelta(minutes=c.rng.randint(15, 90))
    enc = _encounter(c, ep, dept, end, doctor)
    if dept.rooms:
        enc["location"] = [{"location": ref("Location", c.rng.choice(dept.rooms)), "status": "completed"}]
    ids = {"patient": c.patient["id"], "encounter": enc["id"], "doctor": doctor, "nurse": nurse}
    cond = condition(c, sc, enc["id"], ep.start, "encounter-diagnosis")
    enc["diagnosis"] = [{"condition": ref("Condition", cond["id"]), "rank": 1}]
    out = [enc, cond]
    out += results.vitals(c.rng, c.patient, enc["id"], ep.start, results.vital_values(c.rng, sc, c.age, c.weight, True),
                          nurse)  # fmt: skip
    for panel in sc.panels:
        if c.rng.random() < 0.7:
            out += results.lab_panel(c.rng, sc, panel, ids, ep.start + timedelta(minutes=20), True)
    out += _medications(c, ep, ids, 30 if sc.chronic else 5)
    proc = _procedure(c, ep, ids, ep.start + timedelta(minutes=10))
    return out + ([proc] if proc else [])


def stay(c: Context, ep: Episode, vitals_per_day: int) -> list[JsonObj]:
    """An inpatient stay: admission vitals and labs, then each day vitals, a note, doses; labs every 2-3 days."""
    sc = ep.scenario
    dept = ep.facility.department(sc.department)
    doctor, nurse = c.rng.choice(dept.doctors), c.rng.choice(dept.nurses)
    days = c.rng.randint(*sc.stay_days)
    end = None if ep.in_progress else ep.start + timedelta(days=days, hours=c.rng.randint(1, 6))
    if ep.in_progress and ep.until is not None:
        days = max(1, (ep.until - ep.start).days + 1)
    enc = _encounter(c, ep, dept, end, doctor)
    bed = ep.bed or (c.rng.choice(dept.beds) if dept.beds else None)
    if bed:
        period = {"start": instant(ep.start)} | ({"end": instant(end)} if end else {})
        enc["location"] = [{"location": ref("Location", bed), "status": "active" if ep.in_progress else "completed",
                            "period": period,
                            "physicalType": concept("http://terminology.hl7.org/CodeSystem/location-physical-type",
                                                    "bd")}]  # fmt: skip
    enc["hospitalization"] = {"admitSource": concept("http://terminology.hl7.org/CodeSystem/admit-source",
                                                     "emd" if c.rng.random() < 0.6 else "outp")}  # fmt: skip
    ids = {"patient": c.patient["id"], "encounter": enc["id"], "doctor": doctor, "nurse": nurse}
    cond = condition(c, sc, enc["id"], ep.start, "encounter-diagnosis")
    enc["diagnosis"] = [{"condition": ref("Condition", cond["id"]), "rank": 1,
                         "use": concept("http://terminology.hl7.org/CodeSystem/diagnosis-role", "AD")}]  # fmt: skip
    out = [enc, cond]
    out += _daily(c, ep, ids, days, vitals_per_day)
    out += _medications(c, ep, ids, days)
    proc = _procedure(c, ep, ids, ep.start + timedelta(hours=c.rng.randint(2, 8)))
    if proc:
        out.append(proc)
    if end is not None:
        out.append(results.note(c.rng, ids, end, f"Ra viện. Chẩn đoán: {cond['code']['text']}. Tình trạng ổn định.",
                                "summary"))  # fmt: skip
    return out


def _daily(c: Context, ep: Episode, ids: JsonObj, days: int, vitals_per_day: int) -> list[JsonObj]:
    sc = ep.scenario
    out: list[JsonObj] = []
    hours = (7, 15, 21, 3)[:vitals_per_day]
    day0 = ep.start.replace(hour=0, minute=0, second=0)
    for d in range(days):
        sick = d < max(1, days // 2)
        for h in hours:
            when = day0 + timedelta(days=d, hours=h, minutes=c.rng.randint(0, 30))
            if when < ep.start or (ep.until is not None and when > ep.until):
                continue
            vin = results.vital_values(c.rng, sc, c.age, c.weight, sick)
            out += results.vitals(c.rng, c.patient, ids["encounter"], when, vin, ids["nurse"])
        labs_at = day0 + timedelta(days=d, hours=6, minutes=c.rng.randint(0, 50))
        if (d == 0 or d % 3 == 2) and (ep.until is None or labs_at <= ep.until):
            for panel in sc.panels:
                out += results.lab_panel(c.rng, sc, panel, ids, max(labs_at, ep.start), sick)
        note_at = day0 + timedelta(days=d, hours=9, minutes=c.rng.randint(0, 40))
        if note_at >= ep.start and (ep.until is None or note_at <= ep.until):
            state = "Sốt, mệt" if sick and sc.fever else "Tỉnh, tiếp xúc tốt" if not sick else "Còn mệt"
            out.append(results.note(c.rng, ids, note_at, f"Ngày điều trị {d + 1}. {state}. Tiếp tục điều trị.",
                                    "progress"))  # fmt: skip
    return out
