"""Lab and imaging orders (ServiceRequest), care orders (diet as NutritionOrder, nursing care level and monitoring
as ServiceRequest), allergies (AllergyIntolerance) and the closing of a stay's orders at discharge.

Every lab or imaging request gets a placer order number (HL7 v2 ORC-2, identifier type ``PLC``); imaging ones
also get an accession number (type ``ACSN``, DICOM (0008,0050), at most 16 characters). The tests of one panel
share a ``requisition`` (FHIR R4 servicerequest.html#requisition). Lab and imaging feeds match on these numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from benhan.clinical.catalogues import catalogue_code, catalogue_coding, encounter_facility, services_at
from benhan.clinical.frequency import describe_vi, parse_frequency, to_fhir_timing
from benhan.clinical.frequency_model import FrequencyParseError
from benhan.clinical.order_common import (
    ACCESSION_SYSTEM,
    ORDER_KIND_SYSTEM,
    PLACER_SYSTEM,
    REQUISITION_SYSTEM,
    V2_0203,
    local_day,
    next_number,
    write_in_day_note,
)
from benhan.clinical.orders import OPEN_STATUSES
from benhan.clinical.records import BASE, ClinicalError, FieldMessage, JsonObj, coding_code, now_instant, ref_id
from benhan.fhir.storage.protocol import Repository
from benhan.kernel.context import RequestContext
from benhan.kernel.text import fold
from benhan.terminology.catalogue import Catalogue, ServiceItem

PRIORITIES = {"routine": ("Thường quy", "Routine"), "urgent": ("Khẩn", "Urgent"), "stat": ("Cấp cứu (STAT)", "STAT")}
SNOMED = "http://snomed.info/sct"
_KIND_SNOMED = {
    "lab": ("108252007", "Laboratory procedure"),
    "imaging": ("363679005", "Imaging"),
    "care": ("9632001", "Nursing procedure"),
}
CARE_SYSTEM = f"{BASE}/CodeSystem/y-lenh-cham-soc"
DIETS = {
    "thuong": "Cơm thường",
    "chao": "Cháo",
    "long": "Ăn lỏng / qua sonde",
    "dtd": "Chế độ ăn đái tháo đường",
    "giam-muoi": "Ăn giảm muối",
    "nhin": "Nhịn ăn",
}
# Thông tư 31/2021/TT-BYT: nursing care levels I (total), II (partial), III (self-care).
CARE_LEVELS = {"cap-1": "Chăm sóc cấp I", "cap-2": "Chăm sóc cấp II", "cap-3": "Chăm sóc cấp III"}
#: Facility panels (DEMO: a facility configures its own): panel name → service codes of the catalogue.
PANELS: dict[str, tuple[str, tuple[str, ...]]] = {
    "sinh-hoa-co-ban": ("Sinh hóa máu cơ bản", ("DEMO.XN02", "DEMO.XN03", "DEMO.XN04", "DEMO.XN05", "DEMO.XN06")),
    "cong-thuc-mau-crp": ("Công thức máu + CRP", ("DEMO.XN01", "DEMO.XN08")),
}
_LAB_WORDS = ("dinh luong", "tong phan tich", "do hoat do", "xet nghiem", "dien giai do", "dinh tinh", "cay ")
_IMAGING_WORDS = ("x quang", "sieu am", "chup", "cat lop", "cong huong tu", "noi soi")


def service_kind(item: ServiceItem) -> str:
    """lab | imaging | other: the BHXH group when the catalogue has it (1 xét nghiệm, 2 CĐHA), else the name."""
    if item.ma_nhom in (1, 2):
        return "lab" if item.ma_nhom == 1 else "imaging"
    name = fold(item.ten_dich_vu) + " "
    if name.startswith(_LAB_WORDS) or " xet nghiem " in name:
        return "lab"
    if any(name.startswith(w) for w in _IMAGING_WORDS):
        return "imaging"
    return "other"


@dataclass(frozen=True, slots=True)
class ServiceOrder:
    id: str
    status: str
    kind: str
    code: str
    name: str
    priority: str
    placer: str
    accession: str
    requisition: str
    note: str
    authored: str


def _requested(codes: Sequence[str], panel: str, services: Catalogue[ServiceItem]) -> list[ServiceItem]:
    wanted = [*PANELS.get(panel, ("", ()))[1], *(c.split(" ")[0] for c in codes if c.strip())]
    items, unknown = [], []
    for code in dict.fromkeys(wanted):
        item = services.lookup(code)
        (items.append(item) if item and service_kind(item) in ("lab", "imaging") else unknown.append(code))
    if unknown or not items:
        raise ClinicalError.one(
            "service",
            "Chọn xét nghiệm/chẩn đoán hình ảnh trong danh mục."
            + (f" Không rõ: {', '.join(unknown)}." if unknown else ""),
            "Choose lab or imaging services from the catalogue."
            + (f" Unknown: {', '.join(unknown)}." if unknown else ""),
        )
    return items


def _service_request(
    item: ServiceItem, kind: str, priority: str, note: str, enc: JsonObj, ctx: RequestContext, facility: str | None
) -> JsonObj:
    snomed = _KIND_SNOMED[kind]
    req: JsonObj = {
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "order",
        "category": [
            {
                "coding": [
                    {"system": SNOMED, "code": snomed[0], "display": snomed[1]},
                    {"system": ORDER_KIND_SYSTEM, "code": kind},
                ]
            }
        ],
        "priority": priority,
        "code": {
            "coding": [catalogue_coding("service", facility, item.ma_dich_vu, item.ten_dich_vu)],
            "text": item.ten_dich_vu,
        },
        "subject": enc["subject"],
        "encounter": {"reference": f"Encounter/{enc['id']}"},
        "authoredOn": now_instant(),
    }
    if note.strip():
        req["note"] = [{"text": note.strip()}]
    if ctx.practitioner_id:
        req["requester"] = {"reference": f"Practitioner/{ctx.practitioner_id}", "display": ctx.username or ""}
    return req


def _ident(type_code: str, system: str, value: str) -> JsonObj:
    return {"type": {"coding": [{"system": V2_0203, "code": type_code}]}, "system": system, "value": value}


async def order_services(
    repo: Repository,
    ctx: RequestContext,
    encounter_id: str,
    *,
    codes: Sequence[str] = (),
    panel: str = "",
    priority: str = "routine",
    note: str = "",
    now: datetime | None = None,
) -> list[str]:
    """Order lab tests and/or imaging (one requisition) from the service catalogue of the facility treating the
    patient; returns the ServiceRequest ids."""
    if priority not in PRIORITIES:
        raise ClinicalError.one("priority", "Chọn mức ưu tiên.", "Choose the priority.")
    facility = await encounter_facility(repo, ctx, (await repo.read(ctx, "Encounter", encounter_id)).json())
    items = _requested(codes, panel, await services_at(repo, ctx, facility))
    now = now or datetime.now(UTC)
    day = local_day(now)
    # Numbers are drawn before the order's transaction (order_common): short locks, gaps rather than duplicates.
    placers = [f"{day:%y%m%d}{await next_number(repo, ctx, 'placer', day):05d}" for _ in items]
    accessions = {
        i: f"{day:%y%m%d}{await next_number(repo, ctx, 'accession', day):04d}"
        for i, item in enumerate(items)
        if service_kind(item) == "imaging"
    }
    ids = []
    async with repo.unit_of_work() as uow:
        enc = (await uow.read(ctx, "Encounter", encounter_id)).json()
        if enc.get("status") != "in-progress":
            raise ClinicalError.one("", "Đợt điều trị đã kết thúc.", "The stay has already ended.")
        for i, item in enumerate(items):
            req = _service_request(item, service_kind(item), priority, note, enc, ctx, facility)
            req["identifier"] = [_ident("PLC", PLACER_SYSTEM, placers[i])]
            if i in accessions:
                req["identifier"].append(_ident("ACSN", ACCESSION_SYSTEM, accessions[i]))
            req["requisition"] = _ident("PGN", REQUISITION_SYSTEM, placers[0])
            ids.append((await uow.create(ctx, req)).resource.id)
        label = "" if priority == "routine" else f" [{PRIORITIES[priority][0]}]"
        lines = [f"{item.ten_dich_vu}{label}" for item in items]
        await write_in_day_note(uow, ctx, enc, [f"ServiceRequest/{i}" for i in ids], lines, now)
    return ids


def service_view(req: JsonObj) -> ServiceOrder:
    idents = {i.get("system"): str(i.get("value", "")) for i in req.get("identifier") or []}
    kind = next(
        (
            c.get("code", "")
            for cat in req.get("category") or []
            for c in cat.get("coding") or []
            if c.get("system") == ORDER_KIND_SYSTEM
        ),
        "",
    )
    return ServiceOrder(
        id=str(req["id"]),
        status=str(req.get("status", "")),
        kind=str(kind),
        code=catalogue_code(req.get("code"), "service") or coding_code(req.get("code"), CARE_SYSTEM) or "",
        name=str((req.get("code") or {}).get("text", "")),
        priority=str(req.get("priority", "routine")),
        placer=idents.get(PLACER_SYSTEM, ""),
        accession=idents.get(ACCESSION_SYSTEM, ""),
        requisition=str((req.get("requisition") or {}).get("value", "")),
        note=" ".join(str(n.get("text", "")) for n in req.get("note") or []),
        authored=str(req.get("authoredOn", "")),
    )


async def order_care(
    repo: Repository,
    ctx: RequestContext,
    encounter_id: str,
    *,
    diet: str = "",
    care_level: str = "",
    monitoring: str = "",
    now: datetime | None = None,
) -> list[str]:
    """Diet (NutritionOrder), nursing care level and vital-sign monitoring (ServiceRequest, category care).
    A new care order of a kind completes the previous one of that kind."""
    errors = []
    if diet and diet not in DIETS:
        errors.append(FieldMessage("diet", "Chọn chế độ ăn.", "Choose a diet."))
    if care_level and care_level not in CARE_LEVELS:
        errors.append(FieldMessage("care_level", "Chọn cấp chăm sóc.", "Choose a care level."))
    timing: JsonObj = {}
    watch = ""
    if monitoring:
        try:
            schedule = parse_frequency(monitoring)
            timing, watch = to_fhir_timing(schedule), f"Theo dõi DHST {describe_vi(schedule)}"
        except FrequencyParseError as exc:
            errors.append(FieldMessage("monitoring", exc.message_vi, exc.message_en))
    if not (diet or care_level or monitoring) and not errors:
        errors.append(FieldMessage("", "Chọn ít nhất một y lệnh chăm sóc.", "Choose at least one care order."))
    if errors:
        raise ClinicalError(*errors)
    now = now or datetime.now(UTC)
    async with repo.unit_of_work() as uow:
        enc = (await uow.read(ctx, "Encounter", encounter_id)).json()
        current = await uow.search_json(ctx, "ServiceRequest", [("encounter", f"Encounter/{encounter_id}")])
        made: list[tuple[str, str]] = []
        if diet:
            made.append(await _diet(uow, ctx, enc, diet, now))
        for key, code, text, extra in (
            ("care", care_level, CARE_LEVELS.get(care_level, ""), {}),
            ("monitoring", "theo-doi" if monitoring else "", watch, {"occurrenceTiming": timing}),
        ):
            if not code:
                continue
            await _complete_care(uow, ctx, current, key)
            req = _care_request(key, code, text, enc, ctx) | extra
            made.append((f"ServiceRequest/{(await uow.create(ctx, req)).resource.id}", text))
        await write_in_day_note(uow, ctx, enc, [r for r, _t in made], [t for _r, t in made], now)
    return [r for r, _t in made]


def _care_request(key: str, code: str, text: str, enc: JsonObj, ctx: RequestContext) -> JsonObj:
    snomed = _KIND_SNOMED["care"]
    req: JsonObj = {
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "order",
        "category": [
            {
                "coding": [
                    {"system": SNOMED, "code": snomed[0], "display": snomed[1]},
                    {"system": ORDER_KIND_SYSTEM, "code": "care"},
                ]
            }
        ],
        "code": {"coding": [{"system": CARE_SYSTEM, "code": code}], "text": text},
        "orderDetail": [{"text": key}],
        "subject": enc["subject"],
        "encounter": {"reference": f"Encounter/{enc['id']}"},
        "authoredOn": now_instant(),
    }
    if ctx.practitioner_id:
        req["requester"] = {"reference": f"Practitioner/{ctx.practitioner_id}"}
    return req


async def _complete_care(repo: Repository, ctx: RequestContext, current: list[JsonObj], key: str) -> None:
    for req in current:
        details = [d.get("text") for d in req.get("orderDetail") or []]
        if req.get("status") == "active" and key in details:
            await repo.update(
                ctx, "ServiceRequest", req["id"], {**req, "status": "completed"}, if_match=int(req["meta"]["versionId"])
            )


async def _diet(repo: Repository, ctx: RequestContext, enc: JsonObj, diet: str, now: datetime) -> tuple[str, str]:
    for old in await repo.search_json(ctx, "NutritionOrder", [("encounter", f"Encounter/{enc['id']}")]):
        if old.get("status") == "active":
            await repo.update(
                ctx, "NutritionOrder", old["id"], {**old, "status": "completed"}, if_match=int(old["meta"]["versionId"])
            )
    order: JsonObj = {
        "resourceType": "NutritionOrder",
        "status": "active",
        "intent": "order",
        "patient": enc["subject"],
        "encounter": {"reference": f"Encounter/{enc['id']}"},
        "dateTime": now_instant(now),
        "oralDiet": {"type": [{"coding": [{"system": CARE_SYSTEM, "code": f"an-{diet}"}], "text": DIETS[diet]}]},
    }
    if ctx.practitioner_id:
        order["orderer"] = {"reference": f"Practitioner/{ctx.practitioner_id}"}
    created = await repo.create(ctx, order)
    return f"NutritionOrder/{created.resource.id}", f"Chế độ ăn: {DIETS[diet]}"


async def record_allergy(
    repo: Repository,
    ctx: RequestContext,
    patient_id: str,
    *,
    substance: str,
    reaction: str = "",
    high_risk: bool = False,
) -> str:
    """A drug allergy as the doctor records it (FHIR R4 allergyintolerance.html); returns its id."""
    if len(substance.strip()) < 2:
        raise ClinicalError.one("substance", "Nhập tên thuốc/hoạt chất gây dị ứng.", "Enter the drug or ingredient.")
    allergy: JsonObj = {
        "resourceType": "AllergyIntolerance",
        "clinicalStatus": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "code": "active"}
            ]
        },
        "verificationStatus": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification", "code": "confirmed"}
            ]
        },
        "type": "allergy",
        "category": ["medication"],
        "criticality": "high" if high_risk else "low",
        "code": {"text": substance.strip()},
        "patient": {"reference": f"Patient/{patient_id}"},
        "recordedDate": now_instant(),
    }
    if reaction.strip():
        allergy["reaction"] = [{"manifestation": [{"text": reaction.strip()}]}]
    if ctx.practitioner_id:
        allergy["recorder"] = {"reference": f"Practitioner/{ctx.practitioner_id}"}
    return (await repo.create(ctx, allergy)).resource.id


async def encounter_services(repo: Repository, ctx: RequestContext, encounter_id: str) -> list[ServiceOrder]:
    found = await repo.search_json(ctx, "ServiceRequest", [("encounter", f"Encounter/{encounter_id}")])
    views = [service_view(r) for r in found]
    views.sort(key=lambda v: (v.status != "active", v.authored), reverse=False)
    return views


async def close_encounter_orders(repo: Repository, ctx: RequestContext, encounter_id: str, when: str) -> int:
    """At discharge: open medication orders → ``completed`` (their schedules end now), care orders and the diet →
    ``completed``. Lab and imaging requests stay open: their results may arrive after the patient leaves.
    Returns how many orders were closed."""
    enc_ref = f"Encounter/{encounter_id}"
    closed = 0
    for req in await repo.search_json(ctx, "MedicationRequest", [("encounter", enc_ref)]):
        if req.get("status") in OPEN_STATUSES:
            req["status"] = "completed"
            req["statusReason"] = {"text": "Ra viện"}
            for d in req.get("dosageInstruction") or []:
                d.setdefault("timing", {}).setdefault("repeat", {}).setdefault("boundsPeriod", {})["end"] = when
            await repo.update(ctx, "MedicationRequest", req["id"], req, if_match=int(req["meta"]["versionId"]))
            closed += 1
    for type_ in ("ServiceRequest", "NutritionOrder"):
        for res in await repo.search_json(ctx, type_, [("encounter", enc_ref)]):
            care = type_ == "NutritionOrder" or service_view(res).kind == "care"
            if care and res.get("status") == "active":
                await repo.update(
                    ctx, type_, res["id"], {**res, "status": "completed"}, if_match=int(res["meta"]["versionId"])
                )
                closed += 1
    return closed


def patient_of(enc: JsonObj) -> str:
    return ref_id(enc.get("subject"), "Patient") or ""
