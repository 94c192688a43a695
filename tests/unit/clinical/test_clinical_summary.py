"""The nurses' daily summary built from FHIR JSON (pure): times in UTC+7, totals in dispensing units, changes
against a snapshot; the eMAR shift windows and dose states; the wristband barcodes."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from benhan.clinical import disclosure, emar, summary
from benhan.clinical.frequency import parse_frequency, to_fhir_dosages
from benhan.clinical.wristband import code128_svg, qr_svg
from benhan.kernel.clock import VN_TZ
from benhan.terminology.catalogue import demo_drugs

DAY = date(2030, 3, 10)
DRUGS = demo_drugs()


def stay(enc: str, pid: str, bed: str) -> dict[str, Any]:
    return {
        "resourceType": "Encounter",
        "id": enc,
        "status": "in-progress",
        "subject": {"reference": f"Patient/{pid}"},
        "location": [{"status": "active", "location": {"reference": "Location/b", "display": bed}}],
    }


def request(
    rid: str,
    enc: str,
    code: str,
    freq: str,
    *,
    start: str = "2030-03-09T10:00:00+07:00",
    version: int = 1,
    status: str = "active",
    **extra: Any,
) -> dict[str, Any]:
    drug = DRUGS.lookup(code)
    assert drug is not None
    sched = parse_frequency(freq)
    dosages = to_fhir_dosages(sched, text=freq)
    for d in dosages:
        d.setdefault("timing", {}).setdefault("repeat", {})["boundsPeriod"] = {"start": start}
        if sched.dose_unit is None and "doseAndRate" in d:
            d["doseAndRate"][0]["doseQuantity"]["unit"] = drug.don_vi_tinh
    return {
        "resourceType": "MedicationRequest",
        "id": rid,
        "meta": {"versionId": str(version)},
        "status": status,
        "medicationCodeableConcept": {
            "coding": [{"system": "https://benhan.vn/fhir/CodeSystem/thuoc-bv-demo", "code": code}],
            "text": drug.ten_thuoc,
        },
        "encounter": {"reference": f"Encounter/{enc}"},
        "subject": {"reference": "Patient/p"},
        "dosageInstruction": dosages,
        **extra,
    }


def build(requests: list[dict[str, Any]], snapshot: dict[str, Any] | None = None) -> summary.DailySummary:
    stays = [stay("e2", "p2", "Giường 10"), stay("e1", "p1", "Giường 2")]
    patients = {"p1": {"id": "p1", "name": [{"text": "A"}]}, "p2": {"id": "p2", "name": [{"text": "B"}]}}
    return summary.build_summary("d", DAY, stays, patients, requests, DRUGS, snapshot)


def test_times_totals_and_bed_order() -> None:
    data = build(
        [
            request("m1", "e1", "DEMO.0001", "ngày 3 lần, mỗi lần 1000 mg"),  # 2 tablets each
            request("m2", "e2", "DEMO.0001", "sáng 1 viên, tối 1/2 viên"),
        ]
    )
    assert [p.bed for p in data.patients] == ["Giường 2", "Giường 10"]
    lines = {line.order.id: line for p in data.patients for line in p.lines}
    assert [t.strftime("%H:%M") for t in lines["m1"].times] == ["08:00", "14:00", "20:00"]
    assert lines["m1"].quantity == Decimal(6)
    assert lines["m2"].quantity_text == "1,5"
    totals = {t.code: t.quantity for t in data.totals}
    assert totals == {"DEMO.0001": Decimal(8)}  # 6 + ceil(1.5): a part tablet is requested whole per patient
    assert not data.changes
    assert data.version is None


def test_interval_schedule_across_midnight_in_vietnam_time() -> None:
    # every 8 h from 22:00 the day before: 06:00 and 14:00 and 22:00 on the day, in UTC+7
    data = build([request("m1", "e1", "DEMO.0005", "mỗi 8 giờ, mỗi lần 1 lọ", start="2030-03-09T15:00:00Z")])
    [line] = [line for p in data.patients for line in p.lines]
    assert [t.isoformat() for t in line.times] == [
        "2030-03-10T06:00:00+07:00",
        "2030-03-10T14:00:00+07:00",
        "2030-03-10T22:00:00+07:00",
    ]
    assert line.quantity == Decimal(3)


def test_prn_is_requested_at_its_maximum_and_ended_orders_are_left_out() -> None:
    data = build(
        [
            request("m1", "e1", "DEMO.0001", "khi sốt, mỗi lần 1 viên, tối đa 4 lần/ngày"),
            request("m2", "e1", "DEMO.0009", "sáng 1 viên", start="2030-03-01T08:00:00+07:00", status="stopped"),
            request("m3", "e1", "DEMO.0013", "sáng 1 viên", start="2030-03-11T08:00:00+07:00"),  # starts tomorrow
        ]
    )
    [line] = [line for p in data.patients for line in p.lines]
    assert line.order.id == "m1"
    assert line.times == []
    assert line.quantity == Decimal(4)


def test_changes_against_the_snapshot() -> None:
    first = [request("m1", "e1", "DEMO.0001", "sáng 1 viên"), request("m2", "e2", "DEMO.0009", "sáng 1 viên")]
    gen = build(first)
    snapshot = summary.snapshot_json(
        gen, __import__("benhan.kernel.context").kernel.context.RequestContext(), datetime(2030, 3, 10, 7, tzinfo=VN_TZ)
    ) | {"meta": {"versionId": "1"}}
    later = [
        request("m1", "e1", "DEMO.0001", "sáng 1 viên", version=2, status="stopped"),
        request("m2", "e2", "DEMO.0009", "sáng 1 viên", version=2),  # edited in place
        request("m3", "e1", "DEMO.0013", "sáng 1 viên"),
        request("m4", "e2", "DEMO.0009", "sáng 2 viên", priorPrescription={"reference": "MedicationRequest/m2"}),
    ]
    data = build(later, snapshot)
    changes = {line.order.id: line.change for _p, line in data.changes}
    assert changes == {"m1": "stopped", "m2": "modified", "m3": "new", "m4": "modified"}
    totals = {t.code: (t.generated, t.quantity, t.delta) for t in data.totals}
    assert totals["DEMO.0001"] == (Decimal(1), Decimal(0), Decimal(-1))
    assert totals["DEMO.0009"] == (Decimal(1), Decimal(3), Decimal(2))
    assert totals["DEMO.0013"] == (None, Decimal(1), Decimal(1))


def test_disclosure_per_day() -> None:
    days = [DAY - timedelta(days=1), DAY]
    rows = disclosure.disclosure([request("m1", "e1", "DEMO.0001", "sáng 1 viên, tối 1 viên")], days, DRUGS)
    [row] = rows
    assert row.per_day == {DAY - timedelta(days=1): Decimal(1), DAY: Decimal(2)}  # started at 10:00 the day before
    assert row.total == Decimal(3)
    assert row.price == Decimal(350)


def test_shift_windows_across_midnight() -> None:
    name, start, end = emar.shift_window(datetime(2030, 3, 10, 2, 30, tzinfo=VN_TZ))
    assert (name, start.isoformat(), end.isoformat()) == (
        "night",
        "2030-03-09T21:00:00+07:00",
        "2030-03-10T07:00:00+07:00",
    )
    name, start, _end = emar.shift_window(datetime(2030, 3, 10, 0, 30, tzinfo=VN_TZ).astimezone(VN_TZ), "morning")
    assert (name, start.hour, start.day) == ("morning", 7, 10)
    assert emar.shift_window(datetime(2030, 3, 10, 8, 0, tzinfo=VN_TZ).astimezone(VN_TZ))[0] == "morning"


def test_dose_states_in_the_shift() -> None:
    now = datetime(2030, 3, 10, 8, 10, tzinfo=VN_TZ)
    req = request("m1", "e1", "DEMO.0001", "mỗi 2 giờ, mỗi lần 1 viên", start="2030-03-10T06:00:00+07:00")
    given = {
        "status": "completed",
        "request": {"reference": "MedicationRequest/m1"},
        "effectiveDateTime": "2030-03-10T06:05:00+07:00",
        "extension": [{"url": emar.SCHEDULED_URL, "valueDateTime": "2030-03-09T23:00:00Z"}],
    }
    _name, start, end = emar.shift_window(now)
    row = emar.build_patient(stay("e1", "p1", "Giường 2"), {"id": "p1"}, [req], [given], start, end, now)
    assert [(d.at.hour, d.state) for d in row.doses] == [(8, "due"), (10, "upcoming"), (12, "upcoming")]
    early = emar.build_patient(
        stay("e1", "p1", "Giường 2"), {"id": "p1"}, [req], [given], start - timedelta(hours=2), end, now
    )
    assert [(d.at.hour, d.state) for d in early.doses][:3] == [(6, "given"), (8, "due"), (10, "upcoming")]
    assert early.pending == 1
    late = emar.build_patient(
        stay("e1", "p1", "Giường 2"), {"id": "p1"}, [req], [], start - timedelta(hours=2), end, now + timedelta(hours=3)
    )
    assert [d.state for d in late.doses][:4] == ["overdue", "overdue", "overdue", "upcoming"]


def test_wristband_barcodes_are_svg() -> None:
    c128 = code128_svg("261126289754")
    assert c128.startswith("<svg")
    assert "<?xml" not in c128
    assert "rect" in c128
    qr = qr_svg("261126289754")
    assert qr.startswith("<svg")
    assert "261126289754" in qr
