"""The patient chart (bệnh án) on one screen: banner, encounter timeline, diagnoses, allergies, vital-sign
trends (the last 7 days, shaped like the "phiếu theo dõi chức năng sống") and progress notes.

A fixed number of repository calls whatever the size of the record: the patient, then one search per
resource type. Vital signs are limited to a window so a record with 20,000 observations opens as fast as a
new one; older values stay in the record (FHIR API, $everything).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from benhan.clinical.diagnoses import diagnosis_codes
from benhan.clinical.facility import current_location
from benhan.clinical.notes import ProgressNote, note_of
from benhan.clinical.records import (
    PROGRESS_NOTE_LOINC,
    JsonObj,
    coding_code,
    fhir_time,
    parse_instant,
    ref_id,
)
from benhan.clinical.registration import PatientSummary
from benhan.clinical.vitals import SIGNS, VitalsSnapshot, latest_snapshot, observation_values
from benhan.fhir.search import systems
from benhan.fhir.storage.protocol import Repository
from benhan.kernel.context import RequestContext
from benhan.terminology import icd10

TREND_WINDOW = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class EncounterItem:
    id: str
    kind: str  # AMB | EMER | IMP
    status: str
    start: datetime | None
    end: datetime | None
    department: str
    location: str
    location_id: str
    department_id: str
    disposition: str
    queue_number: int | None


@dataclass(frozen=True, slots=True)
class DiagnosisItem:
    condition_id: str
    code: str
    name: str
    main: bool


@dataclass(frozen=True, slots=True)
class Chart:
    patient: PatientSummary
    coverage: JsonObj | None
    encounters: list[EncounterItem]
    current: EncounterItem | None
    diagnoses: list[DiagnosisItem]
    allergies: list[str]
    vitals: VitalsSnapshot
    trend: dict[str, list[tuple[str, float]]]
    notes: list[ProgressNote]
    #: resource types the viewer may not read (their sections are left out, e.g. clinical ones for reception)
    hidden: frozenset[str] = frozenset()

    def shows(self, type_: str) -> bool:
        return type_ not in self.hidden


def encounter_item(enc: JsonObj) -> EncounterItem:
    loc = current_location(enc) or ((enc.get("location") or [{}])[-1])
    period = enc.get("period") or {}
    queue = next(
        (e.get("valueInteger") for e in enc.get("extension") or [] if "queue-number" in e.get("url", "")), None
    )
    disposition = ((enc.get("hospitalization") or {}).get("dischargeDisposition") or {}).get("text", "")
    return EncounterItem(
        id=str(enc["id"]),
        kind=str((enc.get("class") or {}).get("code", "")),
        status=str(enc.get("status", "")),
        start=parse_instant(period.get("start")),
        end=parse_instant(period.get("end")),
        department=str((enc.get("serviceProvider") or {}).get("display", "")),
        location=str((loc.get("location") or {}).get("display", "")),
        location_id=ref_id(loc.get("location"), "Location") or "",
        department_id=ref_id(enc.get("serviceProvider"), "Organization") or "",
        disposition=str(disposition),
        queue_number=int(queue) if queue is not None else None,
    )


def vitals_trend(observations: list[JsonObj]) -> dict[str, list[tuple[str, float]]]:
    """Per sign, (effective time ISO, value) sorted by time: the series of the chart sheet."""
    trend: dict[str, list[tuple[str, float]]] = {k: [] for k in SIGNS}
    for obs in observations:
        at = obs.get("effectiveDateTime")
        if not at:
            continue
        for key, value in observation_values(obs).items():
            if key in trend and isinstance(value, float):
                trend[key].append((str(at), value))
    return {k: sorted(v) for k, v in trend.items()}


def _diagnoses(current: JsonObj | None, conditions: list[JsonObj]) -> list[DiagnosisItem]:
    if current is None:
        return []
    by_id = {c["id"]: c for c in conditions}
    out = []
    for rank, code in diagnosis_codes(current, by_id):
        entry = icd10.lookup(code)
        cond_id = next(
            (
                cid
                for cid, c in by_id.items()
                if coding_code(c.get("code")) == code and ref_id(c.get("encounter"), "Encounter") == current["id"]
            ),
            "",
        )
        out.append(DiagnosisItem(cond_id, code, entry.name_vi if entry else code, rank == 1))
    return out


CHART_TYPES = ("Coverage", "Encounter", "Condition", "AllergyIntolerance", "Observation", "Composition")


async def patient_chart(
    repo: Repository,
    ctx: RequestContext,
    patient_id: str,
    *,
    now: datetime | None = None,
    readable: Callable[[str], bool] | None = None,
) -> Chart:
    """``readable`` says which of :data:`CHART_TYPES` the viewer's roles may read at all (the repository
    would refuse the others); their sections stay empty rather than failing the whole page."""
    now = now or datetime.now(UTC)
    hidden = frozenset(t for t in CHART_TYPES if readable is not None and not readable(t))
    patient = (await repo.read(ctx, "Patient", patient_id)).json()
    subject = f"Patient/{patient_id}"

    async def found(type_: str, params: list[tuple[str, str]]) -> list[JsonObj]:
        return [] if type_ in hidden else await repo.search_json(ctx, type_, params)

    coverages = await found("Coverage", [("beneficiary", subject)])
    encounters = await found("Encounter", [("subject", subject)])
    conditions = await found("Condition", [("subject", subject)])
    allergies = await found("AllergyIntolerance", [("patient", subject)])
    encounters.sort(key=lambda e: str((e.get("period") or {}).get("start", "")), reverse=True)
    current = next((e for e in encounters if e.get("status") == "in-progress"), None)
    # The trend and latest values: of the current stay when there is one (what the ward looks at, and a few
    # hundred Observations even for a patient with 20,000 over the years), else of the last week's visits.
    scope = ("encounter", f"Encounter/{current['id']}") if current else ("subject", subject)
    observations = await found(
        "Observation", [scope, ("category", "vital-signs"), ("date", f"ge{fhir_time(now - TREND_WINDOW)}")]
    )
    notes = await found("Composition", [("subject", subject), ("type", f"http://loinc.org|{PROGRESS_NOTE_LOINC}")])
    items = [encounter_item(e) for e in encounters]
    note_items = sorted((note_of(n) for n in notes), key=lambda n: n.date, reverse=True)
    return Chart(
        patient=PatientSummary.of(patient),
        coverage=next((c for c in coverages if c.get("status") == "active"), None),
        encounters=items,
        current=encounter_item(current) if current else None,
        diagnoses=_diagnoses(current, conditions),
        allergies=[str((a.get("code") or {}).get("text", "")) for a in allergies if (a.get("code") or {}).get("text")],
        vitals=latest_snapshot(observations),
        trend=vitals_trend(observations),
        notes=note_items,
        hidden=hidden,
    )


def bhyt_of(chart: Chart) -> str:
    return chart.patient.bhyt or (
        next(
            (
                i.get("value", "")
                for i in (chart.coverage or {}).get("identifier", [])
                if i.get("system") == systems.BHYT
            ),
            "",
        )
    )
