"""Pure rules behind the clinical use-cases: vital-sign ranges, NEWS2 from observations, what reception's
search box understands, the bed map, ages and discharge types."""

from __future__ import annotations

from datetime import date

import pytest

from benhan.clinical import adt, facility, registration, vitals
from benhan.clinical.records import ClinicalError, age_label

BASE = {"resourceType": "Observation", "status": "final", "effectiveDateTime": "2025-03-01T08:00:00Z"}


@pytest.mark.parametrize(
    ("values", "refused", "unusual"),
    [
        ({"temperature": 37.2, "pulse": 80}, [], []),
        ({"temperature": 375}, ["temperature"], []),
        ({"spo2": 101}, ["spo2"], []),
        ({"pulse": 190}, [], ["pulse"]),
        ({"temperature": 34.5}, [], ["temperature"]),
        ({"systolic": 80, "diastolic": 90}, ["diastolic"], []),
        ({"systolic": 120}, ["diastolic"], []),
    ],
)
def test_ranges(values: dict[str, float], refused: list[str], unusual: list[str]) -> None:
    bad, odd = vitals.check_ranges(vitals.VitalsInput(values))
    assert [m.field for m in bad] == refused
    assert [m.field for m in odd] == unusual


def test_form_keeps_every_bad_field_and_reads_decimal_commas() -> None:
    assert vitals.parse_vitals_form({"temperature": "37,5"}).values == {"temperature": 37.5}
    with pytest.raises(ClinicalError) as exc:
        vitals.parse_vitals_form({"pulse": "8o", "temperature": "375"})
    assert set(exc.value.by_field("en")) == {"pulse", "temperature"}


def test_news2_from_the_latest_observations() -> None:
    sick = vitals.VitalsInput(
        {"pulse": 128, "systolic": 92, "diastolic": 58, "temperature": 39.4, "respiration": 27, "spo2": 90},
        on_oxygen=True,
    )
    older = vitals.build_observations(
        vitals.VitalsInput({"pulse": 70, "respiration": 14}), {**BASE, "effectiveDateTime": "2025-03-01T02:00:00Z"}
    )
    snap = vitals.latest_snapshot(older + vitals.build_observations(sick, BASE))
    assert snap.values["pulse"] == 128
    assert snap.values["diastolic"] == 58
    assert snap.news2 is not None
    assert snap.news2.total == 14
    assert snap.news2.colour == "red"
    assert snap.news2.alert
    partial = vitals.latest_snapshot(older)
    assert partial.news2 is None  # NEWS2 needs all seven parameters


@pytest.mark.parametrize(
    ("text", "params"),
    [
        ("001090001234", [("cccd", "001090001234")]),
        ("dn 4010123456789", [("bhyt", "DN4010123456789")]),
        ("0912 345 678", [("phone", "0912345678")]),
        ("01/02/1990", [("birthdate", "1990-02-01")]),
        ("Nguyễn Văn An", [("name", "nguyen")]),
        ("12", []),
    ],
)
def test_understand_query(text: str, params: list[tuple[str, str]]) -> None:
    assert registration.understand_query(text).params == params


def test_qr_fills_the_form_and_bad_codes_name_the_qr_field() -> None:
    form, _ = registration.form_from_qr(
        "001090001234||NGUYEN VAN AN|01021990|Nam|Hà Nội|15082021", today=date(2025, 1, 1)
    )
    assert (form.full_name, form.birth_date, form.sex) == ("Nguyen Van An", date(1990, 2, 1), "male")
    with pytest.raises(ClinicalError) as exc:
        registration.form_from_qr("not a qr code")
    assert list(exc.value.by_field("vi")) == ["qr"]


def test_bed_map_states() -> None:
    dept = {"reference": "Organization/d"}
    room = {
        "resourceType": "Location",
        "id": "r",
        "name": "Phòng 1",
        "managingOrganization": dept,
        "physicalType": {"coding": [{"code": "ro"}]},
    }

    def bed(id_: str, status: str) -> dict[str, object]:
        return {
            "resourceType": "Location",
            "id": id_,
            "name": f"Giường {id_}",
            "partOf": {"reference": "Location/r"},
            "physicalType": {"coding": [{"code": "bd"}]},
            "operationalStatus": {"code": status},
        }

    stay = {
        "id": "e",
        "subject": {"reference": "Patient/p"},
        "location": [
            {"location": {"reference": "Location/1"}, "status": "completed"},
            {"location": {"reference": "Location/2"}, "status": "active"},
        ],
    }
    beds = facility.build_bed_map([room, bed("1", "H"), bed("2", "O"), bed("3", "U")], [stay], {"p": "An"})
    assert [(b.name, b.state, b.patient_name) for b in beds] == [
        ("Giường 1", "cleaning", ""),
        ("Giường 2", "occupied", "An"),
        ("Giường 3", "free", ""),
    ]


def test_age_labels_and_discharge_types() -> None:
    assert age_label("1990-02-01", date(2025, 1, 31)) == "34 tuổi"
    assert age_label("2024-06-15", date(2025, 1, 1)) == "6 tháng"
    assert age_label("2024-12-20", date(2025, 1, 1)) == "12 ngày"
    assert adt.DISCHARGE_TYPES["deceased"].fhir == "exp"
    assert adt.DISCHARGE_TYPES["against-advice"].fhir == "aadvice"
