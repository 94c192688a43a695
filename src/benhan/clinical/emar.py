"""Medication administration (eMAR) at the bedside: the shift's list, the wristband scan and the dose record.

- The list: for every stay of the department, the scheduled doses of the active orders in the shift window,
  each ``due`` (within ``DUE_WINDOW`` of now), ``overdue``, ``upcoming``, or already recorded
  (``given``/``held``/``refused``). Four searches whatever the number of beds.
- Giving a dose (the "five rights"): the patient is identified by scanning the wristband (its code is the
  patient's MA_BN) or, without a scanner, by confirming two identifiers (name and birth date); the drug by
  scanning its catalogue code or choosing the order. A wrong patient or a wrong drug is refused.
- The record: a FHIR R4 MedicationAdministration (medicationadministration.html) linked to the order by
  ``request``, the scheduled time in an extension, ``completed`` when given, ``not-done`` with ``statusReason``
  when held or refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

from benhan.clinical.dose_times import schedule_doses
from benhan.clinical.facility import current_location
from benhan.clinical.orders import OPEN_STATUSES, MedicationOrder, order_view
from benhan.clinical.records import (
    BASE,
    ClinicalError,
    FieldMessage,
    JsonObj,
    fhir_time,
    identifier,
    now_instant,
    parse_instant,
    patient_name,
    ref_id,
)
from benhan.clinical.summary import dose_of
from benhan.fhir.search import systems
from benhan.fhir.storage.protocol import Repository
from benhan.kernel.clock import VN_TZ
from benhan.kernel.context import RequestContext

SCHEDULED_URL = f"{BASE}/StructureDefinition/scheduled-time"
NOT_GIVEN_SYSTEM = f"{BASE}/CodeSystem/ly-do-khong-dung-thuoc"
DUE_WINDOW = timedelta(minutes=30)
#: Nursing shifts (local hours): morning 7–14, afternoon 14–21, night 21–7.
SHIFTS: dict[str, tuple[int, int]] = {"morning": (7, 14), "afternoon": (14, 21), "night": (21, 31)}
OUTCOMES = {"given": ("Đã dùng", "Given"), "held": ("Hoãn", "Held"), "refused": ("Bệnh nhân từ chối", "Refused")}


@dataclass(frozen=True, slots=True)
class DueDose:
    order: MedicationOrder
    at: datetime
    state: str  # due | overdue | upcoming | given | held | refused
    dose_text: str
    recorded_at: datetime | None = None


@dataclass(slots=True)
class EmarPatient:
    encounter_id: str
    patient_id: str
    bed: str
    name: str
    birth_date: str
    ma_bn: str
    doses: list[DueDose] = field(default_factory=list)
    prn: list[MedicationOrder] = field(default_factory=list)

    @property
    def pending(self) -> int:
        return sum(1 for d in self.doses if d.state in ("due", "overdue"))


def shift_window(now: datetime, shift: str | None = None) -> tuple[str, datetime, datetime]:
    """The shift containing ``now`` (or the named one of that local day): name, start, end."""
    local = now.astimezone(VN_TZ)
    hour = local.hour + (24 if local.hour < 7 else 0)
    name = shift or next(n for n, (a, b) in SHIFTS.items() if a <= hour < b)
    a, b = SHIFTS[name]
    base = local.date() - timedelta(days=1 if local.hour < 7 and shift in (None, "night") else 0)
    start = datetime.combine(base, time(0), VN_TZ) + timedelta(hours=a)
    return name, start, start + timedelta(hours=b - a)


def _state(at: datetime, now: datetime) -> str:
    if at < now - DUE_WINDOW:
        return "overdue"
    return "due" if at <= now + DUE_WINDOW else "upcoming"


def _recorded(admins: list[JsonObj]) -> dict[tuple[str, str], JsonObj]:
    out = {}
    for a in admins:
        sched = next((e.get("valueDateTime") for e in a.get("extension") or [] if e.get("url") == SCHEDULED_URL), None)
        req = ref_id(a.get("request"), "MedicationRequest")
        if sched and req and a.get("status") != "entered-in-error":
            out[(req, fhir_time(parse_instant(sched) or datetime.now(UTC)))] = a
    return out


def outcome_of(admin: JsonObj) -> str:
    if admin.get("status") == "completed":
        return "given"
    codes = [c.get("code") for r in admin.get("statusReason") or [] for c in r.get("coding") or []]
    return "refused" if "refused" in codes else "held"


def build_patient(
    enc: JsonObj,
    patient: JsonObj,
    requests: list[JsonObj],
    admins: list[JsonObj],
    start: datetime,
    end: datetime,
    now: datetime,
) -> EmarPatient:
    """Pure: one patient's doses in the window, each with its state."""
    loc = current_location(enc) or {}
    row = EmarPatient(
        str(enc["id"]),
        str(patient.get("id", "")),
        str((loc.get("location") or {}).get("display", "")),
        patient_name(patient),
        str(patient.get("birthDate", "")),
        identifier(patient, systems.MA_BN) or "",
    )
    recorded = _recorded(admins)
    for req in requests:
        if req.get("status") not in OPEN_STATUSES:
            continue
        order = order_view(req)
        for dosage in order.dosages:
            timing = dosage.get("timing") or {}
            if dosage.get("asNeededBoolean") or "asNeededCodeableConcept" in dosage:
                continue  # PRN: offered on its own, never "due"
            if not (
                timing.get("repeat", {}).get("when")
                or timing.get("repeat", {}).get("timeOfDay")
                or timing.get("repeat", {}).get("frequency")
                or timing.get("event")
            ):
                continue
            value, unit = dose_of(dosage)
            text = f"{value.normalize():f} {unit or ''}".replace(".", ",").strip() if value is not None else ""
            for at in schedule_doses(timing, start, end):
                admin = recorded.get((order.id, fhir_time(at)))
                state = outcome_of(admin) if admin else _state(at, now)
                when = parse_instant(admin.get("effectiveDateTime")) if admin else None
                row.doses.append(DueDose(order, at, state, text, when))
        if any(d.get("asNeededBoolean") or "asNeededCodeableConcept" in d for d in order.dosages):
            row.prn.append(order)
    row.doses.sort(key=lambda d: (d.at, d.order.drug_name))
    return row


async def shift_list(
    repo: Repository,
    ctx: RequestContext,
    department_id: str,
    *,
    now: datetime | None = None,
    shift: str | None = None,
    encounter_id: str | None = None,
) -> tuple[str, list[EmarPatient]]:
    """The shift's doses per patient (bed order); ``encounter_id`` narrows it to one stay."""
    now = now or datetime.now(UTC)
    name, start, end = shift_window(now, shift)
    if encounter_id:
        stays = [(await repo.read(ctx, "Encounter", encounter_id)).json()]
    else:
        stays = await repo.search_json(
            ctx, "Encounter", [("service-provider", f"Organization/{department_id}"), ("status", "in-progress")]
        )
    if not stays:
        return name, []
    refs = ",".join(f"Encounter/{e['id']}" for e in stays)
    pids = sorted({ref_id(e.get("subject"), "Patient") or "" for e in stays} - {""})
    patients = {p["id"]: p for p in await repo.search_json(ctx, "Patient", [("_id", ",".join(pids))])}
    requests = await repo.search_json(ctx, "MedicationRequest", [("encounter", refs), ("status", "active,on-hold")])
    admins = await repo.search_json(
        ctx,
        "MedicationAdministration",
        [("context", refs), ("effective-time", f"ge{fhir_time(start - timedelta(days=1))}")],
    )
    by_enc: dict[str, tuple[list[JsonObj], list[JsonObj]]] = {str(e["id"]): ([], []) for e in stays}
    for r in requests:
        by_enc.get(ref_id(r.get("encounter"), "Encounter") or "", ([], []))[0].append(r)
    for a in admins:
        by_enc.get(ref_id(a.get("context"), "Encounter") or "", ([], []))[1].append(a)
    rows = [
        build_patient(
            e, patients.get(ref_id(e.get("subject"), "Patient") or "", {}), *by_enc[str(e["id"])], start, end, now
        )
        for e in stays
    ]
    rows.sort(key=lambda r: (r.bed == "", _bed_key(r.bed), r.name))
    return name, rows


def _bed_key(bed: str) -> tuple[str, int]:
    digits = "".join(ch for ch in bed if ch.isdigit())
    return (bed.rstrip("0123456789 "), int(digits) if digits else 0)


async def find_by_wristband(repo: Repository, ctx: RequestContext, code: str, department_id: str) -> str:
    """The department's open stay of the patient whose wristband was scanned; refused with a clear message."""
    code = code.strip()
    found = await repo.search_json(ctx, "Patient", [("ma-bn", code)]) if code else []
    if not found:
        raise ClinicalError.one("scan", f"Không tìm thấy bệnh nhân có mã {code}.", f"No patient has the code {code}.")
    stays = await repo.search_json(
        ctx, "Encounter", [("subject", f"Patient/{found[0]['id']}"), ("status", "in-progress"), ("class", "IMP")]
    )
    here = [s for s in stays if ref_id(s.get("serviceProvider"), "Organization") == department_id]
    if not here:
        raise ClinicalError.one(
            "scan",
            f"Bệnh nhân {patient_name(found[0])} không nằm ở khoa này.",
            f"{patient_name(found[0])} is not an inpatient of this department.",
        )
    return str(here[0]["id"])


@dataclass(frozen=True, slots=True)
class DoseRecord:
    """What the nurse did: the patient identification, the drug identification, the outcome."""

    request_id: str
    outcome: str  # given | held | refused
    scanned_patient: str = ""  # the wristband code, when scanned
    patient_confirmed: bool = False  # two identifiers checked by hand instead
    scanned_drug: str = ""  # the drug's catalogue code, when scanned
    reason: str = ""
    scheduled: datetime | None = None
    when: datetime | None = None


def check_rights(patient: JsonObj, enc_id: str, req: JsonObj, rec: DoseRecord) -> None:
    """Right patient, right drug, an order still active, a reason when not given: else refused."""
    name, code = patient_name(patient), identifier(patient, systems.MA_BN) or ""
    if rec.scanned_patient and rec.scanned_patient.strip() != code:
        raise ClinicalError.one(
            "scanned_patient",
            f"SAI BỆNH NHÂN: vòng tay {rec.scanned_patient.strip()} không phải của {name}. Dừng lại, không dùng thuốc.",
            f"WRONG PATIENT: wristband {rec.scanned_patient.strip()} is not {name}'s. Stop: do not give.",
        )
    if not rec.scanned_patient and not rec.patient_confirmed:
        raise ClinicalError.one(
            "patient_confirmed",
            "Quét vòng tay hoặc xác nhận họ tên và ngày sinh.",
            "Scan the wristband or confirm the name and birth date.",
        )
    if ref_id(req.get("encounter"), "Encounter") != enc_id or ref_id(req.get("subject"), "Patient") != patient.get(
        "id"
    ):
        raise ClinicalError.one(
            "",
            "SAI BỆNH NHÂN: y lệnh này không phải của bệnh nhân đang mở.",
            "WRONG PATIENT: this order belongs to another patient.",
        )
    order = order_view(req)
    if rec.scanned_drug and rec.scanned_drug.strip() != order.drug_code:
        raise ClinicalError.one(
            "scanned_drug",
            f"SAI THUỐC: mã {rec.scanned_drug.strip()} không phải {order.drug_name}. Không dùng thuốc này.",
            f"WRONG DRUG: code {rec.scanned_drug.strip()} is not {order.drug_name}. Do not give it.",
        )
    if req.get("status") not in OPEN_STATUSES:
        raise ClinicalError.one("", "Y lệnh đã ngừng: không dùng thuốc.", "The order was stopped: do not give.")
    if rec.outcome not in OUTCOMES:
        raise ClinicalError.one("outcome", "Chọn đã dùng, hoãn hoặc từ chối.", "Choose given, held or refused.")
    if rec.outcome != "given" and len(rec.reason.strip()) < 3:
        raise ClinicalError.one("reason", "Nhập lý do hoãn/từ chối.", "Enter why the dose was held or refused.")


def administration(req: JsonObj, enc: JsonObj, rec: DoseRecord, ctx: RequestContext, now: datetime) -> JsonObj:
    order = order_view(req)
    dosage: JsonObj = {"text": order.summary}
    if order.dosages:
        value, unit = dose_of(order.dosages[0])
        if value is not None:
            dosage["dose"] = {"value": float(value), "unit": unit or ""}
        if order.dosages[0].get("route"):
            dosage["route"] = order.dosages[0]["route"]
    admin: JsonObj = {
        "resourceType": "MedicationAdministration",
        "status": "completed" if rec.outcome == "given" else "not-done",
        "medicationCodeableConcept": req["medicationCodeableConcept"],
        "subject": enc["subject"],
        "context": {"reference": f"Encounter/{enc['id']}"},
        "effectiveDateTime": now_instant(rec.when or now),
        "request": {"reference": f"MedicationRequest/{req['id']}"},
        "dosage": dosage,
    }
    if rec.scheduled is not None:
        admin["extension"] = [{"url": SCHEDULED_URL, "valueDateTime": fhir_time(rec.scheduled)}]
    if rec.outcome != "given":
        admin["statusReason"] = [
            {"coding": [{"system": NOT_GIVEN_SYSTEM, "code": rec.outcome}], "text": rec.reason.strip()}
        ]
    elif rec.reason.strip():
        admin["note"] = [{"text": rec.reason.strip()}]
    if ctx.practitioner_id:
        admin["performer"] = [
            {"actor": {"reference": f"Practitioner/{ctx.practitioner_id}", "display": ctx.username or ""}}
        ]
    return admin


async def record_dose(
    repo: Repository, ctx: RequestContext, encounter_id: str, rec: DoseRecord, *, now: datetime | None = None
) -> str:
    """Record a dose given, held or refused; returns the MedicationAdministration id."""
    now = now or datetime.now(UTC)
    async with repo.unit_of_work() as uow:
        enc = (await uow.read(ctx, "Encounter", encounter_id)).json()
        patient = (await uow.read(ctx, "Patient", ref_id(enc.get("subject"), "Patient") or "")).json()
        req = (await uow.read(ctx, "MedicationRequest", rec.request_id)).json()
        check_rights(patient, encounter_id, req, rec)
        if rec.scheduled is not None:
            done = await uow.search_json(
                ctx, "MedicationAdministration", [("request", f"MedicationRequest/{rec.request_id}")]
            )
            if (rec.request_id, fhir_time(rec.scheduled)) in _recorded(done):
                raise ClinicalError(FieldMessage("", "Liều này đã được ghi.", "This dose has already been recorded."))
        created = await uow.create(ctx, administration(req, enc, rec, ctx, now))
    return created.resource.id
