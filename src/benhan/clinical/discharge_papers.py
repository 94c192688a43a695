"""Discharge papers: the giấy ra viện (written with the discharge, which closes the stay's orders) and the
tóm tắt bệnh án (treatment summary printed for a transfer).

The giấy ra viện is a Composition of LOINC 18842-5 "Discharge summary" (FHIR R4 composition.html) with
sections for the diagnoses at admission and at discharge (ICD-10, QĐ 4469), the treatment, the result, the
discharge medications and the follow-up; the follow-up date is also an Appointment (status ``proposed``) so
the outpatient clinic sees it. Writing the paper and the discharge (``adt.discharge``) is one transaction.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from benhan.clinical import adt
from benhan.clinical.chart import DiagnosisItem, EncounterItem, encounter_item
from benhan.clinical.diagnoses import diagnosis_codes
from benhan.clinical.notes import ProgressNote, note_of
from benhan.clinical.orders import MedicationOrder, order_view
from benhan.clinical.records import (
    PROGRESS_NOTE_LOINC,
    ClinicalError,
    FieldMessage,
    JsonObj,
    coding_code,
    fhir_time,
    now_instant,
    parse_instant,
    ref_id,
)
from benhan.clinical.registration import PatientSummary
from benhan.clinical.service_orders import ServiceOrder, service_view
from benhan.clinical.vitals import VitalsSnapshot, latest_snapshot
from benhan.fhir.storage.protocol import Repository
from benhan.kernel.clock import VN_TZ
from benhan.kernel.context import RequestContext
from benhan.terminology import icd10
from benhan.terminology.fhir import ICD10_SYSTEM

DISCHARGE_LOINC = "18842-5"
SECTIONS = {
    "admission-diagnosis": "Chẩn đoán khi vào viện",
    "discharge-diagnosis": "Chẩn đoán khi ra viện",
    "treatment": "Phương pháp điều trị",
    "result": "Kết quả điều trị",
    "medications": "Thuốc ra viện",
    "follow-up": "Hẹn khám lại",
}


@dataclass(frozen=True, slots=True)
class DischargePaperInput:
    admission_codes: str  # "J18.9, I10"
    discharge_codes: str
    treatment: str
    medications: str = ""
    follow_up: date | None = None
    follow_up_note: str = ""


@dataclass(frozen=True, slots=True)
class DischargePaper:
    id: str
    patient: PatientSummary
    stay: EncounterItem
    sections: dict[str, str]
    date: datetime | None
    author: str


def _codes(text: str, field: str, errors: list[FieldMessage]) -> list[icd10.Icd10Code]:
    out = []
    for raw in (c for c in re.split(r"[,;\s]+", text.strip()) if c):
        entry = icd10.lookup(raw.upper())
        if entry is None:
            errors.append(FieldMessage(field, f"Mã {raw} không có trong ICD-10.", f"{raw} is not an ICD-10 code."))
        else:
            out.append(entry)
    if not out and not any(e.field == field for e in errors):
        errors.append(FieldMessage(field, "Nhập ít nhất một mã ICD-10.", "Enter at least one ICD-10 code."))
    return out


def _div(text: str) -> str:
    return f'<div xmlns="http://www.w3.org/1999/xhtml">{html.escape(text)}</div>'


def _section(key: str, text: str, codes: list[icd10.Icd10Code] | None = None) -> JsonObj:
    section: JsonObj = {
        "title": SECTIONS[key],
        "code": {"text": key},
        "text": {"status": "generated", "div": _div(text)},
    }
    if codes:
        section["code"]["coding"] = [{"system": ICD10_SYSTEM, "code": c.code, "display": c.name_vi} for c in codes]
    return section


def paper_json(
    paper: DischargePaperInput, kind: adt.DischargeType, enc: JsonObj, ctx: RequestContext, now: datetime
) -> JsonObj:
    errors: list[FieldMessage] = []
    admission = _codes(paper.admission_codes, "admission_codes", errors)
    discharge = _codes(paper.discharge_codes, "discharge_codes", errors)
    if len(paper.treatment.strip()) < 3:
        errors.append(FieldMessage("treatment", "Tóm tắt phương pháp điều trị.", "Summarise the treatment."))
    if paper.follow_up is not None and paper.follow_up < now.astimezone(VN_TZ).date():
        errors.append(FieldMessage("follow_up", "Ngày hẹn đã qua.", "The follow-up date is in the past."))
    if errors:
        raise ClinicalError(*errors)
    follow = f"{paper.follow_up:%d/%m/%Y} {paper.follow_up_note}".strip() if paper.follow_up else paper.follow_up_note
    author = (
        {"reference": f"Practitioner/{ctx.practitioner_id}", "display": ctx.username or ""}
        if ctx.practitioner_id
        else {"display": ctx.username or "—"}
    )
    return {
        "resourceType": "Composition",
        "status": "final",
        "type": {
            "coding": [{"system": "http://loinc.org", "code": DISCHARGE_LOINC, "display": "Discharge summary"}],
            "text": "Giấy ra viện",
        },
        "subject": enc["subject"],
        "encounter": {"reference": f"Encounter/{enc['id']}"},
        "date": now_instant(now),
        "author": [author],
        "title": "Giấy ra viện",
        "section": [
            _section("admission-diagnosis", "; ".join(f"{c.code} – {c.name_vi}" for c in admission), admission),
            _section("discharge-diagnosis", "; ".join(f"{c.code} – {c.name_vi}" for c in discharge), discharge),
            _section("treatment", paper.treatment.strip()),
            _section("result", kind.name_vi),
            _section("medications", paper.medications.strip() or "Không"),
            _section("follow-up", follow or "Không"),
        ],
    }


async def discharge_with_paper(
    repo: Repository,
    ctx: RequestContext,
    encounter_id: str,
    paper: DischargePaperInput,
    *,
    discharge_type: str,
    now: datetime | None = None,
) -> str:
    """Write the giấy ra viện and discharge (closing the orders) in one transaction; returns the paper's id."""
    kind = adt.DISCHARGE_TYPES.get(discharge_type)
    if kind is None:
        raise ClinicalError.one("discharge_type", "Chọn hình thức ra viện.", "Choose the discharge type.")
    now = now or datetime.now(UTC)
    async with repo.unit_of_work() as uow:
        enc = (await uow.read(ctx, "Encounter", encounter_id)).json()
        body = paper_json(paper, kind, enc, ctx, now)
        paper_id = (await uow.create(ctx, body)).resource.id
        if paper.follow_up is not None:
            start = datetime.combine(paper.follow_up, time(8), VN_TZ)
            await uow.create(
                ctx,
                {
                    "resourceType": "Appointment",
                    "status": "proposed",
                    "description": paper.follow_up_note.strip() or "Tái khám",
                    "start": fhir_time(start),
                    "end": fhir_time(start + timedelta(minutes=15)),
                    "supportingInformation": [{"reference": f"Composition/{paper_id}"}],
                    "participant": [{"actor": enc["subject"], "status": "accepted"}],
                },
            )
        await adt.discharge(uow, ctx, encounter_id, discharge_type=discharge_type, when=now)
    return paper_id


def _plain(div: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", div))


async def discharge_paper(repo: Repository, ctx: RequestContext, encounter_id: str) -> DischargePaper | None:
    """The latest giấy ra viện of a stay, for printing."""
    papers = await repo.search_json(
        ctx,
        "Composition",
        [("encounter", f"Encounter/{encounter_id}"), ("type", f"http://loinc.org|{DISCHARGE_LOINC}")],
    )
    if not papers:
        return None
    comp = max(papers, key=lambda c: str(c.get("date", "")))
    enc = (await repo.read(ctx, "Encounter", encounter_id)).json()
    patient = (await repo.read(ctx, "Patient", ref_id(enc.get("subject"), "Patient") or "")).json()
    sections = {
        str((s.get("code") or {}).get("text", "")): _plain(s.get("text", {}).get("div", ""))
        for s in comp.get("section") or []
    }
    return DischargePaper(
        str(comp["id"]),
        PatientSummary.of(patient),
        encounter_item(enc),
        sections,
        parse_instant(comp.get("date")),
        ", ".join(str(a.get("display", "")) for a in comp.get("author") or []),
    )


@dataclass(frozen=True, slots=True)
class TransferSummary:
    """Tóm tắt bệnh án: what the receiving hospital needs, on one printable page."""

    patient: PatientSummary
    stay: EncounterItem
    diagnoses: list[DiagnosisItem]
    allergies: list[str]
    vitals: VitalsSnapshot
    notes: list[ProgressNote]
    medications: list[MedicationOrder]
    services: list[ServiceOrder]


def _diagnosis_items(enc: JsonObj, conditions: list[JsonObj]) -> list[DiagnosisItem]:
    by_id = {c["id"]: c for c in conditions}
    out = []
    for rank, code in diagnosis_codes(enc, by_id):
        entry = icd10.lookup(code)
        cid = next((i for i, c in by_id.items() if coding_code(c.get("code"), ICD10_SYSTEM) == code), "")
        out.append(DiagnosisItem(cid, code, entry.name_vi if entry else code, rank == 1))
    return out


async def transfer_summary(repo: Repository, ctx: RequestContext, encounter_id: str) -> TransferSummary:
    enc_ref = f"Encounter/{encounter_id}"
    enc = (await repo.read(ctx, "Encounter", encounter_id)).json()
    pid = ref_id(enc.get("subject"), "Patient") or ""
    patient = (await repo.read(ctx, "Patient", pid)).json()
    conditions = await repo.search_json(ctx, "Condition", [("encounter", enc_ref)])
    allergies = await repo.search_json(ctx, "AllergyIntolerance", [("patient", f"Patient/{pid}")])
    obs = await repo.search_json(ctx, "Observation", [("encounter", enc_ref), ("category", "vital-signs")])
    notes = await repo.search_json(
        ctx, "Composition", [("encounter", enc_ref), ("type", f"http://loinc.org|{PROGRESS_NOTE_LOINC}")]
    )
    meds = await repo.search_json(ctx, "MedicationRequest", [("encounter", enc_ref)])
    services = await repo.search_json(ctx, "ServiceRequest", [("encounter", enc_ref)])
    return TransferSummary(
        patient=PatientSummary.of(patient),
        stay=encounter_item(enc),
        diagnoses=_diagnosis_items(enc, conditions),
        allergies=[str((a.get("code") or {}).get("text", "")) for a in allergies],
        vitals=latest_snapshot(obs),
        notes=sorted((note_of(n) for n in notes), key=lambda n: n.date, reverse=True)[:10],
        medications=sorted((order_view(m) for m in meds), key=lambda m: (m.status != "active", m.drug_name)),
        services=[service_view(s) for s in services if service_view(s).kind in ("lab", "imaging")],
    )


async def paper_defaults(repo: Repository, ctx: RequestContext, encounter_id: str) -> dict[str, str]:
    """Form values to start from: the first diagnosis recorded (admission), the current ones (discharge), and the
    drugs and services of the stay as the treatment."""
    enc_ref = f"Encounter/{encounter_id}"
    enc = (await repo.read(ctx, "Encounter", encounter_id)).json()
    conditions = await repo.search_json(ctx, "Condition", [("encounter", enc_ref)])
    meds = await repo.search_json(ctx, "MedicationRequest", [("encounter", enc_ref)])
    first = min(conditions, key=lambda c: str(c.get("recordedDate", "")), default=None)
    current = [code for _r, code in diagnosis_codes(enc, {c["id"]: c for c in conditions})]
    drugs = sorted({order_view(m).drug_name for m in meds})
    active = sorted({f"{v.drug_name}: {v.summary}" for m in meds if (v := order_view(m)).status == "active"})
    return {
        "admission_codes": coding_code(first.get("code"), ICD10_SYSTEM) or "" if first else "",
        "discharge_codes": ", ".join(current),
        "treatment": ("Nội khoa: " + ", ".join(drugs) + ".") if drugs else "",
        "medications": "\n".join(active),
    }
