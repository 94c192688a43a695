"""Synthetic patients with complete histories, deterministic per (seed, patient number).

Each patient has its own ``random.Random`` seeded from ``"{seed}:{index}"``, so patient 17 of seed 1 is
the same whether 20 or 20,000 patients are generated, and patients can be generated in parallel.
A patient brings: Patient (name in Vietnamese order, CCCD, BHYT card, address from the administrative
units), Coverage, chronic problems with regular follow-up visits, acute episodes (outpatient, emergency
or inpatient), and for some an admission in progress at ``as_of``. Diagnoses respect the ICD-10 sex and
age rules of QĐ 4469 (checked with :func:`benhan.terminology.icd10.check_diagnosis` when drawn).
"""

from __future__ import annotations

import functools
import random
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from benhan.fhir.search import systems
from benhan.kernel.clock import VN_TZ
from benhan.synth import episodes
from benhan.synth.fhirgen import concept, meta, new_id, ref
from benhan.synth.identifiers import bhyt_card, cccd_number
from benhan.synth.names import NameGenerator
from benhan.synth.scenarios import SCENARIOS, Scenario
from benhan.synth.world import World
from benhan.terminology import admin_units, icd10

JsonObj = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Profile:
    """How much history each patient gets (``full`` ≈ 500 resources per patient on average)."""

    years: int = 3
    acute_per_year: float = 1.2
    vitals_per_day: int = 3
    in_progress_share: float = 0.06


FULL = Profile()
DEMO = Profile(years=1, acute_per_year=1.0, vitals_per_day=2, in_progress_share=0.15)


def _age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _birth(rng: random.Random, on: date) -> date:
    # Roughly the shape of who comes to hospital: many young children, many people over 50.
    band = rng.choices(((0, 5), (5, 18), (18, 40), (40, 60), (60, 92)), weights=(14, 12, 24, 25, 25))[0]
    return on - timedelta(days=rng.randint(band[0] * 365, band[1] * 365 - 1) + 1)


def _weight(rng: random.Random, age: int) -> float:
    if age < 1:
        return round(rng.uniform(3.0, 9.5), 1)
    if age < 15:
        return round(8 + age * 2.6 * rng.uniform(0.85, 1.15), 1)
    return float(rng.randint(42, 72))


def _address(rng: random.Random, world: World) -> tuple[JsonObj, str]:
    units = admin_units.default()
    districts = units.districts_of(world.province)
    district = rng.choice(districts)
    commune = rng.choice(units.communes_of(district.code))
    province = units.province(world.province)
    village = f"Ấp {rng.randint(1, 12)}"
    address: JsonObj = {
        "use": "home", "type": "physical", "line": [village, commune.name], "district": district.name,
        "city": district.name, "state": province.name if province else "", "country": "VN",
        "text": f"{village}, {commune.name}, {district.name}, {province.name if province else ''}",
        "extension": [{"url": "https://benhan.vn/fhir/StructureDefinition/ma-don-vi-hanh-chinh",
                       "valueCode": commune.code}],
    }  # fmt: skip
    return address, district.code


def patient(rng: random.Random, world: World, as_of: date) -> tuple[JsonObj, JsonObj, episodes.Context, str]:
    """The Patient, its Coverage, the generation context and the patient's district code."""
    born = _birth(rng, as_of)
    name = NameGenerator(rng).name(None, born.year)
    address, district = _address(rng, world)
    home = world.home_facility(district)
    pid = new_id(rng)
    card = bhyt_card(rng, born, as_of, province=world.province, facilities=(home.code,))
    idents = [{"system": systems.MA_BN, "value": f"{home.code}{rng.randint(0, 99_999_999):08d}"},
              {"system": systems.BHYT, "value": card.number,
               "period": {"start": card.valid_from.isoformat(), "end": card.valid_to.isoformat()}},
              {"system": systems.BHXH, "value": card.bhxh_number}]  # fmt: skip
    age = _age(born, as_of)
    if age >= 14:
        idents.insert(0, {"system": systems.CCCD, "value": cccd_number(rng, born.year, name.sex, world.province)})
    res: JsonObj = {
        "resourceType": "Patient", "id": pid, "meta": meta(), "active": True, "identifier": idents,
        "name": [name.to_fhir()], "gender": name.sex, "birthDate": born.isoformat(), "address": [address],
        "managingOrganization": ref("Organization", home.id, home.name),
    }  # fmt: skip
    if age >= 16:
        res["telecom"] = [{"system": "phone", "value": f"09{rng.randint(0, 99_999_999):08d}", "use": "mobile"}]
    coverage: JsonObj = {
        "resourceType": "Coverage", "id": new_id(rng), "meta": meta(), "status": "active",
        "type": concept("https://benhan.vn/fhir/CodeSystem/doi-tuong-bhyt", card.group),
        "subscriberId": card.number, "beneficiary": ref("Patient", pid),
        "period": {"start": card.valid_from.isoformat(), "end": card.valid_to.isoformat()},
        "payor": [ref("Organization", world.payor_id)],
        "class": [{"type": concept("http://terminology.hl7.org/CodeSystem/coverage-class", "plan"),
                   "value": card.facility, "name": "Nơi đăng ký KCB ban đầu"}],
    }  # fmt: skip
    ctx = episodes.Context(rng, res, age, _weight(rng, age))
    return res, coverage, ctx, district


@functools.cache  # (scenario, sex, age) repeat across patients; plan_beds and generation both plan every patient
def _allowed(sc: Scenario, sex: str, age: int) -> bool:
    if not sc.min_age <= age <= sc.max_age or (sc.sex is not None and sc.sex != sex):
        return False
    return not icd10.check_diagnosis(sc.icd10, sex, age * 365 + 180, True)  # type: ignore[arg-type]


def _pick(rng: random.Random, pool: list[Scenario]) -> Scenario | None:
    return rng.choices(pool, weights=[s.weight for s in pool])[0] if pool else None


def _at(rng: random.Random, start: datetime, end: datetime) -> datetime:
    seconds = int((end - start).total_seconds())
    when = start + timedelta(seconds=rng.randint(0, max(seconds, 1)))
    return when.replace(hour=rng.randint(7, 16), minute=rng.randint(0, 59), second=0, microsecond=0)


def _plan(
    c: episodes.Context, world: World, district: str, as_of: datetime, profile: Profile
) -> list[episodes.Episode]:
    rng, sex = c.rng, str(c.patient["gender"])
    allowed = [s for s in SCENARIOS if _allowed(s, sex, c.age)]
    home = world.home_facility(district)
    begin = as_of - timedelta(days=365 * profile.years)
    plan: list[episodes.Episode] = []
    chronic = [s for s in allowed if s.chronic]
    if chronic and rng.random() < min(0.8, c.age / 90):
        sc = _pick(rng, chronic)
        assert sc is not None
        interval = rng.choice((30, 30, 60, 90))
        t = begin + timedelta(days=rng.randint(0, interval))
        while t < as_of - timedelta(days=1):
            plan.append(episodes.Episode(sc, _at(rng, t, t), home))
            t += timedelta(days=interval + rng.randint(-5, 5))
    acute = [s for s in allowed if not s.chronic]
    for _ in range(int(rng.expovariate(1 / (profile.acute_per_year * profile.years))) + 1):
        sc = _pick(rng, acute)
        if sc is None:
            break
        where = world.referral_facility(sc.setting, sc.department) if sc.setting == "inpatient" and \
            rng.random() < 0.4 else home  # fmt: skip
        plan.append(episodes.Episode(sc, _at(rng, begin, as_of - timedelta(days=15)), where))
    inpatient = [s for s in acute if s.setting == "inpatient"]
    if inpatient and rng.random() < profile.in_progress_share:
        sc = _pick(rng, inpatient)
        assert sc is not None
        start = as_of - timedelta(days=rng.randint(0, 4), hours=rng.randint(1, 12))
        plan.append(episodes.Episode(sc, start, home if rng.random() < 0.5 else world.facilities[0], True, as_of))
    return sorted(plan, key=lambda e: e.start)


def _planned(
    seed: int, index: int, world: World, as_of: datetime, profile: Profile
) -> tuple[JsonObj, JsonObj, episodes.Context, list[episodes.Episode]]:
    rng = random.Random(f"benhan-synth:{seed}:{index}")
    pat, coverage, ctx, district = patient(rng, world, as_of.astimezone(VN_TZ).date())
    return pat, coverage, ctx, _plan(ctx, world, district, as_of, profile)


#: patient index → the bed of their admission in progress (None: no free bed, so the patient is not admitted)
BedPlan = dict[int, "str | None"]


def plan_beds(seed: int, count: int, world: World, as_of: datetime, profile: Profile = FULL) -> BedPlan:
    """One free bed for each admission in progress at ``as_of``, deterministically: patients in index order
    take the first bed of their department no earlier patient holds. Each patient is generated on its own (in
    parallel), so without this plan two admissions in progress could share a bed."""
    taken: set[str] = set()
    plan: BedPlan = {}
    for index in range(count):
        for ep in _planned(seed, index, world, as_of, profile)[3]:
            if ep.in_progress and ep.scenario.setting == "inpatient":
                beds = ep.facility.department(ep.scenario.department).beds
                plan[index] = next((b for b in beds if b not in taken), None)
                taken.add(plan[index] or "")
    return plan


def generate_patient(
    seed: int, index: int, world: World, as_of: datetime, profile: Profile = FULL, beds: BedPlan | None = None
) -> list[JsonObj]:
    """Every resource of patient ``index`` (Patient first), deterministic for (seed, index, as_of). ``beds``
    (from :func:`plan_beds`) gives the admission in progress its bed, or drops it when the ward is full."""
    pat, coverage, ctx, plan = _planned(seed, index, world, as_of, profile)
    out = [pat, coverage]
    for ep in plan:
        if ep.in_progress and beds is not None:
            if beds.get(index) is None:
                continue  # the ward is full: this patient is not admitted today
            ep = replace(ep, bed=beds[index])
        if ep.scenario.setting == "inpatient":
            out += episodes.stay(ctx, ep, profile.vitals_per_day)
        else:
            out += episodes.visit(ctx, ep)
    return out


def generate(
    seed: int,
    count: int,
    world: World,
    as_of: datetime,
    profile: Profile = FULL,
    start: int = 0,
    step: int = 1,
    beds: BedPlan | None = None,
) -> Iterator[list[JsonObj]]:
    """Patients ``start, start+step, …`` below ``count`` (``step`` > 1 splits the work between processes);
    ``beds`` is :func:`plan_beds` of the whole run (computed here when not given)."""
    if beds is None:
        beds = plan_beds(seed, count, world, as_of, profile)
    for index in range(start, count, step):
        yield generate_patient(seed, index, world, as_of, profile, beds)
