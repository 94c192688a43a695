"""The web UI half of the authorization matrix (issue 4): each role signs in (session cookie) and opens the
chart, the department board, the reception search, the orders, the daily summary and the eMAR for patients
of the same department, the same facility, another facility, with and without a Consent opt-out, and with
break-the-glass.  Every cell states its outcome; every denial must leave an audit row with outcome "denied".

Outcomes: ``("show", text)`` the page answers 200 and shows ``text``; ``("hide", text)`` it answers 200 and
``text`` is not on it (a search filtered by the policy); an int: the status of a refused page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg
import httpx
import pytest
from tests.integration.access_support import (
    SYSTEM,
    add_user,
    audit_rows,
    build_province,
    consent_opt_out,
    encounter,
    session_client,
)

from benhan.access.roles import Grant
from benhan.clinical import adt, orders, registration
from benhan.clinical.facility import bed_map, create_department
from benhan.terminology.facility_catalogues import import_demo_catalogues

NAMES = {"dept": "Lê Văn Cùng Khoa", "fac": "Lê Văn Cùng Viện", "other": "Lê Văn Viện Khác",
         "consent": "Lê Văn Từ Chối", "noconsent": "Lê Văn Đồng Ý"}  # fmt: skip
B_WARD = "Khoa Cấp cứu Huyện"
USERS = {
    "bs.a1": lambda w: [Grant("doctor", w["fac_a"], w["a1"])],
    "dd.a1": lambda w: [Grant("nurse", w["fac_a"], w["a1"])],
    "tiepdon.a": lambda w: [Grant("receptionist", w["fac_a"])],
    "bs.b1": lambda w: [Grant("doctor", w["fac_b"], w["b1"])],
    "cb.soyte": lambda w: [Grant("doh_officer", w["province"])],
}


@dataclass
class World:
    ids: dict[str, str]  # facility/department ids
    patients: dict[str, str]
    stays: dict[str, str]
    dept_of: dict[str, str]
    sessions: dict[str, tuple[httpx.AsyncClient, str]]


async def _admit(repo: Any, name: str, dept: str) -> tuple[str, str]:
    form = registration.RegistrationForm(name, date(1961, 5, 17), "male")
    pid = await registration.register_patient(repo, SYSTEM, form)
    bed = next(b for b in await bed_map(repo, SYSTEM, dept) if b.state == "free")
    enc = await adt.admit(repo, SYSTEM, pid, department_id=dept, bed_id=bed.id)
    await orders.order_medication(repo, SYSTEM, enc, orders.MedicationOrderInput("DEMO.0001", "ngày 2 lần", dose="1"))
    return pid, enc


@pytest.fixture
async def world(app: Any, db: asyncpg.Pool) -> Any:
    repo = app.state.repo
    p = await build_province(repo)
    beds = [("Phòng 1", ["Giường 1", "Giường 2", "Giường 3", "Giường 4"])]
    ids = {"province": p.province, "fac_a": p.fac_a, "fac_b": p.fac_b}
    for fac in (p.fac_a, p.fac_b):  # orders are chosen from the facility's own catalogue
        await import_demo_catalogues(repo, SYSTEM, fac)
    for key, fac, name in (("a1", p.fac_a, "Khoa Nội A"), ("a2", p.fac_a, "Khoa Ngoại A"), ("b1", p.fac_b, B_WARD)):
        ids[key] = (await create_department(repo, SYSTEM, name=name, rooms=beds, part_of=fac)).id
    for name, grants in USERS.items():
        await add_user(db, repo, p, name, grants(ids))
    where = {"dept": "a1", "fac": "a2", "other": "b1", "consent": "b1", "noconsent": "b1"}
    patients, stays = {}, {}
    for key, ward in where.items():
        patients[key], stays[key] = await _admit(repo, NAMES[key], ids[ward])
    for key in ("consent", "noconsent"):  # also seen at facility A, so A's staff have a relationship
        await repo.create(SYSTEM, encounter(patients[key], ids["a1"]) | {"status": "finished"})
    await repo.create(SYSTEM, consent_opt_out(patients["consent"], p.fac_a))
    sessions = {}
    for name in USERS:
        sessions[name] = await session_client(app, name, facility_id=p.province if name == "cb.soyte" else None)
    yield World(ids, patients, stays, {k: ids[v] for k, v in where.items()}, sessions)
    for c, _csrf in sessions.values():
        await c.aclose()


def _url(w: World, page: str, key: str) -> str:
    pid, enc, dept = w.patients[key], w.stays[key], w.dept_of[key]
    return {
        "chart": f"/patients/{pid}",
        "board": f"/board?dept={dept}",
        "search": f"/reception/search?q={NAMES[key]}",
        "orders": f"/orders/{enc}",
        "summary": f"/summary?dept={dept}",
        "emar": f"/emar?dept={dept}",
        "emar-patient": f"/emar/{enc}",
        "accesses": f"/patients/{pid}/accesses",
    }[page]


Outcome = tuple[str, str] | int
SHOW, HIDE = "show", "hide"
# (user, page, patient) → outcome; the patient's name is the text unless the cell names another
CELLS: list[tuple[str, str, str, Outcome]] = [
    # doctor of department A1: reads the facility's patients, nobody else's
    ("bs.a1", "chart", "dept", (SHOW, "")),
    ("bs.a1", "chart", "fac", (SHOW, "")),
    ("bs.a1", "chart", "other", 404),
    ("bs.a1", "board", "dept", (SHOW, "")),
    ("bs.a1", "board", "fac", (SHOW, "")),
    ("bs.a1", "board", "other", (HIDE, "")),
    ("bs.a1", "search", "dept", (SHOW, "")),
    ("bs.a1", "search", "other", (HIDE, "")),
    ("bs.a1", "orders", "dept", (SHOW, "Paracetamol")),
    ("bs.a1", "orders", "fac", (SHOW, "Paracetamol")),
    ("bs.a1", "orders", "other", 404),
    ("bs.a1", "summary", "dept", (SHOW, "")),
    ("bs.a1", "summary", "other", (HIDE, "")),
    ("bs.a1", "emar", "dept", (SHOW, "")),
    ("bs.a1", "emar-patient", "other", 404),
    # consent: the patient opted out of sharing with facility A; what B recorded stays hidden from A
    ("bs.a1", "chart", "noconsent", (SHOW, B_WARD)),
    ("bs.a1", "chart", "consent", (HIDE, B_WARD)),
    ("bs.a1", "orders", "noconsent", (SHOW, "Paracetamol")),
    ("bs.a1", "orders", "consent", 404),
    ("bs.b1", "chart", "consent", (SHOW, B_WARD)),
    # nurse of A1: the eMAR of the department, the summary, the chart
    ("dd.a1", "emar", "dept", (SHOW, "")),
    ("dd.a1", "emar-patient", "dept", (SHOW, "")),
    ("dd.a1", "emar", "other", (HIDE, "")),
    ("dd.a1", "emar-patient", "other", 404),
    ("dd.a1", "summary", "dept", (SHOW, "Paracetamol")),
    ("dd.a1", "chart", "dept", (SHOW, "")),
    ("dd.a1", "chart", "other", 404),
    # receptionist: demographics (province-wide, for registration) and visits; no clinical page
    ("tiepdon.a", "search", "other", (SHOW, "")),
    ("tiepdon.a", "search", "dept", (SHOW, "")),
    ("tiepdon.a", "chart", "dept", (SHOW, 'data-testid="chart-restricted"')),
    ("tiepdon.a", "chart", "dept", (HIDE, 'id="vitals"')),
    ("tiepdon.a", "board", "dept", 403),
    ("tiepdon.a", "orders", "dept", 403),
    ("tiepdon.a", "summary", "dept", 403),
    ("tiepdon.a", "emar", "dept", 403),
    ("tiepdon.a", "emar-patient", "dept", 403),
    # doctor of the other facility
    ("bs.b1", "chart", "dept", 404),
    ("bs.b1", "chart", "other", (SHOW, "")),
    ("bs.b1", "board", "dept", (HIDE, "")),
    ("bs.b1", "orders", "dept", 404),
    ("bs.b1", "summary", "dept", (HIDE, "")),
    # Department-of-Health officer: no patient-level data at all
    ("cb.soyte", "chart", "dept", 403),
    ("cb.soyte", "search", "dept", 403),
    ("cb.soyte", "board", "dept", 403),
    ("cb.soyte", "orders", "dept", 403),
    # "who viewed this record": whoever may open the patient (the page reads the Patient first)
    ("bs.a1", "accesses", "dept", (SHOW, "")),
    ("bs.a1", "accesses", "other", 404),
    ("bs.b1", "accesses", "dept", 404),
    ("tiepdon.a", "accesses", "dept", (SHOW, "")),
    ("cb.soyte", "accesses", "dept", 403),
]


async def _check(w: World, db: asyncpg.Pool, user: str, page: str, key: str, expected: Outcome) -> str | None:
    c, _csrf = w.sessions[user]
    before = len(await audit_rows(db, user_name=user, outcome="denied"))
    # the search asks as the type-ahead does (HTMX: only the results, not the page echoing the query)
    r = await c.get(_url(w, page, key), headers={"HX-Request": "true"} if page == "search" else None)
    if isinstance(expected, int):
        if r.status_code != expected:
            return f"status {r.status_code}"
        if NAMES[key] in r.text:
            return "a refused page shows the patient"
        after = len(await audit_rows(db, user_name=user, outcome="denied"))
        return None if after > before else "denial not audited"
    mode, text = expected
    if r.status_code != 200:
        return f"status {r.status_code}"
    shown = (text or NAMES[key]) in r.text
    return None if shown == (mode == SHOW) else f"{text or NAMES[key]!r} {'missing' if mode == SHOW else 'shown'}"


async def test_authorization_matrix_over_the_web_ui(world: World, db: asyncpg.Pool) -> None:
    wrong = []
    for user, page, key, expected in CELLS:
        problem = await _check(world, db, user, page, key, expected)
        if problem:
            wrong.append((user, page, key, expected, problem))
    assert not wrong, wrong


async def test_break_the_glass_opens_the_pages_and_is_flagged(world: World, db: asyncpg.Pool) -> None:
    c, csrf = world.sessions["bs.a1"]
    other = world.patients["other"]
    assert (await c.get(f"/patients/{other}")).status_code == 404
    r = await c.post("/session/break-glass", json={"reason": "Chuyển đến cấp cứu, hôn mê", "patient_id": other},
                     headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200, r.text
    for page in ("chart", "orders", "emar-patient"):
        assert await _check(world, db, "bs.a1", page, "other", (SHOW, "")) is None, page
    flagged = await audit_rows(db, user_name="bs.a1", break_glass=True, patient_id=other)
    assert {row["action"] for row in flagged} >= {"break-glass", "read"}
    # only that patient: the rest of facility B stays closed
    assert (await c.get(f"/patients/{world.patients['consent']}")).status_code == 200  # seen at A: visible
    assert B_WARD not in (await c.get(f"/patients/{world.patients['consent']}")).text


async def test_receptionist_registers_and_admits_through_the_pages(world: World, db: asyncpg.Pool) -> None:
    """Admission writes the bed's housekeeping state (a Location): the ``ward`` category lets reception do it."""
    c, csrf = world.sessions["tiepdon.a"]
    form = {"full_name": "Đỗ Thị Mới", "birth_date": "02/03/1999", "sex": "female", "csrf_token": csrf}
    done = await c.post("/reception/register", data=form)
    assert done.status_code == 303, done.text
    pid = done.headers["location"].rsplit("/", 1)[1]
    page = await c.get("/adt/admit", params={"patient": pid, "dept": world.ids["a1"]})
    assert page.status_code == 200
    bed = page.text.split('name="bed_id" value="', 1)[1].split('"', 1)[0]
    ok = await c.post("/adt/admit", data={"patient_id": pid, "dept": world.ids["a1"], "bed_id": bed,
                                          "confirm_patient": "1", "csrf_token": csrf})
    assert ok.status_code == 303, ok.text
    chart = await c.get(ok.headers["location"])
    assert "Khoa Nội A" in chart.text
    assert 'data-testid="chart-restricted"' in chart.text
    # …and a doctor of another facility does not see the new stay
    bs, _csrf = world.sessions["bs.b1"]
    assert (await bs.get(f"/patients/{pid}")).status_code == 404
