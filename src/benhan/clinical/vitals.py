"""Vital signs: physiological range checks (pure), LOINC-coded Observations, and NEWS2 from the latest set.

Observations follow the FHIR R4 vital-signs profiles (observation-vitalsigns.html): category ``vital-signs``,
one LOINC code each, UCUM units, blood pressure as one Observation (85354-9) with systolic and diastolic
components. Consciousness (ACVPU) is 67775-7 "Level of responsiveness"; supplemental oxygen is an
extension on the SpO2 Observation (NEWS2 "air or oxygen?").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from benhan.clinical.news2 import Consciousness, News2Input, News2Result, score_news2
from benhan.clinical.records import (
    BASE,
    ClinicalError,
    FieldMessage,
    JsonObj,
    NeedsConfirmation,
    now_instant,
    parse_instant,
    ref_id,
)
from benhan.fhir.storage.protocol import Repository
from benhan.kernel.context import RequestContext

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
CATEGORY = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "vital-signs",
            "display": "Vital Signs",
        }
    ]
}
OXYGEN_URL = f"{BASE}/StructureDefinition/supplemental-oxygen"
ACVPU_SYSTEM = f"{BASE}/CodeSystem/acvpu"
ACVPU: dict[str, tuple[str, str]] = {
    "A": ("Tỉnh táo", "Alert"),
    "C": ("Lú lẫn mới", "New confusion"),
    "V": ("Đáp ứng lời nói", "Voice"),
    "P": ("Đáp ứng đau", "Pain"),
    "U": ("Không đáp ứng", "Unresponsive"),
}


@dataclass(frozen=True, slots=True)
class Sign:
    key: str
    loinc: str
    display: str
    unit: str
    ucum: str
    plausible: tuple[float, float]
    """Outside: ask the user to confirm (rare but real, e.g. pulse 190)."""
    possible: tuple[float, float]
    """Outside: refused (a typing error: temperature 375, SpO2 120)."""
    label_vi: str
    label_en: str


SIGNS: dict[str, Sign] = {
    s.key: s
    for s in (
        Sign("pulse", "8867-4", "Heart rate", "/min", "/min", (40, 180), (1, 350), "Mạch", "Pulse"),
        Sign(
            "systolic",
            "8480-6",
            "Systolic blood pressure",
            "mmHg",
            "mm[Hg]",
            (70, 230),
            (20, 320),
            "Huyết áp tâm thu",
            "Systolic BP",
        ),
        Sign(
            "diastolic",
            "8462-4",
            "Diastolic blood pressure",
            "mmHg",
            "mm[Hg]",
            (35, 140),
            (10, 220),
            "Huyết áp tâm trương",
            "Diastolic BP",
        ),
        Sign(
            "temperature",
            "8310-5",
            "Body temperature",
            "°C",
            "Cel",
            (35.0, 40.5),
            (25.0, 45.0),
            "Nhiệt độ",
            "Temperature",
        ),
        Sign(
            "respiration",
            "9279-1",
            "Respiratory rate",
            "/min",
            "/min",
            (8, 40),
            (1, 90),
            "Nhịp thở",
            "Respiratory rate",
        ),
        Sign("spo2", "2708-6", "Oxygen saturation in Arterial blood", "%", "%", (80, 100), (20, 100), "SpO2", "SpO2"),
        Sign("weight", "29463-7", "Body weight", "kg", "kg", (2, 200), (0.3, 400), "Cân nặng", "Weight"),
    )
}
BP_PANEL = "85354-9"
CONSCIOUSNESS_LOINC = "67775-7"
CODE_TO_KEY = {s.loinc: s.key for s in SIGNS.values()} | {BP_PANEL: "bp", CONSCIOUSNESS_LOINC: "consciousness"}


@dataclass(frozen=True, slots=True)
class VitalsInput:
    values: dict[str, float]
    on_oxygen: bool = False
    consciousness: str = "A"


def parse_number(text: str) -> float | None:
    """Vietnamese forms write a decimal comma ("37,5")."""
    raw = text.strip().replace(",", ".")
    if not raw:
        return None
    return float(raw)


def parse_vitals_form(form: Mapping[str, str]) -> VitalsInput:
    """Read the form's text fields; a non-number is an error at its field."""
    values: dict[str, float] = {}
    errors: list[FieldMessage] = []
    for key in SIGNS:
        try:
            number = parse_number(form.get(key, ""))
        except ValueError:
            errors.append(FieldMessage(key, "Nhập một số.", "Enter a number."))
            continue
        if number is not None:
            values[key] = number
    consciousness = form.get("consciousness", "A") or "A"
    if consciousness not in ACVPU:
        errors.append(FieldMessage("consciousness", "Chọn mức ý thức.", "Choose the level of consciousness."))
    vitals = VitalsInput(values, form.get("on_oxygen") in ("1", "on", "true"), consciousness)
    if errors:
        # Report every bad field at once: the unreadable ones and the impossible ones.
        raise ClinicalError(*errors, *check_ranges(vitals)[0])
    return vitals


def check_ranges(vitals: VitalsInput) -> tuple[list[FieldMessage], list[FieldMessage]]:
    """(impossible → refused, implausible → confirm), each message at its field."""
    refused: list[FieldMessage] = []
    unusual: list[FieldMessage] = []
    for key, value in vitals.values.items():
        sign = SIGNS[key]
        lo, hi = sign.possible
        if not lo <= value <= hi:
            refused.append(
                FieldMessage(
                    key,
                    f"{sign.label_vi} {value:g} {sign.unit} không thể có (cho phép {lo:g}–{hi:g}).",
                    f"{sign.label_en} {value:g} {sign.unit} is impossible (allowed {lo:g}–{hi:g}).",
                )
            )
            continue
        lo, hi = sign.plausible
        if not lo <= value <= hi:
            unusual.append(
                FieldMessage(
                    key,
                    f"{sign.label_vi} {value:g} {sign.unit} bất thường: kiểm tra lại và xác nhận.",
                    f"{sign.label_en} {value:g} {sign.unit} is unusual: check and confirm.",
                )
            )
    sys_, dia = vitals.values.get("systolic"), vitals.values.get("diastolic")
    if (sys_ is None) != (dia is None):
        refused.append(
            FieldMessage(
                "diastolic" if dia is None else "systolic",
                "Nhập cả huyết áp tâm thu và tâm trương.",
                "Enter both systolic and diastolic pressure.",
            )
        )
    elif sys_ is not None and dia is not None and dia >= sys_:
        refused.append(
            FieldMessage(
                "diastolic", "Huyết áp tâm trương phải thấp hơn tâm thu.", "Diastolic pressure must be below systolic."
            )
        )
    if not vitals.values and not vitals.consciousness:
        refused.append(FieldMessage("", "Nhập ít nhất một chỉ số.", "Enter at least one value."))
    return refused, unusual


def _quantity(sign: Sign, value: float) -> JsonObj:
    return {"value": value, "unit": sign.unit, "system": UCUM, "code": sign.ucum}


def _observation(code: str, display: str, base: JsonObj) -> JsonObj:
    return {**base, "code": {"coding": [{"system": LOINC, "code": code, "display": display}], "text": display}}


def build_observations(vitals: VitalsInput, base: JsonObj) -> list[JsonObj]:
    """One Observation per sign (BP as one with two components); ``base`` has subject/encounter/time."""
    out: list[JsonObj] = []
    for key, value in vitals.values.items():
        if key in ("systolic", "diastolic"):
            continue
        sign = SIGNS[key]
        obs = _observation(sign.loinc, sign.display, base) | {"valueQuantity": _quantity(sign, value)}
        if key == "spo2":
            obs["extension"] = [{"url": OXYGEN_URL, "valueBoolean": vitals.on_oxygen}]
        out.append(obs)
    if "systolic" in vitals.values and "diastolic" in vitals.values:
        bp = _observation(BP_PANEL, "Blood pressure panel with all children optional", base)
        bp["component"] = [
            {
                "code": {"coding": [{"system": LOINC, "code": SIGNS[k].loinc, "display": SIGNS[k].display}]},
                "valueQuantity": _quantity(SIGNS[k], vitals.values[k]),
            }
            for k in ("systolic", "diastolic")
        ]
        out.append(bp)
    label_vi, label_en = ACVPU[vitals.consciousness]
    level = _observation(CONSCIOUSNESS_LOINC, "Level of responsiveness", base)
    level["valueCodeableConcept"] = {
        "coding": [{"system": ACVPU_SYSTEM, "code": vitals.consciousness, "display": label_en}],
        "text": label_vi,
    }
    out.append(level)
    return out


async def record_vitals(
    repo: Repository,
    ctx: RequestContext,
    encounter_id: str,
    vitals: VitalsInput,
    *,
    confirmed: bool = False,
    when: datetime | None = None,
) -> list[str]:
    """Record one set of vital signs for an encounter; impossible values are refused, unusual ones need
    ``confirmed=True``. Returns the ids of the Observations written."""
    refused, unusual = check_ranges(vitals)
    if refused:
        raise ClinicalError(*refused)
    if unusual and not confirmed:
        raise NeedsConfirmation(*unusual)
    async with repo.unit_of_work() as uow:
        enc = (await uow.read(ctx, "Encounter", encounter_id)).json()
        base: JsonObj = {
            "resourceType": "Observation",
            "status": "final",
            "category": [CATEGORY],
            "subject": enc["subject"],
            "encounter": {"reference": f"Encounter/{encounter_id}"},
            "effectiveDateTime": now_instant(when),
            "issued": now_instant(),
        }
        if ctx.practitioner_id:
            base["performer"] = [{"reference": f"Practitioner/{ctx.practitioner_id}"}]
        ids = [(await uow.create(ctx, obs)).resource.id for obs in build_observations(vitals, base)]
    return ids


@dataclass(frozen=True, slots=True)
class VitalsSnapshot:
    """The latest value of each sign (``values``), when it was taken, and NEWS2 when every input is known."""

    values: dict[str, float]
    on_oxygen: bool | None
    consciousness: str | None
    taken_at: datetime | None
    news2: News2Result | None


def observation_values(obs: JsonObj) -> dict[str, float | str | bool]:
    """What one vital-signs Observation says, keyed like the form (``pulse``, ``systolic``, ``on_oxygen`` …)."""
    codes = [c.get("code") for c in (obs.get("code") or {}).get("coding") or [] if c.get("system") == LOINC]
    key = next((CODE_TO_KEY[c] for c in codes if c in CODE_TO_KEY), None)
    out: dict[str, float | str | bool] = {}
    if key == "bp":
        for comp in obs.get("component") or []:
            ckey = CODE_TO_KEY.get(next((c.get("code") for c in comp["code"].get("coding") or []), ""), "")
            if ckey and "valueQuantity" in comp:
                out[ckey] = float(comp["valueQuantity"]["value"])
    elif key == "consciousness":
        code = next((c.get("code") for c in obs.get("valueCodeableConcept", {}).get("coding") or []), None)
        if code:
            out["consciousness"] = str(code)
    elif key is not None and "valueQuantity" in obs:
        out[key] = float(obs["valueQuantity"]["value"])
        for ext in obs.get("extension") or []:
            if ext.get("url") == OXYGEN_URL:
                out["on_oxygen"] = bool(ext.get("valueBoolean"))
    return out


def latest_snapshot(observations: Iterable[JsonObj]) -> VitalsSnapshot:
    """Latest value per sign, and NEWS2 (RCP 2017) when all seven parameters are present."""
    latest: dict[str, tuple[datetime, float | str | bool]] = {}
    for obs in observations:
        at = parse_instant(obs.get("effectiveDateTime"))
        if at is None or obs.get("status") in ("entered-in-error", "cancelled"):
            continue
        for key, value in observation_values(obs).items():
            if key not in latest or latest[key][0] < at:
                latest[key] = (at, value)
    values = {k: float(v) for k, (_t, v) in latest.items() if k in SIGNS and isinstance(v, float)}
    oxygen = latest.get("on_oxygen", (None, None))[1]
    level = latest.get("consciousness", (None, None))[1]
    taken = max((t for t, _v in latest.values()), default=None)
    return VitalsSnapshot(
        values,
        bool(oxygen) if oxygen is not None else None,
        str(level) if level is not None else None,
        taken,
        _news2(values, oxygen, level),
    )


def _news2(values: dict[str, float], oxygen: object, level: object) -> News2Result | None:
    needed = ("respiration", "spo2", "systolic", "pulse", "temperature")
    if any(k not in values for k in needed) or oxygen is None or level not in ACVPU:
        return None
    consciousness: Consciousness = level  # type: ignore[assignment]
    return score_news2(
        News2Input(
            respiration_rate=values["respiration"],
            spo2=values["spo2"],
            on_oxygen=bool(oxygen),
            systolic_bp=values["systolic"],
            pulse=values["pulse"],
            consciousness=consciousness,
            temperature=values["temperature"],
        )
    )


def encounter_of(obs: JsonObj) -> str | None:
    return ref_id(obs.get("encounter"), "Encounter")
