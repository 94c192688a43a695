"""Visits and admission, transfer, discharge (ADT) as FHIR R4 Encounters with their location history.

- An outpatient visit is an ``AMB`` Encounter in a clinic room with a queue number for that room and day; an
  emergency visit is ``EMER``; an admission is ``IMP`` with the department as ``serviceProvider`` and the bed
  as the ``active`` location (FHIR R4 encounter.html#location: earlier beds stay, ``completed``, with periods).
- Each use-case owns its transaction (``repo.unit_of_work()``). Writing the bed first locks it, so two
  admissions to one bed are serialised and the second sees the first (READ COMMITTED re-reads per statement).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from benhan.clinical.facility import current_location, set_bed_status
from benhan.clinical.order_common import next_number
from benhan.clinical.records import (
    ACT_CODE,
    BASE,
    QUEUE_NUMBER_URL,
    ClinicalError,
    FieldMessage,
    JsonObj,
    NeedsConfirmation,
    Ref,
    now_instant,
    patient_name,
    ref_id,
    today_vn,
)
from benhan.clinical.service_orders import close_encounter_orders
from benhan.fhir.search import systems
from benhan.fhir.storage.protocol import Repository
from benhan.kernel.context import RequestContext

DISPOSITION_SYSTEM = "http://terminology.hl7.org/CodeSystem/discharge-disposition"
RESULT_SYSTEM = f"{BASE}/CodeSystem/ket-qua-dieu-tri"  # QĐ 4750 XML1 KET_QUA_DTRI
DISCHARGE_STATUS_SYSTEM = f"{BASE}/CodeSystem/tinh-trang-ra-vien"  # QĐ 4750 XML1 TINH_TRANG_RV


@dataclass(frozen=True, slots=True)
class DischargeType:
    code: str
    name_vi: str
    name_en: str
    fhir: str  # discharge-disposition code
    result: str  # KET_QUA_DTRI: 1 khỏi, 2 đỡ, 3 không thay đổi, 4 nặng hơn, 5 tử vong
    status: str  # TINH_TRANG_RV: 1 ra viện, 2 chuyển viện, 3 trốn viện, 4 xin ra viện


DISCHARGE_TYPES: dict[str, DischargeType] = {
    t.code: t
    for t in (
        DischargeType("recovered", "Khỏi, ra viện", "Recovered, discharged home", "home", "1", "1"),
        DischargeType("improved", "Đỡ, ra viện", "Improved, discharged home", "home", "2", "1"),
        DischargeType("unchanged", "Không thay đổi, ra viện", "Unchanged, discharged home", "home", "3", "1"),
        DischargeType("transferred", "Chuyển viện", "Transferred to another hospital", "other-hcf", "3", "2"),
        DischargeType(
            "against-advice", "Xin ra viện (trái lời khuyên)", "Left against medical advice", "aadvice", "3", "4"
        ),
        DischargeType("absconded", "Trốn viện", "Absconded", "oth", "3", "3"),
        DischargeType("deceased", "Tử vong", "Deceased", "exp", "5", "1"),
    )
}


@dataclass(frozen=True, slots=True)
class Visit:
    encounter_id: str
    queue_number: int | None = None


def _location_entry(loc: Ref, physical: str, when: str) -> JsonObj:
    return {
        "location": loc.json(),
        "status": "active",
        "period": {"start": when},
        "physicalType": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/location-physical-type", "code": physical}]
        },
    }


def _encounter(patient: JsonObj, cls: str, dept: Ref, when: str) -> JsonObj:
    display = {"AMB": "ambulatory", "EMER": "emergency", "IMP": "inpatient encounter"}[cls]
    return {
        "resourceType": "Encounter",
        "status": "in-progress",
        "class": {"system": ACT_CODE, "code": cls, "display": display},
        "identifier": [{"system": systems.MA_LK, "value": f"{today_vn():%y%m%d}{patient['id'][:8]}{cls}"}],
        "subject": Ref("Patient", patient["id"], patient_name(patient)).json(),
        "serviceProvider": dept.json(),
        "period": {"start": when},
    }


async def _dept_of(repo: Repository, ctx: RequestContext, location: JsonObj) -> Ref:
    dept_id = ref_id(location.get("managingOrganization"), "Organization")
    if not dept_id:
        raise ClinicalError.one("location", "Phòng/giường chưa gắn với khoa.", "The room or bed has no department.")
    org = (await repo.read(ctx, "Organization", dept_id)).json()
    return Ref("Organization", dept_id, str(org.get("name", "")))


async def open_visit(repo: Repository, ctx: RequestContext, patient_id: str, *, kind: str, room_id: str) -> Visit:
    """An outpatient visit in a clinic room (with the room's next queue number today) or an emergency visit."""
    if kind not in ("outpatient", "emergency"):
        raise ClinicalError.one("kind", "Chọn loại lượt khám.", "Choose the kind of visit.")
    # The room's number for today comes from a per-day counter (unique even when two receptionists draw at
    # the same moment); it is drawn before the visit's own transaction, so a failed visit leaves a gap.
    number = await next_number(repo, ctx, f"queue-{room_id}", today_vn()) if kind == "outpatient" else None
    async with repo.unit_of_work() as uow:
        patient = (await uow.read(ctx, "Patient", patient_id)).json()
        room = (await uow.read(ctx, "Location", room_id)).json()
        dept = await _dept_of(uow, ctx, room)
        when = now_instant()
        enc = _encounter(patient, "AMB" if kind == "outpatient" else "EMER", dept, when)
        enc["location"] = [_location_entry(Ref("Location", room_id, str(room.get("name", ""))), "ro", when)]
        if number is not None:
            enc["extension"] = [{"url": QUEUE_NUMBER_URL, "valueInteger": number}]
        else:
            enc["priority"] = {"coding": [{"system": ACT_CODE, "code": "EM", "display": "emergency"}]}
        created = (await uow.create(ctx, enc)).resource
    return Visit(created.id, number)


async def _check_bed(repo: Repository, ctx: RequestContext, bed_id: str, dept_id: str, confirmed: bool) -> JsonObj:
    """Lock the bed (by writing it) and make sure nobody lies in it."""
    bed = (await repo.read(ctx, "Location", bed_id)).json()
    if ref_id(bed.get("managingOrganization"), "Organization") != dept_id:
        raise ClinicalError.one("bed", "Giường không thuộc khoa đã chọn.", "The bed is not in the chosen department.")
    cleaning = (bed.get("operationalStatus") or {}).get("code") == "H"
    await set_bed_status(repo, ctx, bed_id, "O")
    for enc in await repo.search_json(
        ctx, "Encounter", [("location", f"Location/{bed_id}"), ("status", "in-progress")]
    ):
        loc = current_location(enc)
        if loc and ref_id(loc.get("location"), "Location") == bed_id:
            raise ClinicalError.one("bed", "Giường đang có bệnh nhân.", "The bed is occupied.")
    if cleaning and not confirmed:
        raise NeedsConfirmation(
            FieldMessage(
                "bed", "Giường đang được dọn. Vẫn xếp vào giường này?", "The bed is being cleaned. Use it anyway?"
            )
        )
    return bed


async def admit(
    repo: Repository,
    ctx: RequestContext,
    patient_id: str,
    *,
    department_id: str,
    bed_id: str,
    from_encounter_id: str | None = None,
    confirmed: bool = False,
) -> str:
    """Admit to a department and bed; finishes the outpatient/emergency visit it came from. Returns the id."""
    async with repo.unit_of_work() as uow:
        patient = (await uow.read(ctx, "Patient", patient_id)).json()
        stays = await uow.search_json(
            ctx, "Encounter", [("subject", f"Patient/{patient_id}"), ("status", "in-progress"), ("class", "IMP")]
        )
        if stays:
            raise ClinicalError.one("", "Bệnh nhân đang nằm viện.", "The patient is already admitted.")
        bed = await _check_bed(uow, ctx, bed_id, department_id, confirmed)
        org = (await uow.read(ctx, "Organization", department_id)).json()
        when = now_instant()
        enc = _encounter(patient, "IMP", Ref("Organization", department_id, str(org.get("name", ""))), when)
        enc["location"] = [_location_entry(Ref("Location", bed_id, str(bed.get("name", ""))), "bd", when)]
        enc["hospitalization"] = {
            "admitSource": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/admit-source",
                        "code": "emd" if from_encounter_id else "other",
                    }
                ]
            }
        }
        if from_encounter_id:
            enc["partOf"] = {"reference": f"Encounter/{from_encounter_id}"}
            await _finish(uow, ctx, from_encounter_id, when)
        created = (await uow.create(ctx, enc)).resource
    return created.id


async def _finish(repo: Repository, ctx: RequestContext, encounter_id: str, when: str) -> None:
    stored = await repo.read(ctx, "Encounter", encounter_id)
    enc = stored.json()
    if enc.get("status") in ("finished", "cancelled", "entered-in-error"):
        return
    _close(enc, when)
    await repo.update(ctx, "Encounter", encounter_id, enc, if_match=stored.version)


def _close(enc: JsonObj, when: str) -> None:
    enc["status"] = "finished"
    enc.setdefault("period", {})["end"] = when
    _end_locations(enc, when)


def _end_locations(enc: JsonObj, when: str) -> None:
    for entry in enc.get("location") or []:
        if entry.get("status") == "active":
            entry["status"] = "completed"
            entry.setdefault("period", {})["end"] = when


async def _open_stay(repo: Repository, ctx: RequestContext, encounter_id: str) -> tuple[JsonObj, int, str]:
    stored = await repo.read(ctx, "Encounter", encounter_id)
    enc = stored.json()
    if enc.get("status") != "in-progress":
        raise ClinicalError.one("", "Đợt điều trị đã kết thúc.", "The stay has already ended.")
    loc = current_location(enc)
    return enc, stored.version, (ref_id(loc.get("location"), "Location") or "") if loc else ""


async def transfer(
    repo: Repository,
    ctx: RequestContext,
    encounter_id: str,
    *,
    department_id: str,
    bed_id: str,
    confirmed: bool = False,
) -> None:
    """Move an inpatient to another bed, in the same or another department; the old bed goes to cleaning."""
    async with repo.unit_of_work() as uow:
        enc, version, old_bed = await _open_stay(uow, ctx, encounter_id)
        if old_bed == bed_id:
            raise ClinicalError.one("bed", "Bệnh nhân đã nằm ở giường này.", "The patient is already in this bed.")
        bed = await _check_bed(uow, ctx, bed_id, department_id, confirmed)
        when = now_instant()
        _end_locations(enc, when)
        enc.setdefault("location", []).append(
            _location_entry(Ref("Location", bed_id, str(bed.get("name", ""))), "bd", when)
        )
        org = (await uow.read(ctx, "Organization", department_id)).json()
        enc["serviceProvider"] = Ref("Organization", department_id, str(org.get("name", ""))).json()
        await uow.update(ctx, "Encounter", encounter_id, enc, if_match=version)
        if old_bed:
            await set_bed_status(uow, ctx, old_bed, "H")


async def discharge(
    repo: Repository,
    ctx: RequestContext,
    encounter_id: str,
    *,
    discharge_type: str,
    when: datetime | None = None,
) -> None:
    """End the stay with its type (→ ``hospitalization.dischargeDisposition``); the bed goes to cleaning and
    the open medication and care orders are completed (``service_orders.close_encounter_orders``)."""
    kind = DISCHARGE_TYPES.get(discharge_type)
    if kind is None:
        raise ClinicalError.one("discharge_type", "Chọn hình thức ra viện.", "Choose the discharge type.")
    async with repo.unit_of_work() as uow:
        enc, version, bed_id = await _open_stay(uow, ctx, encounter_id)
        at = now_instant(when)
        enc.setdefault("hospitalization", {})["dischargeDisposition"] = {
            "coding": [
                {"system": DISPOSITION_SYSTEM, "code": kind.fhir},
                {"system": RESULT_SYSTEM, "code": kind.result},
                {"system": DISCHARGE_STATUS_SYSTEM, "code": kind.status},
            ],
            "text": kind.name_vi,
        }
        _close(enc, at)
        await uow.update(ctx, "Encounter", encounter_id, enc, if_match=version)
        if bed_id:
            await set_bed_status(uow, ctx, bed_id, "H")
        # Issue 7: the stay's medication and care orders end with it (lab/imaging stay open for late results).
        await close_encounter_orders(uow, ctx, encounter_id, at)
