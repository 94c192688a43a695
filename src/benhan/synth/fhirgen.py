"""Small builders of FHIR R4 JSON shared by the generator modules (pure)."""

from __future__ import annotations

import random
from datetime import date, datetime
from typing import Any

from benhan.kernel.clock import VN_TZ
from benhan.kernel.ids import ID_BITS, encode_id

JsonObj = dict[str, Any]

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
ICD9CM = "http://hl7.org/fhir/sid/icd-9-cm"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
COND_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
COND_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
COND_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
SYNTH_TAG = {"system": "https://benhan.vn/fhir/CodeSystem/nguon-du-lieu", "code": "synthetic",
             "display": "Dữ liệu tổng hợp (không phải người thật)"}  # fmt: skip


def new_id(rng: random.Random) -> str:
    """An id drawn from ``rng``: the form of production ids (kernel/ids.py), yet the same for the same seed."""
    return encode_id(rng.getrandbits(ID_BITS))


def ref(type_: str, id_: str, display: str | None = None) -> JsonObj:
    out: JsonObj = {"reference": f"{type_}/{id_}"}
    if display:
        out["display"] = display
    return out


def coding(system: str, code: str, display: str | None = None) -> JsonObj:
    out: JsonObj = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def concept(system: str, code: str, display: str | None = None, text: str | None = None) -> JsonObj:
    out: JsonObj = {"coding": [coding(system, code, display)]}
    if text or display:
        out["text"] = text or display
    return out


def instant(when: datetime) -> str:
    """dateTime in Vietnam time with seconds (FHIR R4 datatypes.html#dateTime)."""
    return when.astimezone(VN_TZ).isoformat(timespec="seconds")


def day(d: date) -> str:
    return d.isoformat()


def quantity(value: float, unit: str | None) -> JsonObj:
    out: JsonObj = {"value": value}
    if unit:
        out |= {"unit": unit, "system": UCUM, "code": unit}
    return out


def meta() -> JsonObj:
    return {"tag": [SYNTH_TAG]}
