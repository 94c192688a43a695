"""Issue 7 use-cases against real PostgreSQL: medication orders with safety alerts and audited overrides, lab
and imaging orders with their numbers (also under concurrency), care orders, the nurses' daily summary with
changes after generation, the eMAR rights checks, and discharge with its paper closing the orders."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from benhan.clinical import (
    adt,
    discharge_papers,
    emar,
    order_common,
    orders,
    registration,
    service_orders,
    summary,
)
from benhan.clinical.demo_wards import create_demo_wards
from benhan.clinical.facility import bed_map
from benhan.clinical.records import ClinicalError, identifier
from benhan.fhir.search import systems
from benhan.kernel.clock import VN_TZ
from benhan.kernel.context import RequestContext

CTX = RequestContext.system("test")
MORNING = datetime(2030, 3, 10, 7, 30, tzinfo=VN_TZ)  # a fixed day so dose times are known


async def _stay(
    repo: Any, name: str = "Trần Thị Hoa", sex: str = "female", born: date = date(1990, 4, 15)
) -> dict[str, Any]:
    wards = await create_demo_wards(repo, CTX)
    form = registration.RegistrationForm(full_name=name, birth_date=born, sex=sex)
    pid = await registration.register_patient(repo, CTX, form)
    bed = next(b for b in await bed_map(repo, CTX, wards["icu"].id) if b.state == "free")
    enc = await adt.admit(repo, CTX, pid, department_id=wards["icu"].id, bed_id=bed.id)
    patient = (await repo.read(CTX, "Patient", pid)).json()
    return {"pid": pid, "enc": enc, "dept": wards["icu"].id, "code": identifier(patient, systems.MA_BN)}


def _order(code: str, freq: str, **kw: Any) -> orders.MedicationOrderInput:
    return orders.MedicationOrderInput(drug_code=code, frequency=freq, start=MORNING - timedelta(hours=1), **kw)


async def test_medication_order_alerts_override_and_progress_note(repo: Any) -> None:
    s = await _stay(repo)
    await service_orders.record_allergy(repo, CTX, s["pid"], substance="Penicilin", reaction="Mày đay")
    para = await orders.order_medication(
        repo, CTX, s["enc"], _order("DEMO.0001", "sáng 1 viên, chiều 1 viên"), now=MORNING
    )
    with pytest.raises(orders.OrderAlerts) as caught:
        await orders.order_medication(
            repo, CTX, s["enc"], _order("DEMO.0003", "ngày 2 lần, mỗi lần 1 viên"), now=MORNING
        )
    [(key, alert)] = caught.value.alerts
    assert alert.code == "ALGY"
    assert "Penicilin" in alert.message_vi
    amox = await orders.order_medication(
        repo,
        CTX,
        s["enc"],
        _order("DEMO.0003", "ngày 2 lần, mỗi lần 1 viên"),
        overrides={key: "Đã test da âm tính"},
        now=MORNING,
    )
    issues = await repo.search_json(CTX, "DetectedIssue", [("patient", f"Patient/{s['pid']}")])
    assert len(issues) == 1
    assert issues[0]["implicated"][0]["reference"] == f"MedicationRequest/{amox}"
    assert issues[0]["mitigation"][0]["action"]["text"] == "Đã test da âm tính"
    with pytest.raises(orders.OrderAlerts) as dup:  # same ingredient as the paracetamol tablets
        await orders.order_medication(
            repo, CTX, s["enc"], _order("DEMO.0002", "khi sốt, tối đa 4 lần/ngày", dose="1"), now=MORNING
        )
    assert [a.code for _k, a in dup.value.alerts] == ["DUPTHPY"]
    with pytest.raises(orders.OrderAlerts) as sex:  # tamsulosin is contraindicated for women in the catalogue
        await orders.order_medication(repo, CTX, s["enc"], _order("DEMO.0025", "tối 1 viên"), now=MORNING)
    assert [a.code for _k, a in sex.value.alerts] == ["GEND"]
    with pytest.raises(ClinicalError) as bad:
        await orders.order_medication(repo, CTX, s["enc"], _order("NOPE", "ngày 7x"), now=MORNING)
    assert {"drug", "frequency"} <= set(bad.value.by_field("vi"))
    notes = await repo.search_json(CTX, "Composition", [("encounter", f"Encounter/{s['enc']}")])
    assert len(notes) == 1  # one progress note of the day holds every order
    refs = [e["reference"] for sec in notes[0]["section"] for e in sec.get("entry", [])]
    assert refs == [f"MedicationRequest/{para}", f"MedicationRequest/{amox}"]
    views = await orders.encounter_medications(repo, CTX, s["enc"])
    assert {v.drug_code for v in views} == {"DEMO.0001", "DEMO.0003"}


async def test_change_renew_stop(repo: Any) -> None:
    s = await _stay(repo)
    first = await orders.order_medication(repo, CTX, s["enc"], _order("DEMO.0009", "sáng 1 viên"), now=MORNING)
    changed = await orders.order_medication(
        repo, CTX, s["enc"], _order("DEMO.0009", "sáng 1 viên, tối 1 viên"), replaces=first, now=MORNING
    )  # no duplicate alert against the order it replaces
    old = (await repo.read(CTX, "MedicationRequest", first)).json()
    new = (await repo.read(CTX, "MedicationRequest", changed)).json()
    assert old["status"] == "stopped"
    assert new["priorPrescription"]["reference"] == f"MedicationRequest/{first}"
    with pytest.raises(ClinicalError):
        await orders.stop_medication(repo, CTX, changed, reason="")
    await orders.stop_medication(repo, CTX, changed, reason="Hết đau dạ dày", now=MORNING)
    stopped = (await repo.read(CTX, "MedicationRequest", changed)).json()
    assert stopped["status"] == "stopped"
    assert stopped["dosageInstruction"][0]["timing"]["repeat"]["boundsPeriod"]["end"].startswith("2030-03-10T00:30")


async def test_service_numbers_are_unique_under_concurrency(repo: Any) -> None:
    day = date(2030, 3, 10)
    numbers = await asyncio.gather(*(order_common.next_number(repo, CTX, "accession", day) for _ in range(12)))
    assert sorted(numbers) == list(range(1, 13))
    s = await _stay(repo)
    ids = await service_orders.order_services(
        repo,
        CTX,
        s["enc"],
        panel="sinh-hoa-co-ban",
        codes=["DEMO.CD01"],
        priority="urgent",
        note="Sốt, ho",
        now=MORNING,
    )
    views = await service_orders.encounter_services(repo, CTX, s["enc"])
    assert len(ids) == len(views) == 6
    assert len({v.placer for v in views}) == 6
    assert len({v.requisition for v in views}) == 1
    xray = [v for v in views if v.code == "DEMO.CD01"]
    assert xray[0].kind == "imaging"
    assert xray[0].accession == "3003100013"
    assert all(v.accession == "" for v in views if v.kind == "lab")
    with pytest.raises(ClinicalError):
        await service_orders.order_services(repo, CTX, s["enc"], codes=["DEMO.KB01"])  # not lab or imaging
    care = await service_orders.order_care(repo, CTX, s["enc"], diet="chao", care_level="cap-1", monitoring="mỗi 4 giờ")
    assert len(care) == 3


async def test_summary_totals_snapshot_and_changes(repo: Any) -> None:
    s = await _stay(repo)
    para = await orders.order_medication(
        repo, CTX, s["enc"], _order("DEMO.0001", "ngày 3 lần, mỗi lần 1000 mg"), now=MORNING
    )
    await orders.order_medication(repo, CTX, s["enc"], _order("DEMO.0005", "ngày 2 lần", dose="1"), now=MORNING)
    day = MORNING.date()
    gen = await summary.generate_summary(repo, CTX, s["dept"], day, now=MORNING)
    [block] = gen.patients
    totals = {t.code: t.quantity for t in gen.totals}
    assert totals == {"DEMO.0001": Decimal(6), "DEMO.0005": Decimal(2)}  # 3 × 1000 mg = 6 tablets of 500 mg
    para_line = next(line for line in block.lines if line.order.id == para)
    assert [t.strftime("%H:%M") for t in para_line.times] == ["08:00", "14:00", "20:00"]
    assert not gen.changes
    assert gen.version == 1
    await orders.stop_medication(repo, CTX, para, reason="Hết sốt", now=MORNING + timedelta(minutes=5))
    await orders.order_medication(repo, CTX, s["enc"], _order("DEMO.0009", "sáng 1 viên"), now=MORNING)
    now = await summary.daily_summary(repo, CTX, s["dept"], day)
    assert {(line.order.drug_code, line.change) for _p, line in now.changes} == {
        ("DEMO.0001", "stopped"),
        ("DEMO.0009", "new"),
    }
    delta = {t.code: t.delta for t in now.totals}
    assert delta == {"DEMO.0001": Decimal(-6), "DEMO.0005": Decimal(0), "DEMO.0009": Decimal(1)}
    again = await summary.generate_summary(repo, CTX, s["dept"], day, now=MORNING)
    assert again.version == 2
    assert not again.changes


async def test_emar_rights_and_record(repo: Any) -> None:
    s = await _stay(repo)
    other = await _stay(repo, name="Phạm Văn Bình", sex="male", born=date(1960, 1, 1))
    req = await orders.order_medication(
        repo, CTX, s["enc"], _order("DEMO.0001", "sáng 1 viên, chiều 1 viên"), now=MORNING
    )
    at = datetime(2030, 3, 10, 8, tzinfo=VN_TZ)
    shift, rows = await emar.shift_list(repo, CTX, s["dept"], now=MORNING)
    mine = next(r for r in rows if r.encounter_id == s["enc"])
    assert shift == "morning"
    assert [(d.at, d.state) for d in mine.doses] == [(at, "due")]
    assert await emar.find_by_wristband(repo, CTX, s["code"], s["dept"]) == s["enc"]
    wrong = emar.DoseRecord(req, "given", scanned_patient=other["code"], scheduled=at)
    with pytest.raises(ClinicalError) as refused:
        await emar.record_dose(repo, CTX, s["enc"], wrong)
    assert "SAI BỆNH NHÂN" in refused.value.by_field("vi")["scanned_patient"]
    with pytest.raises(ClinicalError) as drug:
        await emar.record_dose(
            repo, CTX, s["enc"], emar.DoseRecord(req, "given", scanned_patient=s["code"], scanned_drug="DEMO.0003")
        )
    assert "SAI THUỐC" in drug.value.by_field("vi")["scanned_drug"]
    with pytest.raises(ClinicalError):  # the order belongs to another stay
        await emar.record_dose(repo, CTX, other["enc"], emar.DoseRecord(req, "given", patient_confirmed=True))
    ok = emar.DoseRecord(req, "given", scanned_patient=s["code"], scanned_drug="DEMO.0001", scheduled=at)
    admin = await emar.record_dose(repo, CTX, s["enc"], ok, now=MORNING)
    stored = (await repo.read(CTX, "MedicationAdministration", admin)).json()
    assert stored["request"]["reference"] == f"MedicationRequest/{req}"
    assert stored["status"] == "completed"
    with pytest.raises(ClinicalError):
        await emar.record_dose(repo, CTX, s["enc"], ok, now=MORNING)  # twice the same dose
    _shift, rows = await emar.shift_list(repo, CTX, s["dept"], now=MORNING)
    assert next(r for r in rows if r.encounter_id == s["enc"]).doses[0].state == "given"


async def test_discharge_paper_closes_orders(repo: Any) -> None:
    s = await _stay(repo)
    from benhan.clinical import diagnoses

    await diagnoses.add_diagnosis(repo, CTX, s["enc"], "J18.9", main=True)
    req = await orders.order_medication(repo, CTX, s["enc"], _order("DEMO.0001", "sáng 1 viên"))
    lab = await service_orders.order_services(repo, CTX, s["enc"], codes=["DEMO.XN01"])
    await service_orders.order_care(repo, CTX, s["enc"], diet="thuong")
    defaults = await discharge_papers.paper_defaults(repo, CTX, s["enc"])
    assert defaults["admission_codes"] == "J18.9"
    assert "Paracetamol" in defaults["treatment"]
    paper = discharge_papers.DischargePaperInput(
        admission_codes=defaults["admission_codes"],
        discharge_codes="J18.9, I10",
        treatment=defaults["treatment"],
        medications="Paracetamol 500mg: sáng 1 viên × 3 ngày",
        follow_up=datetime.now(UTC).date() + timedelta(days=7),
    )
    with pytest.raises(ClinicalError) as bad:
        await discharge_papers.discharge_with_paper(
            repo, CTX, s["enc"], discharge_papers.DischargePaperInput("X99.99", "", ""), discharge_type="improved"
        )
    assert {"admission_codes", "discharge_codes", "treatment"} <= set(bad.value.by_field("vi"))
    await discharge_papers.discharge_with_paper(repo, CTX, s["enc"], paper, discharge_type="improved")
    assert (await repo.read(CTX, "MedicationRequest", req)).json()["status"] == "completed"
    assert (await repo.read(CTX, "ServiceRequest", lab[0])).json()["status"] == "active"  # results may still come
    diet = await repo.search_json(CTX, "NutritionOrder", [("encounter", f"Encounter/{s['enc']}")])
    assert diet[0]["status"] == "completed"
    printed = await discharge_papers.discharge_paper(repo, CTX, s["enc"])
    assert printed is not None
    assert "I10" in printed.sections["discharge-diagnosis"]
    assert printed.sections["result"] == "Đỡ, ra viện"
    assert len(await repo.search_json(CTX, "Appointment", [("patient", f"Patient/{s['pid']}")])) == 1
    summary_ = await discharge_papers.transfer_summary(repo, CTX, s["enc"])
    assert summary_.diagnoses[0].code == "J18.9"
    assert summary_.medications[0].status == "completed"
