"""Medication orders (y lệnh thuốc) as FHIR R4 MedicationRequest: order, change, renew, stop; the safety checks of
``order_safety`` with overrides written as DetectedIssue (each write is audited by the repository); every order
is also written into the doctor's progress note of the day (tờ điều trị, ``order_common.write_in_day_note``).

Shape (medicationrequest.html, dosage.html): the catalogue drug in ``medicationCodeableConcept`` (catalogue code
and active ingredient), ``dosageInstruction`` from the frequency parser (``frequency.to_fhir_dosages``) with the
route and, for infusions, ``doseAndRate.rateQuantity`` (ml/h); start and stop in ``timing.repeat.boundsPeriod``
(so schedules end by themselves), duration in ``dispenseRequest.expectedSupplyDuration``. A change or renewal
is a new request with ``priorPrescription``; the old one becomes ``stopped`` (change) or ``completed`` (renewal).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from benhan.clinical import order_safety
from benhan.clinical.catalogues import catalogue_code, catalogue_coding, drugs_at, encounter_facility
from benhan.clinical.frequency import describe_vi, parse_frequency, schedule_from_fhir_dosages, to_fhir_dosages
from benhan.clinical.frequency_model import FrequencyParseError, Schedule
from benhan.clinical.order_common import (
    INGREDIENT_SYSTEM,
    ROUTE_SYSTEM,
    local_day,
    write_in_day_note,
)
from benhan.clinical.records import (
    ACT_CODE,
    ClinicalError,
    FieldMessage,
    JsonObj,
    NeedsConfirmation,
    coding_code,
    fhir_time,
    now_instant,
    parse_instant,
    ref_id,
)
from benhan.fhir.storage.protocol import Repository
from benhan.kernel.context import RequestContext
from benhan.terminology.catalogue import Catalogue, DrugItem

CATEGORY = "http://terminology.hl7.org/CodeSystem/medicationrequest-category"
UCUM = "http://unitsofmeasure.org"
OPEN_STATUSES = ("active", "on-hold")


@dataclass(frozen=True, slots=True)
class MedicationOrderInput:
    """The order form as typed: text fields are parsed here so every problem is reported at its field."""

    drug_code: str
    frequency: str
    dose: str = ""
    unit: str = ""
    route: str = ""
    duration_days: str = ""
    start: datetime | None = None
    stop: datetime | None = None
    instructions: str = ""
    rate: str = ""  # ml/h, for infusions


class OrderAlerts(NeedsConfirmation):
    """Safety alerts without a reason: the form shows each with a reason box (its ``key``)."""

    def __init__(self, alerts: list[tuple[str, order_safety.Alert]]) -> None:
        super().__init__(*(FieldMessage(key, a.message_vi, a.message_en) for key, a in alerts))
        self.alerts = alerts


@dataclass(frozen=True, slots=True)
class MedicationOrder:
    """One MedicationRequest as the pages and the nurses' summary read it."""

    id: str
    version: int
    status: str
    drug_code: str
    drug_name: str
    ingredient: str
    route: str
    text: str  # the frequency as the doctor wrote it
    summary: str  # describe_vi of the parsed schedule
    instructions: str
    rate: str
    start: datetime | None
    end: datetime | None
    authored: datetime | None
    encounter_id: str
    patient_id: str
    schedule: Schedule | None
    dosages: list[JsonObj]


def _decimal(text: str, field: str, errors: list[FieldMessage], vi: str, en: str) -> Decimal | None:
    if not text.strip():
        return None
    try:
        value = Decimal(text.strip().replace(",", "."))
    except InvalidOperation:
        value = Decimal(-1)
    if value <= 0:
        errors.append(FieldMessage(field, vi, en))
        return None
    return value


def parse_order(order: MedicationOrderInput, drugs: Catalogue[DrugItem]) -> tuple[DrugItem, Schedule, Decimal | None]:
    """The drug, the schedule (with the form's dose merged in) and the infusion rate; all errors at once."""
    errors: list[FieldMessage] = []
    drug = drugs.lookup(order.drug_code.split(" ")[0]) if order.drug_code.strip() else None
    if drug is None:
        errors.append(FieldMessage("drug", "Chọn thuốc trong danh mục.", "Choose a drug from the catalogue."))
    dose = _decimal(order.dose, "dose", errors, "Liều phải là số dương.", "The dose must be a positive number.")
    rate = _decimal(order.rate, "rate", errors, "Tốc độ truyền phải là số dương.", "The rate must be positive.")
    days = _decimal(order.duration_days, "duration_days", errors, "Số ngày phải dương.", "Days must be positive.")
    schedule = Schedule()
    try:
        schedule = parse_frequency(order.frequency)
    except FrequencyParseError as exc:
        errors.append(FieldMessage("frequency", exc.message_vi, exc.message_en))
    unit = order.unit.strip() or schedule.dose_unit or (drug.don_vi_tinh if drug else None)
    if dose is not None:
        slot_doses = {s.dose for s in schedule.slots if s.dose is not None}
        if (schedule.dose is not None and schedule.dose != dose) or (slot_doses and slot_doses != {dose}):
            errors.append(
                FieldMessage("dose", "Liều khác với liều trong tần suất.", "The dose differs from the frequency.")
            )
        schedule = replace(
            schedule,
            slots=tuple(replace(s, dose=s.dose or dose) for s in schedule.slots),
            dose=None if schedule.slots else dose,
        )
    if days is not None and days != days.to_integral_value():
        errors.append(FieldMessage("duration_days", "Số ngày là số nguyên.", "Days are a whole number."))
    if order.start and order.stop and order.stop <= order.start:
        errors.append(FieldMessage("stop", "Ngày ngừng phải sau ngày bắt đầu.", "The stop must be after the start."))
    if not errors and not schedule.as_needed and not order_safety.doses_per_day(replace(schedule, dose_unit=unit)):
        errors.append(FieldMessage("dose", "Nhập liều mỗi lần.", "Enter the dose per administration."))
    if errors or drug is None:
        raise ClinicalError(*errors)
    return drug, replace(schedule, dose_unit=unit), rate


def _bounds(order: MedicationOrderInput, now: datetime) -> tuple[datetime, datetime | None]:
    start = order.start or now
    end = order.stop
    if end is None and order.duration_days.strip():
        end = start + timedelta(days=int(Decimal(order.duration_days.replace(",", "."))))
    return start, end


def medication_request(
    order: MedicationOrderInput,
    drug: DrugItem,
    schedule: Schedule,
    rate: Decimal | None,
    enc: JsonObj,
    ctx: RequestContext,
    now: datetime,
    facility: str | None,
) -> JsonObj:
    start, end = _bounds(order, now)
    route_code = order.route.strip() or drug.duong_dung
    dosages = to_fhir_dosages(schedule, text=order.frequency.strip())
    bounds: JsonObj = {"start": fhir_time(start)} | ({"end": fhir_time(end)} if end else {})
    for d in dosages:
        d.setdefault("timing", {}).setdefault("repeat", {})["boundsPeriod"] = bounds
        d["route"] = {
            "coding": [{"system": ROUTE_SYSTEM, "code": route_code}],
            # TEN_DUONG_DUNG is optional in a facility's file: fall back to the code (FHIR forbids null)
            "text": (drug.ten_duong_dung or route_code) if route_code == drug.duong_dung else route_code,
        }
        if rate is not None:
            rates = d.setdefault("doseAndRate", [{}])
            rates[0]["rateQuantity"] = {"value": float(rate), "unit": "ml/h", "system": UCUM, "code": "mL/h"}
        if order.instructions.strip():
            d["patientInstruction"] = order.instructions.strip()
    req: JsonObj = {
        "resourceType": "MedicationRequest",
        "status": "active",
        "intent": "order",
        "category": [{"coding": [{"system": CATEGORY, "code": "inpatient"}]}],
        "medicationCodeableConcept": {
            "coding": [
                catalogue_coding("drug", facility, drug.ma_thuoc, drug.ten_thuoc),
                {"system": INGREDIENT_SYSTEM, "code": drug.ten_hoat_chat, "display": drug.ten_hoat_chat},
            ],
            "text": drug.ten_thuoc,
        },
        "subject": enc["subject"],
        "encounter": {"reference": f"Encounter/{enc['id']}"},
        "authoredOn": now_instant(now),
        "dosageInstruction": dosages,
    }
    if ctx.practitioner_id:
        req["requester"] = {"reference": f"Practitioner/{ctx.practitioner_id}", "display": ctx.username or ""}
    if end is not None:
        days = max(1, round((end - start).total_seconds() / 86400))
        req["dispenseRequest"] = {
            "expectedSupplyDuration": {"value": days, "unit": "ngày", "system": UCUM, "code": "d"}
        }
    return req


def detected_issue(alert: order_safety.Alert, reason: str, req_id: str, enc: JsonObj, ctx: RequestContext) -> JsonObj:
    """The override of one alert (FHIR R4 detectedissue.html): what was detected, and why the doctor went on."""
    issue: JsonObj = {
        "resourceType": "DetectedIssue",
        "status": "final",
        "code": {"coding": [{"system": ACT_CODE, "code": alert.code}], "text": alert.message_vi},
        "severity": "high" if alert.code == order_safety.ALLERGY else "moderate",
        "patient": enc["subject"],
        "identifiedDateTime": now_instant(),
        "implicated": [{"reference": f"MedicationRequest/{req_id}"}, *({"reference": r} for r in alert.implicated)],
        "detail": alert.message_vi,
        "mitigation": [
            {
                "action": {
                    "coding": [{"system": ACT_CODE, "code": "1", "display": "Therapy Appropriate"}],
                    "text": reason,
                },
                "date": now_instant(),
            }
        ],
    }
    if ctx.practitioner_id:
        issue["author"] = {"reference": f"Practitioner/{ctx.practitioner_id}"}
        issue["mitigation"][0]["author"] = issue["author"]
    return issue


def _active_ingredients(orders: list[JsonObj]) -> list[tuple[str, str, str]]:
    return [
        (
            str(o["id"]),
            coding_code(o.get("medicationCodeableConcept"), INGREDIENT_SYSTEM) or "",
            str((o.get("medicationCodeableConcept") or {}).get("text", "")),
        )
        for o in orders
        if o.get("status") in OPEN_STATUSES
    ]


async def order_medication(
    repo: Repository,
    ctx: RequestContext,
    encounter_id: str,
    order: MedicationOrderInput,
    *,
    overrides: Mapping[str, str] | None = None,
    replaces: str | None = None,
    renewal: bool = False,
    now: datetime | None = None,
) -> str:
    """Write one medication order (or the new version of ``replaces``); returns the MedicationRequest id.

    Raises :class:`ClinicalError` for bad fields and :class:`OrderAlerts` while a safety alert has no reason.
    """
    now = now or datetime.now(UTC)
    async with repo.unit_of_work() as uow:
        enc = (await uow.read(ctx, "Encounter", encounter_id)).json()
        facility = await encounter_facility(uow, ctx, enc)
        # the drug must be in the catalogue of the facility treating the patient (issue 7)
        drug, schedule, rate = parse_order(order, await drugs_at(uow, ctx, facility))
        if enc.get("status") != "in-progress":
            raise ClinicalError.one("", "Đợt điều trị đã kết thúc.", "The stay has already ended.")
        pid = ref_id(enc.get("subject"), "Patient") or ""
        patient = (await uow.read(ctx, "Patient", pid)).json()
        allergies = await uow.search_json(ctx, "AllergyIntolerance", [("patient", f"Patient/{pid}")])
        current = await uow.search_json(ctx, "MedicationRequest", [("encounter", f"Encounter/{encounter_id}")])
        alerts = order_safety.check_medication(
            drug,
            schedule,
            patient=patient,
            allergies=allergies,
            active=_active_ingredients(current),
            on=local_day(now),
            replacing=replaces or "",
        )
        reasons = overrides or {}
        missing = order_safety.unacknowledged(alerts, reasons)
        if missing:
            raise OrderAlerts(missing)
        req = medication_request(order, drug, schedule, rate, enc, ctx, now, facility)
        if replaces:
            req["priorPrescription"] = {"reference": f"MedicationRequest/{replaces}"}
        req_id = (await uow.create(ctx, req)).resource.id
        for i, alert in enumerate(alerts):
            reason = reasons[order_safety.alert_key(alert, i)].strip()
            await uow.create(ctx, detected_issue(alert, reason, req_id, enc, ctx))
        verb = "Gia hạn" if renewal else ("Thay đổi" if replaces else "")
        line = f"{verb + ': ' if verb else ''}{drug.ten_thuoc} — {describe_vi(schedule)}"
        if replaces:
            await _close(uow, ctx, replaces, "completed" if renewal else "stopped", f"{verb} y lệnh", now)
        await write_in_day_note(uow, ctx, enc, [f"MedicationRequest/{req_id}"], [line], now)
    return req_id


async def _close(
    repo: Repository, ctx: RequestContext, req_id: str, status: str, reason: str, now: datetime
) -> JsonObj:
    stored = await repo.read(ctx, "MedicationRequest", req_id)
    req = stored.json()
    if req.get("status") not in OPEN_STATUSES:
        raise ClinicalError.one("", "Y lệnh này đã ngừng hoặc đã kết thúc.", "This order is no longer active.")
    req["status"] = status
    req["statusReason"] = {"text": reason}
    for d in req.get("dosageInstruction") or []:
        bounds = d.setdefault("timing", {}).setdefault("repeat", {}).setdefault("boundsPeriod", {})
        end = parse_instant(bounds.get("end"))
        if end is None or end > now:
            bounds["end"] = fhir_time(now)
    await repo.update(ctx, "MedicationRequest", req_id, req, if_match=stored.version)
    return req


async def stop_medication(
    repo: Repository, ctx: RequestContext, request_id: str, *, reason: str, now: datetime | None = None
) -> None:
    """Stop an order now (status ``stopped``, the schedule ends now); noted in the day's progress note."""
    if len(reason.strip()) < 3:
        raise ClinicalError.one("reason", "Nhập lý do ngừng thuốc.", "Enter why the drug is stopped.")
    now = now or datetime.now(UTC)
    async with repo.unit_of_work() as uow:
        req = await _close(uow, ctx, request_id, "stopped", reason.strip(), now)
        enc = (await uow.read(ctx, "Encounter", ref_id(req.get("encounter"), "Encounter") or "")).json()
        name = (req.get("medicationCodeableConcept") or {}).get("text", "")
        await write_in_day_note(
            uow, ctx, enc, [f"MedicationRequest/{request_id}"], [f"Ngừng: {name} ({reason.strip()})"], now
        )


def order_view(req: JsonObj, version: int | None = None) -> MedicationOrder:
    concept = req.get("medicationCodeableConcept") or {}
    dosages: list[JsonObj] = list(req.get("dosageInstruction") or [])
    first = dosages[0] if dosages else {}
    bounds = ((first.get("timing") or {}).get("repeat") or {}).get("boundsPeriod") or {}
    rate = next(
        (dr["rateQuantity"] for d in dosages for dr in d.get("doseAndRate") or [] if "rateQuantity" in dr), None
    )
    try:
        schedule: Schedule | None = schedule_from_fhir_dosages(dosages)
    except (FrequencyParseError, ValueError):
        schedule = None
    return MedicationOrder(
        id=str(req["id"]),
        version=version or int((req.get("meta") or {}).get("versionId", 1)),
        status=str(req.get("status", "")),
        drug_code=catalogue_code(concept, "drug"),
        drug_name=str(concept.get("text", "")),
        ingredient=coding_code(concept, INGREDIENT_SYSTEM) or "",
        route=str((first.get("route") or {}).get("text", "")),
        text=str(first.get("text", "")),
        summary=describe_vi(schedule) if schedule else str(first.get("text", "")),
        instructions=str(first.get("patientInstruction", "")),
        rate=f"{rate['value']:g} ml/h" if rate else "",
        start=parse_instant(bounds.get("start")),
        end=parse_instant(bounds.get("end")),
        authored=parse_instant(req.get("authoredOn")),
        encounter_id=ref_id(req.get("encounter"), "Encounter") or "",
        patient_id=ref_id(req.get("subject"), "Patient") or "",
        schedule=schedule,
        dosages=dosages,
    )


def input_of(view: MedicationOrder) -> MedicationOrderInput:
    """The form values that would write this order again (for change and renew)."""
    route = next((c.get("code", "") for d in view.dosages for c in (d.get("route") or {}).get("coding") or []), "")
    return MedicationOrderInput(
        drug_code=view.drug_code,
        frequency=view.text,
        route=route,
        instructions=view.instructions,
        rate=view.rate.removesuffix(" ml/h"),
    )


async def encounter_medications(repo: Repository, ctx: RequestContext, encounter_id: str) -> list[MedicationOrder]:
    """Every medication order of a stay, open ones first, newest first within each group."""
    found = await repo.search_json(ctx, "MedicationRequest", [("encounter", f"Encounter/{encounter_id}")])
    views = [order_view(r) for r in found]
    views.sort(key=lambda v: (v.status not in OPEN_STATUSES, -(v.authored.timestamp() if v.authored else 0)))
    return views
