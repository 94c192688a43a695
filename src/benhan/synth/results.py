"""Vital signs and laboratory results of one encounter (pure; values drawn from a ``random.Random``).

Vital signs reuse the clinical use-case's builder (``benhan.clinical.vitals.build_observations``), so
synthetic Observations have exactly the shape the ward screens read. Laboratory values are drawn inside
the adult reference range of the LOINC subset, or pushed out of it by the scenario's factors, and
flagged H / L / N (v3 ObservationInterpretation).
"""

from __future__ import annotations

import base64
import random
from datetime import datetime
from typing import Any

from benhan.clinical.vitals import CATEGORY, VitalsInput, build_observations
from benhan.synth.fhirgen import INTERPRETATION, LOINC, OBS_CATEGORY, concept, instant, meta, new_id, quantity, ref
from benhan.synth.scenarios import LAB_PANELS, PANEL_SERVICE, Scenario
from benhan.terminology import loinc

JsonObj = dict[str, Any]
LAB_CATEGORY = {"coding": [{"system": OBS_CATEGORY, "code": "laboratory", "display": "Laboratory"}]}
REPORT_CATEGORY = concept("http://terminology.hl7.org/CodeSystem/v2-0074", "LAB", "Laboratory")


def vital_values(rng: random.Random, sc: Scenario | None, age: int, weight: float, sick: bool) -> VitalsInput:
    child = age < 12
    pulse = rng.randint(90, 120) if child else rng.randint(66, 92)
    values = {
        "pulse": float(pulse), "temperature": round(rng.uniform(36.4, 37.2), 1),
        "respiration": float(rng.randint(22, 30) if child else rng.randint(15, 20)),
        "spo2": float(rng.randint(96, 99)), "weight": weight,
        "systolic": float(rng.randint(95, 110) if child else rng.randint(108, 132)),
        "diastolic": float(rng.randint(55, 70) if child else rng.randint(68, 84)),
    }  # fmt: skip
    on_oxygen = False
    if sc is not None and sick:
        if sc.fever:
            values["temperature"] = round(rng.uniform(37.8, 39.6), 1)
            values["pulse"] += rng.randint(8, 20)
        if sc.hypoxia:
            values["spo2"] = float(rng.randint(88, 94))
            values["respiration"] += rng.randint(4, 9)
            on_oxygen = rng.random() < 0.6
        if sc.hypertension:
            values["systolic"] = float(rng.randint(142, 178))
            values["diastolic"] = float(rng.randint(88, 104))
    return VitalsInput(values, on_oxygen, "A")


def vitals(
    rng: random.Random, patient: JsonObj, encounter_id: str, when: datetime, vin: VitalsInput, performer: str
) -> list[JsonObj]:
    base: JsonObj = {
        "resourceType": "Observation", "meta": meta(), "status": "final", "category": [CATEGORY],
        "subject": ref("Patient", patient["id"]), "encounter": ref("Encounter", encounter_id),
        "effectiveDateTime": instant(when), "issued": instant(when),
        "performer": [ref("Practitioner", performer)],
    }  # fmt: skip
    out = build_observations(vin, base)
    for obs in out:
        obs["id"] = new_id(rng)
    return out


def _value(rng: random.Random, code: loinc.LoincCode, factor: float | None) -> float:
    rr = code.reference_range
    low = rr.low if rr and rr.low is not None else None
    high = rr.high if rr and rr.high is not None else None
    if low is not None and high is not None:
        span = high - low
        value = rng.uniform(low + 0.1 * span, high - 0.1 * span)
    elif high is not None:
        value = high * rng.uniform(0.45, 0.9)
    elif low is not None:
        value = low * rng.uniform(1.02, 1.5)
    else:
        value = rng.uniform(1, 10)
    if factor is not None:
        value *= factor * rng.uniform(0.9, 1.15)
    return round(value, 2 if value < 10 else 1 if value < 100 else 0)


def _flag(code: loinc.LoincCode, value: float) -> tuple[str, str]:
    rr = code.reference_range
    if rr is not None and rr.low is not None and value < rr.low:
        return "L", "Low"
    if rr is not None and rr.high is not None and value > rr.high:
        return "H", "High"
    return "N", "Normal"


def lab_observation(rng: random.Random, code: loinc.LoincCode, base: JsonObj, factor: float | None) -> JsonObj:
    value = _value(rng, code, factor)
    flag, flag_display = _flag(code, value)
    obs: JsonObj = {
        **base, "id": new_id(rng), "code": concept(LOINC, code.code, code.display, code.name_vi),
        "valueQuantity": quantity(value, code.unit),
        "interpretation": [concept(INTERPRETATION, flag, flag_display)],
    }
    rr = code.reference_range
    if rr is not None and (rr.low is not None or rr.high is not None):
        entry: JsonObj = {}
        if rr.low is not None:
            entry["low"] = quantity(rr.low, code.unit)
        if rr.high is not None:
            entry["high"] = quantity(rr.high, code.unit)
        obs["referenceRange"] = [entry]
    return obs


def lab_panel(
    rng: random.Random, sc: Scenario | None, panel: str, ctx: JsonObj, when: datetime, sick: bool
) -> list[JsonObj]:
    """ServiceRequest → Observations → DiagnosticReport for one panel; ``ctx`` has patient/encounter/doctor ids."""
    panel_code, members = LAB_PANELS[panel]
    subset = loinc.default()
    subject, encounter = ref("Patient", ctx["patient"]), ref("Encounter", ctx["encounter"])
    panel_entry = subset.lookup(panel_code)
    panel_name = panel_entry.name_vi if panel_entry else panel_code
    order: JsonObj = {
        "resourceType": "ServiceRequest", "id": new_id(rng), "meta": meta(), "status": "completed",
        "intent": "order", "category": [concept("http://snomed.info/sct", "108252007", "Laboratory procedure")],
        "code": {"coding": [{"system": "https://benhan.vn/fhir/CodeSystem/dich-vu", "code": PANEL_SERVICE[panel]},
                            {"system": LOINC, "code": panel_code}], "text": panel_name},
        "subject": subject, "encounter": encounter, "authoredOn": instant(when),
        "requester": ref("Practitioner", ctx["doctor"]),
    }  # fmt: skip
    base: JsonObj = {
        "resourceType": "Observation", "meta": meta(), "status": "final", "category": [LAB_CATEGORY],
        "subject": subject, "encounter": encounter, "effectiveDateTime": instant(when), "issued": instant(when),
        "basedOn": [ref("ServiceRequest", order["id"])],
    }  # fmt: skip
    factors = dict(sc.abnormal) if sc is not None and sick else {}
    results = [lab_observation(rng, c, base, factors.get(c.code)) for m in members if (c := subset.lookup(m))]
    report: JsonObj = {
        "resourceType": "DiagnosticReport", "id": new_id(rng), "meta": meta(), "status": "final",
        "category": [REPORT_CATEGORY], "code": concept(LOINC, panel_code, None, panel_name),
        "subject": subject, "encounter": encounter, "effectiveDateTime": instant(when), "issued": instant(when),
        "basedOn": [ref("ServiceRequest", order["id"])], "result": [ref("Observation", o["id"]) for o in results],
    }  # fmt: skip
    return [order, *results, report]


def note(rng: random.Random, ctx: JsonObj, when: datetime, text: str, kind: str) -> JsonObj:
    """A treatment-sheet entry (tờ điều trị) or discharge summary as a DocumentReference with plain text."""
    from benhan.clinical.records import NOTE_TYPE_URL, PROGRESS_NOTE_LOINC

    type_ = concept(LOINC, PROGRESS_NOTE_LOINC, "Progress note", "Tờ điều trị") if kind == "progress" else \
        concept(NOTE_TYPE_URL, "tong-ket", None, "Tổng kết bệnh án")  # fmt: skip
    return {
        "resourceType": "DocumentReference", "id": new_id(rng), "meta": meta(), "status": "current",
        "type": type_, "subject": ref("Patient", ctx["patient"]), "date": instant(when),
        "author": [ref("Practitioner", ctx["doctor"])],
        "content": [{"attachment": {"contentType": "text/plain; charset=utf-8", "language": "vi",
                                    "data": base64.b64encode(text.encode()).decode(), "title": type_["text"]}}],
        "context": {"encounter": [ref("Encounter", ctx["encounter"])]},
    }  # fmt: skip
