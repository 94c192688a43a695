"""The authorization matrix over the FHIR API (issue 4): role × action × relationship to the patient (same
department, same facility, other facility, with and without consent, with break-the-glass).  Every cell
states its expected status; every denial must leave an audit row with outcome "denied"."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from tests.integration.access_support import (
    FJ,
    SYSTEM,
    Province,
    add_user,
    audit_rows,
    build_province,
    consent_opt_out,
    encounter,
    observation,
    patient,
    session_client,
)

from benhan.access.roles import Grant

USERS = {
    "bs.noi": lambda p: [Grant("doctor", p.fac_a, p.dep_a1)],
    "dd.noi": lambda p: [Grant("nurse", p.fac_a, p.dep_a1)],
    "bs.ngoai": lambda p: [Grant("doctor", p.fac_a, p.dep_a2)],
    "tiepdon.a": lambda p: [Grant("receptionist", p.fac_a)],
    "bhyt": lambda p: [Grant("insurance_clerk", p.fac_a)],
    "bs.huyen": lambda p: [Grant("doctor", p.fac_b, p.dep_b1)],
    "kt.vien": lambda p: [Grant("auditor", p.province)],
    "cb.soyte": lambda p: [Grant("doh_officer", p.province)],
}


@dataclass
class World:
    p: Province
    patients: dict[str, str]
    obs: dict[str, str]
    enc: dict[str, str]
    sessions: dict[str, tuple[httpx.AsyncClient, str]]


@pytest.fixture
async def world(app: Any, db: asyncpg.Pool) -> Any:
    repo = app.state.repo
    p = await build_province(repo)
    for name, grants in USERS.items():
        await add_user(db, repo, p, name, grants(p))
    where = {"dept": p.dep_a1, "fac": p.dep_a2, "other": p.dep_b1, "consent": p.dep_a1}
    patients, obs, enc = {}, {}, {}
    for key, org_id in where.items():
        pid = (await repo.create(SYSTEM, patient(f"Bệnh nhân {key}"))).resource.id
        patients[key] = pid
        enc[key] = (await repo.create(SYSTEM, encounter(pid, org_id))).resource.id
        obs[key] = (await repo.create(SYSTEM, observation(pid))).resource.id
    await repo.create(SYSTEM, encounter(patients["consent"], p.dep_b1))
    sessions = {}
    for name in USERS:
        facility = p.province if name in ("kt.vien", "cb.soyte") else None
        sessions[name] = await session_client(app, name, facility_id=facility)
    # Made at each facility by its own doctor, so each has an origin facility.
    for who, key in (("bs.huyen", "consent_b"), ("bs.noi", "consent_a")):
        c, csrf = sessions[who]
        headers = {**FJ, "X-CSRF-Token": csrf}
        r = await c.post("/fhir/Observation", json=observation(patients["consent"]), headers=headers)
        assert r.status_code == 201, r.text
        obs[key] = r.json()["id"]
    await repo.create(SYSTEM, consent_opt_out(patients["consent"], p.fac_a))
    yield World(p, patients, obs, enc, sessions)
    for c, _csrf in sessions.values():
        await c.aclose()


async def _do(w: World, user: str, action: str, type_: str, key: str) -> int:
    c, csrf = w.sessions[user]
    ids = {"Observation": w.obs, "Encounter": w.enc, "Patient": w.patients}[type_]
    url = f"/fhir/{type_}/{ids[key]}"
    if action == "read":
        return (await c.get(url)).status_code
    if action == "update":
        body = observation(w.patients[key.split("_")[0]], 38.0) | {"id": ids[key]}
        return (await c.put(url, json=body, headers={**FJ, "X-CSRF-Token": csrf})).status_code
    if action == "history":
        return (await c.get(f"{url}/_history")).status_code
    raise AssertionError(action)


# (user, action, type, patient key) → expected HTTP status
CELLS: list[tuple[str, str, str, str, int]] = [
    # doctor: read at the facility, write in the department; others' patients do not exist for them
    ("bs.noi", "read", "Observation", "dept", 200),
    ("bs.noi", "read", "Observation", "fac", 200),
    ("bs.noi", "read", "Observation", "other", 404),
    ("bs.noi", "update", "Observation", "dept", 200),
    ("bs.noi", "update", "Observation", "fac", 403),
    ("bs.noi", "update", "Observation", "other", 404),
    ("bs.noi", "history", "Observation", "other", 404),
    ("dd.noi", "read", "Observation", "fac", 200),
    ("dd.noi", "update", "Observation", "dept", 200),
    ("dd.noi", "update", "Observation", "fac", 403),
    ("bs.ngoai", "read", "Observation", "dept", 200),
    ("bs.ngoai", "update", "Observation", "dept", 403),
    ("bs.ngoai", "update", "Observation", "fac", 200),
    ("bs.huyen", "read", "Observation", "dept", 404),
    ("bs.huyen", "read", "Observation", "other", 200),
    # receptionist: demographics province-wide, visits at the facility, no clinical data
    ("tiepdon.a", "read", "Patient", "other", 200),
    ("tiepdon.a", "read", "Encounter", "dept", 200),
    ("tiepdon.a", "read", "Encounter", "other", 404),
    ("tiepdon.a", "read", "Observation", "dept", 403),
    # insurance clerk: what claims need, at the facility
    ("bhyt", "read", "Observation", "dept", 200),
    ("bhyt", "read", "Observation", "other", 404),
    ("bhyt", "update", "Observation", "dept", 403),
    # DoH officer and auditor: no patient-level data
    ("cb.soyte", "read", "Patient", "dept", 403),
    ("cb.soyte", "read", "Observation", "dept", 403),
    ("kt.vien", "read", "Observation", "dept", 403),
    # consent: the patient opted out of sharing with facility A
    ("bs.noi", "read", "Patient", "consent", 200),
    ("bs.noi", "read", "Observation", "consent_a", 200),
    ("bs.noi", "read", "Observation", "consent_b", 404),
    ("bs.noi", "read", "Observation", "consent", 404),
    ("bs.huyen", "read", "Observation", "consent_a", 200),
    ("bs.huyen", "read", "Observation", "consent_b", 200),
]


async def test_authorization_matrix_over_the_fhir_api(world: World, db: asyncpg.Pool) -> None:
    wrong = []
    for user, action, type_, key, expected in CELLS:
        before = len(await audit_rows(db, user_name=user, outcome="denied"))
        got = await _do(world, user, action, type_, key)
        if got != expected:
            wrong.append((user, action, type_, key, expected, got))
            continue
        if expected >= 400:
            after = len(await audit_rows(db, user_name=user, outcome="denied"))
            if after != before + 1:
                wrong.append((user, action, type_, key, "denial not audited", after - before))
    assert not wrong, wrong


async def test_search_filters_by_the_same_rules(world: World) -> None:
    expect = {  # user → patient keys whose observations a search may return
        "bs.noi": {"dept", "fac", "consent_a"},
        "bs.huyen": {"other", "consent", "consent_a", "consent_b"},
        "bhyt": {"dept", "fac", "consent_a"},
    }
    for user, keys in expect.items():
        c, _csrf = world.sessions[user]
        bundle = (await c.get("/fhir/Observation", params={"_count": "100", "_total": "accurate"})).json()
        got = {e["resource"]["id"] for e in bundle.get("entry", [])}
        assert got == {world.obs[k] for k in keys}, user
        assert bundle["total"] == len(keys), user  # _total counts only what the user may see
    c, _ = world.sessions["tiepdon.a"]
    assert (await c.get("/fhir/Observation")).status_code == 403
    patients = (await c.get("/fhir/Patient", params={"_count": "100"})).json()
    assert len(patients["entry"]) == 4  # demographics: province-wide for registration


async def test_break_the_glass_opens_flags_and_is_listed(world: World, db: asyncpg.Pool) -> None:
    c, csrf = world.sessions["bs.noi"]
    url = f"/fhir/Observation/{world.obs['other']}"
    assert (await c.get(url)).status_code == 404
    short = await c.post("/session/break-glass", json={"reason": "gấp"}, headers={"X-CSRF-Token": csrf})
    assert short.status_code == 403  # a reason is required
    r = await c.post("/session/break-glass", json={"reason": "Bệnh nhân hôn mê chuyển đến cấp cứu",
                                                   "patient_id": world.patients["other"]},
                     headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200, r.text
    assert (await c.get(url)).status_code == 200
    assert (await c.get(f"/fhir/Observation/{world.obs['dept']}")).status_code == 200
    flagged = list(await audit_rows(db, user_name="bs.noi", break_glass=True))
    assert {row["action"] for row in flagged} >= {"break-glass", "read"}
    assert any(row["patient_id"] == world.patients["other"] for row in flagged if row["action"] == "read")
    # receptionists may not break the glass
    rc, rcsrf = world.sessions["tiepdon.a"]
    denied = await rc.post("/session/break-glass", json={"reason": "Tôi muốn xem hồ sơ này"},
                           headers={"X-CSRF-Token": rcsrf})
    assert denied.status_code == 403
    assert await audit_rows(db, user_name="tiepdon.a", action="break-glass", outcome="denied")


async def test_break_the_glass_review_list_for_the_head_of_department(app: Any, world: World,
                                                                      db: asyncpg.Pool) -> None:
    c, csrf = world.sessions["bs.noi"]
    reason = "Bệnh nhân hôn mê chuyển đến cấp cứu"
    r = await c.post("/session/break-glass", json={"reason": reason, "patient_id": world.patients["other"]},
                     headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200, r.text
    assert (await c.get(f"/fhir/Observation/{world.obs['other']}")).status_code == 200
    p = world.p
    await add_user(db, app.state.repo, p, "tk.noi", [Grant("head_of_department", p.fac_a, p.dep_a1)])
    await add_user(db, app.state.repo, p, "tk.ngoai", [Grant("head_of_department", p.fac_a, p.dep_a2)])
    head, _ = await session_client(app, "tk.noi")
    other_head, _ = await session_client(app, "tk.ngoai")
    try:
        page = await head.get("/break-glass/review")
        assert page.status_code == 200
        assert "bs.noi" in page.text
        assert reason in page.text
        assert world.patients["other"] in page.text
        assert "bs.noi" not in (await other_head.get("/break-glass/review")).text  # another department's staff
    finally:
        await head.aclose()
        await other_head.aclose()
    nurse, _ = world.sessions["dd.noi"]
    assert (await nurse.get("/break-glass/review")).status_code == 403
    assert await audit_rows(db, user_name="tk.noi", action="search")  # opening the list is audited
    assert await audit_rows(db, user_name="dd.noi", outcome="denied")


async def test_switching_facility_changes_what_is_visible(app: Any, db: asyncpg.Pool, world: World) -> None:
    repo = app.state.repo
    await add_user(db, repo, world.p, "bs.2noi", [Grant("doctor", world.p.fac_a, world.p.dep_a1),
                                                  Grant("doctor", world.p.fac_b, world.p.dep_b1)])
    c, csrf = await session_client(app, "bs.2noi", facility_id=world.p.fac_a)
    try:
        assert (await c.get(f"/fhir/Observation/{world.obs['other']}")).status_code == 404
        r = await c.post("/session/switch", json={"facility_id": world.p.fac_b}, headers={"X-CSRF-Token": csrf})
        assert r.status_code == 200
        assert (await c.get(f"/fhir/Observation/{world.obs['other']}")).status_code == 200
        assert (await c.get(f"/fhir/Observation/{world.obs['dept']}")).status_code == 404
        bad = await c.post("/session/switch", json={"facility_id": "nowhere"}, headers={"X-CSRF-Token": csrf})
        assert bad.status_code == 403
        info = (await c.get("/session")).json()
        assert info["facility_id"] == world.p.fac_b
        assert len(info["choices"]) == 2
    finally:
        await c.aclose()
