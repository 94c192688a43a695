"""Each safety check at order time (issue 7), against the demo catalogue's own limits."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from benhan.clinical import order_safety as s
from benhan.clinical.frequency import parse_frequency
from benhan.terminology.catalogue import demo_drugs

ON = date(2030, 3, 10)
ADULT_F = {"gender": "female", "birthDate": "1990-04-15"}


def drug(code: str) -> s.DrugItem:
    found = demo_drugs().lookup(code)
    assert found is not None
    return found


def allergy(text: str, status: str = "active") -> dict[str, object]:
    return {"id": "a1", "code": {"text": text}, "clinicalStatus": {"coding": [{"code": status}]}}


@pytest.mark.parametrize(
    ("allergen", "code", "alerts"),
    [
        ("Amoxicillin", "DEMO.0003", 1),  # the ingredient itself
        ("amoxicilin", "DEMO.0003", 0),  # a misspelling is not a match (no fuzzy guessing)
        ("Penicilin", "DEMO.0004", 1),  # the family: amoxicillin + clavulanic acid is a penicillin
        ("Dị ứng Cephalosporin", "DEMO.0005", 1),  # ceftriaxone
        ("Acid clavulanic", "DEMO.0004", 1),  # the second ingredient of a combination
        ("Paracetamol", "DEMO.0003", 0),
    ],
)
def test_allergy(allergen: str, code: str, alerts: int) -> None:
    found = s.check_allergy(drug(code), [allergy(allergen)])
    assert len(found) == alerts
    if found:
        assert found[0].code == "ALGY"
        assert found[0].implicated == ("AllergyIntolerance/a1",)


def test_resolved_or_refuted_allergy_does_not_alert() -> None:
    assert s.check_allergy(drug("DEMO.0003"), [allergy("Amoxicillin", "resolved")]) == []
    refuted = {**allergy("Amoxicillin"), "verificationStatus": {"coding": [{"code": "refuted"}]}}
    assert s.check_allergy(drug("DEMO.0003"), [refuted]) == []


def test_duplicate_same_ingredient_other_product_and_replacement() -> None:
    active = [("r1", "Paracetamol", "Paracetamol 500mg (demo)"), ("r2", "Omeprazol", "Omeprazol 20mg (demo)")]
    [dup] = s.check_duplicate(drug("DEMO.0002"), active)  # IV paracetamol next to tablets
    assert dup.code == "DUPTHPY"
    assert dup.implicated == ("MedicationRequest/r1",)
    assert s.check_duplicate(drug("DEMO.0002"), active, replacing="r1") == []
    assert s.check_duplicate(drug("DEMO.0004"), [("r3", "Amoxicillin", "Amoxicillin 500mg")])  # shared ingredient


@pytest.mark.parametrize(
    ("code", "frequency", "expected"),
    [
        ("DEMO.0001", "ngày 4 lần, mỗi lần 2 viên", []),  # 1000 mg and 4000 mg/day: at the maxima, not above
        ("DEMO.0001", "ngày 5 lần, mỗi lần 2 viên", ["DOSEH"]),  # 1000 mg ok once; 5000 mg/day > 4000
        ("DEMO.0001", "ngày 3 lần, mỗi lần 3 viên", ["DOSEH", "DOSEH"]),  # 1500 mg > 1000 and 4500 > 4000
        ("DEMO.0001", "khi sốt, mỗi lần 2 viên, tối đa 6 lần/ngày", ["DOSEH"]),  # PRN: counted at its maximum
        ("DEMO.0001", "mỗi 4 giờ, mỗi lần 1 viên", []),  # 6 × 500 = 3000 mg
        ("DEMO.0001", "mỗi 4 giờ, mỗi lần 1000 mg", ["DOSEH"]),  # 6000 mg
        ("DEMO.0002", "ngày 2 lần, mỗi lần 1 chai", []),  # 1 g/100 ml bottle = 1000 mg
        ("DEMO.0013", "sáng 1 viên, tối 2 viên", ["DOSEH"]),  # amlodipine: 10 mg once is the maximum, 15 a day not
        ("DEMO.0013", "sáng 3 viên", ["DOSEH"]),  # 15 mg once a day: one alert, not two
        ("DEMO.0024", "ngày 2 lần, mỗi lần 1 ống", []),  # 5 IU/ml: no amount per ampoule, so no check
        ("DEMO.0021", "ngày 3 lần, mỗi lần 1 chai", []),  # no maximum in the catalogue
    ],
)
def test_dose_against_the_catalogue_maximum(code: str, frequency: str, expected: list[str]) -> None:
    sched = parse_frequency(frequency)
    if sched.dose_unit is None:
        from dataclasses import replace

        sched = replace(sched, dose_unit=drug(code).don_vi_tinh)
    assert [a.code for a in s.check_dose(drug(code), sched)] == expected


def test_strength_and_conversion() -> None:
    assert s.strength(drug("DEMO.0002")) == Decimal(1000)  # 1g/100ml per bottle, limits in mg
    assert s.strength(drug("DEMO.0018")) == Decimal(20)  # 20mg/2ml per ampoule
    assert s.strength(drug("DEMO.0024")) is None  # 5 IU/ml
    assert s.dose_in_limit_unit(drug("DEMO.0001"), Decimal("0.5"), "g") == Decimal(500)
    assert s.dose_in_limit_unit(drug("DEMO.0001"), Decimal(2), "viên") == Decimal(1000)
    assert s.dose_in_limit_unit(drug("DEMO.0001"), Decimal(2), "gói") is None


def test_sex_and_age() -> None:
    assert [a.code for a in s.check_patient(drug("DEMO.0025"), "female", "1990-04-15", ON)] == ["GEND"]
    assert s.check_patient(drug("DEMO.0025"), "male", "1960-01-01", ON) == []
    [age] = s.check_patient(drug("DEMO.0007"), "male", "2015-03-11", ON)  # ciprofloxacin from 18; 14 years old
    assert age.code == "AGE"
    assert "14 tuổi" in age.message_vi
    assert s.check_patient(drug("DEMO.0007"), "male", "2012-03-10", ON) == []  # 18 today
    assert s.check_patient(drug("DEMO.0007"), "male", None, ON) == []


def test_check_medication_orders_alerts_and_reasons() -> None:
    alerts = s.check_medication(
        drug("DEMO.0004"),
        parse_frequency("ngày 3 lần, mỗi lần 1 viên"),
        patient={"gender": "female", "birthDate": "2020-01-01"},
        allergies=[allergy("Penicilin")],
        active=[("r1", "Amoxicillin", "Amoxicillin 500mg")],
        on=ON,
    )
    assert [a.code for a in alerts] == ["ALGY", "DUPTHPY", "DOSEH", "AGE"]
    reasons = {s.alert_key(alerts[0], 0): "đã test", s.alert_key(alerts[1], 1): "x"}
    missing = s.unacknowledged(alerts, reasons)
    assert [k for k, _a in missing] == ["override_DUPTHPY_1", "override_DOSEH_2", "override_AGE_3"]  # "x" is too short
    assert (
        s.check_medication(
            drug("DEMO.0009"), parse_frequency("sáng 1 viên"), patient=ADULT_F, allergies=[], active=[], on=ON
        )
        == []
    )
