"""Clinical use-cases against real PostgreSQL: registration, ADT with the bed map, diagnoses, vitals, notes,
the department board and the chart."""

from __future__ import annotations

from datetime import date

import pytest

from benhan.clinical import adt, board, chart, diagnoses, facility, notes, registration, vitals
from benhan.clinical.records import ClinicalError, NeedsConfirmation
from benhan.fhir.storage.pg.repository import PgRepository
from benhan.kernel.context import RequestContext

CTX = RequestContext(username="bs.an", roles=frozenset({"doctor"}))
QR = "001090001234|123456789|Nguyễn Văn An|01021990|Nam|12 Hàng Bài, Hoàn Kiếm, Hà Nội|15082021"


async def _setup(repo: PgRepository) -> tuple[facility.Department, facility.Department, facility.Department]:
    icu = await facility.create_department(
        repo, CTX, name="Khoa Hồi sức", rooms=[("Phòng 1", ["Giường 1", "Giường 2"])]
    )
    med = await facility.create_department(repo, CTX, name="Khoa Nội", rooms=[("Phòng 2", ["Giường 1", "Giường 2"])])
    opd = await facility.create_department(
        repo, CTX, name="Khoa Khám bệnh", kind="outpatient", rooms=[("Phòng khám 1", [])]
    )
    return icu, med, opd


async def test_register_finds_and_guards_duplicates(repo: PgRepository) -> None:
    form, _ = registration.form_from_qr(QR, today=date(2025, 1, 1))
    pid = await registration.register_patient(repo, CTX, form)
    assert [p.id for p in await registration.find_patients(repo, CTX, "nguyen van an")] == [pid]
    assert [p.id for p in await registration.find_patients(repo, CTX, "Nguyễn An")] == [pid]
    assert [p.id for p in await registration.find_patients(repo, CTX, "001090001234")] == [pid]
    assert [p.id for p in await registration.find_patients(repo, CTX, "01/02/1990")] == [pid]
    assert await registration.find_patients(repo, CTX, "tran") == []
    with pytest.raises(registration.DuplicateFound) as same_cccd:
        await registration.register_patient(repo, CTX, form, confirmed=True)
    assert same_cccd.value.hard
    assert same_cccd.value.candidates[0].reason == "cccd"
    similar = registration.RegistrationForm(full_name="NGUYEN VAN AN", birth_date=date(1990, 2, 1), sex="male")
    with pytest.raises(registration.DuplicateFound) as by_name:
        await registration.register_patient(repo, CTX, similar)
    assert not by_name.value.hard
    assert by_name.value.candidates[0].reason == "name-birthdate"
    other = await registration.register_patient(repo, CTX, similar, confirmed=True)
    assert other != pid


async def test_register_refuses_bad_fields_and_checks_bhyt(repo: PgRepository) -> None:
    bad = registration.RegistrationForm(full_name="An 2", birth_date=None, sex="x", bhyt_number="XX123")
    with pytest.raises(ClinicalError) as exc:
        await registration.register_patient(repo, CTX, bad)
    fields = exc.value.by_field("vi")
    assert {"full_name", "birth_date", "sex", "bhyt_number"} <= set(fields)
    good = registration.RegistrationForm(
        full_name="Trần Thị Bình",
        birth_date=date(1985, 5, 6),
        sex="female",
        bhyt_number="DN4010123456789",
        bhyt_valid_from=date(2024, 1, 1),
        bhyt_valid_to=date(2099, 12, 31),
        bhyt_facility="01001",
    )
    pid = await registration.register_patient(repo, CTX, good)
    cov = await repo.search_json(CTX, "Coverage", [("beneficiary", f"Patient/{pid}")])
    assert cov[0]["class"][0]["value"] == "4"
    assert [p.id for p in await registration.find_patients(repo, CTX, "DN4010123456789")] == [pid]


async def test_visit_admit_transfer_discharge_and_bed_map(repo: PgRepository) -> None:
    icu, med, opd = await _setup(repo)
    form, _ = registration.form_from_qr(QR, today=date(2025, 1, 1))
    pid = await registration.register_patient(repo, CTX, form)
    room = next(iter(await facility.department_locations(repo, CTX, opd.id)))
    v1 = await adt.open_visit(repo, CTX, pid, kind="outpatient", room_id=room["id"])
    assert v1.queue_number == 1
    beds = await facility.bed_map(repo, CTX, icu.id)
    assert [b.state for b in beds] == ["free", "free"]
    enc = await adt.admit(repo, CTX, pid, department_id=icu.id, bed_id=beds[0].id, from_encounter_id=v1.encounter_id)
    beds = await facility.bed_map(repo, CTX, icu.id)
    assert [(b.state, b.patient_name) for b in beds] == [("occupied", "Nguyễn Văn An"), ("free", "")]
    first = (await repo.read(CTX, "Encounter", v1.encounter_id)).json()
    assert first["status"] == "finished"
    with pytest.raises(ClinicalError):
        await adt.admit(repo, CTX, pid, department_id=icu.id, bed_id=beds[1].id)
    med_beds = await facility.bed_map(repo, CTX, med.id)
    await adt.transfer(repo, CTX, enc, department_id=med.id, bed_id=med_beds[1].id)
    assert [b.state for b in await facility.bed_map(repo, CTX, icu.id)] == ["cleaning", "free"]
    assert [b.state for b in await facility.bed_map(repo, CTX, med.id)] == ["free", "occupied"]
    stay = (await repo.read(CTX, "Encounter", enc)).json()
    assert [loc["status"] for loc in stay["location"]] == ["completed", "active"]
    assert stay["serviceProvider"]["reference"] == f"Organization/{med.id}"
    await adt.discharge(repo, CTX, enc, discharge_type="recovered")
    stay = (await repo.read(CTX, "Encounter", enc)).json()
    assert stay["status"] == "finished"
    assert stay["hospitalization"]["dischargeDisposition"]["coding"][0]["code"] == "home"
    assert [b.state for b in await facility.bed_map(repo, CTX, med.id)] == ["free", "cleaning"]
    with pytest.raises(NeedsConfirmation):
        await adt.admit(repo, CTX, pid, department_id=icu.id, bed_id=beds[0].id)
    await adt.admit(repo, CTX, pid, department_id=icu.id, bed_id=beds[0].id, confirmed=True)


async def test_diagnosis_vitals_notes_board_and_chart(repo: PgRepository) -> None:
    icu, _med, _opd = await _setup(repo)
    form, _ = registration.form_from_qr(QR, today=date(2025, 1, 1))
    pid = await registration.register_patient(repo, CTX, form)
    beds = await facility.bed_map(repo, CTX, icu.id)
    enc = await adt.admit(repo, CTX, pid, department_id=icu.id, bed_id=beds[0].id)
    with pytest.raises(ClinicalError):
        await diagnoses.add_diagnosis(repo, CTX, enc, "ZZ99.9", main=True)
    with pytest.raises(NeedsConfirmation):  # pregnancy code for a man: a sex rule
        await diagnoses.add_diagnosis(repo, CTX, enc, "O80", main=True)
    await diagnoses.add_diagnosis(repo, CTX, enc, "I10", main=True)
    await diagnoses.add_diagnosis(repo, CTX, enc, "J18.9", main=True)
    with pytest.raises(ClinicalError):
        await vitals.record_vitals(repo, CTX, enc, vitals.VitalsInput({"temperature": 375}))
    with pytest.raises(NeedsConfirmation):
        await vitals.record_vitals(repo, CTX, enc, vitals.VitalsInput({"pulse": 190}))
    calm = {"pulse": 80, "systolic": 120, "diastolic": 80, "temperature": 37, "respiration": 16, "spo2": 98}
    await vitals.record_vitals(repo, CTX, enc, vitals.VitalsInput(calm))
    row = (await board.department_board(repo, CTX, icu.id)).rows[0]
    assert row.vitals.news2 is not None
    assert row.vitals.news2.total == 0
    assert not row.alert
    assert (row.diagnosis_code, row.bed, row.days) == ("J18.9", "Giường 1", 0)
    sick = {"pulse": 125, "systolic": 95, "diastolic": 60, "temperature": 39.2, "respiration": 26, "spo2": 91}
    await vitals.record_vitals(repo, CTX, enc, vitals.VitalsInput(sick, on_oxygen=True), confirmed=True)
    result = await board.department_board(repo, CTX, icu.id)
    assert result.rows[0].vitals.news2 is not None
    assert result.rows[0].vitals.news2.total >= 7
    assert result.alerts == result.rows
    await notes.add_progress_note(repo, CTX, enc, progress="Sốt cao <39°C> & khó thở", orders="Thở oxy 3 l/ph")
    view = await chart.patient_chart(repo, CTX, pid)
    assert [d.code for d in view.diagnoses] == ["J18.9", "I10"]
    assert view.diagnoses[0].main
    assert view.notes[0].progress == "Sốt cao <39°C> & khó thở"
    assert view.notes[0].author == "bs.an"
    assert [v for _t, v in view.trend["pulse"]] == [80, 125]
    assert view.current is not None
    assert view.current.location == "Giường 1"


async def test_queue_numbers_are_unique_when_drawn_at_once(repo: PgRepository) -> None:
    import asyncio

    _icu, _med, opd = await _setup(repo)
    form, _ = registration.form_from_qr(QR, today=date(2025, 1, 1))
    pid = await registration.register_patient(repo, CTX, form)
    room = next(iter(await facility.department_locations(repo, CTX, opd.id)))
    visits = await asyncio.gather(
        *(adt.open_visit(repo, CTX, pid, kind="outpatient", room_id=room["id"]) for _ in range(6))
    )
    assert sorted(v.queue_number for v in visits) == [1, 2, 3, 4, 5, 6]
    emergency = await adt.open_visit(repo, CTX, pid, kind="emergency", room_id=room["id"])
    assert emergency.queue_number is None


async def test_chart_trend_is_the_current_stay_or_else_the_last_week(repo: PgRepository) -> None:
    """An inpatient's trend is of the stay (a few hundred Observations even for a long record); without a
    current stay, of the last 7 days' visits."""
    icu, _med, opd = await _setup(repo)
    form, _ = registration.form_from_qr(QR, today=date(2025, 1, 1))
    pid = await registration.register_patient(repo, CTX, form)
    room = next(iter(await facility.department_locations(repo, CTX, opd.id)))
    visit = await adt.open_visit(repo, CTX, pid, kind="emergency", room_id=room["id"])
    calm = {"pulse": 70, "systolic": 120, "diastolic": 80, "temperature": 37, "respiration": 16, "spo2": 98}
    await vitals.record_vitals(repo, CTX, visit.encounter_id, vitals.VitalsInput(calm))
    await adt.discharge(repo, CTX, visit.encounter_id, discharge_type="recovered")
    beds = await facility.bed_map(repo, CTX, icu.id)
    stay = await adt.admit(repo, CTX, pid, department_id=icu.id, bed_id=beds[0].id)
    await vitals.record_vitals(repo, CTX, stay, vitals.VitalsInput({**calm, "pulse": 90}))
    assert [v for _t, v in (await chart.patient_chart(repo, CTX, pid)).trend["pulse"]] == [90]
    await adt.discharge(repo, CTX, stay, discharge_type="recovered")
    assert [v for _t, v in (await chart.patient_chart(repo, CTX, pid)).trend["pulse"]] == [70, 90]
