"""The administration and audit screens (issue 4): who may open them, what a facility administrator may touch,
CSRF, messages at the field with the input kept, users created on the screen can sign in, the organisation
tree and OAuth2 clients, the auditor's search and "who viewed this record"; every refusal is audited."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pyotp
import pytest
from tests.integration.access_support import (
    SYSTEM,
    Province,
    add_user,
    audit_rows,
    build_province,
    encounter,
    login,
    patient,
    session_client,
)
from tests.integration.test_web_pages import CountingPool

from benhan.access.roles import Grant

BUDGETS_FILE = "web_query_budgets.json"
NEW_PASSWORD = "mot-mat-khau-moi-456"


@dataclass
class World:
    p: Province
    s: dict[str, tuple[httpx.AsyncClient, str]]
    secrets: dict[str, str]


USERS = {
    "qt.a": lambda p: [Grant("facility_admin", p.fac_a)],
    "qt.tinh": lambda p: [Grant("facility_admin", p.province)],
    "kt.a": lambda p: [Grant("auditor", p.fac_a)],
    "bs.a1": lambda p: [Grant("doctor", p.fac_a, p.dep_a1)],
    "bs.b1": lambda p: [Grant("doctor", p.fac_b, p.dep_b1)],
    "hai.noi": lambda p: [Grant("nurse", p.fac_a, p.dep_a1), Grant("nurse", p.fac_b, p.dep_b1)],
}


@pytest.fixture
async def world(app: Any, db: asyncpg.Pool) -> Any:
    repo = app.state.repo
    p = await build_province(repo)
    secrets = {}
    for name, grants in USERS.items():
        secret = pyotp.random_base32() if name.startswith("qt.") else None
        await add_user(db, repo, p, name, grants(p), totp_secret=secret)
        if secret:
            secrets[name] = secret
    sessions = {}
    for name in USERS:
        where = p.province if name == "qt.tinh" else None
        sessions[name] = await session_client(app, name, facility_id=where, totp_secret=secrets.get(name))
    yield World(p, sessions, secrets)
    for c, _csrf in sessions.values():
        await c.aclose()


async def _denied(db: asyncpg.Pool, user: str) -> int:
    return len(await audit_rows(db, user_name=user, outcome="denied"))


PAGES = ["/admin/users", "/admin/users/new", "/admin/org", "/admin/clients", "/audit"]
ALLOWED = {"qt.a": PAGES[:4], "qt.tinh": PAGES[:4], "kt.a": ["/audit"], "bs.a1": [], "bs.b1": []}


async def test_each_screen_opens_for_its_roles_only_and_refusals_are_audited(world: World, db: asyncpg.Pool) -> None:
    wrong = []
    for user, allowed in ALLOWED.items():
        c, _csrf = world.s[user]
        for url in PAGES:
            before = await _denied(db, user)
            r = await c.get(url)
            expected = 200 if url in allowed else 403
            if r.status_code != expected:
                wrong.append((user, url, r.status_code))
            elif expected == 403 and await _denied(db, user) <= before:
                wrong.append((user, url, "refusal not audited"))
    assert not wrong, wrong
    # the menu shows each entry only to the roles that may use it
    home = {u: (await world.s[u][0].get("/patients/none")).text for u in ("qt.a", "kt.a", "bs.a1")}
    assert 'href="/admin/users"' in home["qt.a"]
    assert 'href="/audit"' not in home["qt.a"]
    assert 'href="/audit"' in home["kt.a"]
    assert 'href="/admin/users"' not in home["kt.a"]
    assert 'href="/admin/users"' not in home["bs.a1"]
    assert 'href="/audit"' not in home["bs.a1"]


async def test_facility_admin_sees_and_changes_only_their_facility(app: Any, world: World, db: asyncpg.Pool) -> None:
    c, csrf = world.s["qt.a"]
    p = world.p
    listing = (await c.get("/admin/users")).text
    assert "bs.a1" in listing
    assert "hai.noi" in listing
    assert "bs.b1" not in listing
    assert "bs.b1" in (await world.s["qt.tinh"][0].get("/admin/users")).text
    other = p.users["bs.b1"]
    assert (await c.get(f"/admin/users/{other}")).status_code == 404
    before = await _denied(db, "qt.a")
    assert (await c.post(f"/admin/users/{other}/disable", data={"csrf_token": csrf})).status_code == 404
    # a user who also works at facility B is visible but not disabled from facility A alone
    assert (await c.post(f"/admin/users/{p.users['hai.noi']}/disable", data={"csrf_token": csrf})).status_code == 403
    grant_b = {"role": "nurse", "facility_id": p.fac_b, "department_id": "", "csrf_token": csrf}
    assert (await c.post(f"/admin/users/{p.users['bs.a1']}/grant", data=grant_b)).status_code == 403
    new_b = {"username": "moi.b", "display_name": "Người Mới", "password": NEW_PASSWORD, **grant_b}
    assert (await c.post("/admin/users", data=new_b)).status_code == 403
    dept_b = {"name": "Khoa Lạ", "csrf_token": csrf}
    assert (await c.post("/admin/org/department", data={**dept_b, "facility_id": p.fac_b})).status_code == 404
    assert (await c.post("/admin/org/facility", data={**dept_b, "code": ""})).status_code == 403
    assert await _denied(db, "qt.a") >= before + 6
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as still:
        assert (await login(still, "bs.b1")).status_code == 200  # not disabled


async def test_posts_need_the_csrf_token(world: World) -> None:
    c, _csrf = world.s["qt.a"]
    uid = world.p.users["bs.a1"]
    for url in (f"/admin/users/{uid}/disable", "/admin/users", "/admin/org/department", "/admin/clients"):
        assert (await c.post(url, data={"name": "x"})).status_code == 403, url
    assert 'data-testid="state">đang hoạt động<' in (await c.get(f"/admin/users/{uid}")).text


async def test_create_user_with_messages_then_sign_in_grant_and_revoke(app: Any, world: World) -> None:
    c, csrf = world.s["qt.a"]
    p = world.p
    bad = {"username": "A", "display_name": "Trần Thị Lan", "password": "ngan", "role": "nurse",
           "facility_id": p.fac_a, "department_id": p.dep_a1, "csrf_token": csrf}
    r = await c.post("/admin/users", data=bad)
    assert r.status_code == 422
    assert 'value="Trần Thị Lan"' in r.text
    assert 'id="m-username"' in r.text
    assert "3–40" in r.text
    assert "10 ký tự" in r.text
    wrong_dept = {**bad, "username": "dd.lan", "password": NEW_PASSWORD, "department_id": p.dep_b1}
    r = await c.post("/admin/users", data=wrong_dept)
    assert r.status_code == 422
    assert "Khoa không thuộc" in r.text
    r = await c.post("/admin/users", data={**wrong_dept, "department_id": p.dep_a1})
    assert r.status_code == 200
    assert 'data-testid="done"' in r.text
    assert (await c.post("/admin/users", data={**wrong_dept, "department_id": p.dep_a1})).status_code == 422
    new, _csrf = await session_client(app, "dd.lan", password=NEW_PASSWORD)
    assert (await new.get("/session")).json()["roles"] == ["nurse"]
    uid = r.text.split('action="/admin/users/', 1)[1].split("/", 1)[0]
    grant = {"role": "head_of_department", "facility_id": p.fac_a, "department_id": p.dep_a2, "csrf_token": csrf}
    assert (await c.post(f"/admin/users/{uid}/grant", data=grant)).status_code == 200
    assert (await c.post(f"/admin/users/{uid}/revoke", data=grant)).status_code == 200
    roles = await app.state.repo.search_json(SYSTEM, "PractitionerRole", [("organization", f"Organization/{p.dep_a2}")])
    assert [r["active"] for r in roles] == [False]
    assert (await app.state.repo.read(SYSTEM, "PractitionerRole", roles[0]["id"])).version == 2
    await new.aclose()


async def test_totp_requirement_shown_and_enforced_for_new_admins(app: Any, world: World) -> None:
    c, csrf = world.s["qt.a"]
    form = {"username": "qt.moi", "display_name": "Quản Trị Mới", "password": NEW_PASSWORD,
            "role": "facility_admin", "facility_id": world.p.fac_a, "csrf_token": csrf}
    r = await c.post("/admin/users", data=form)
    assert r.status_code == 200
    assert 'data-testid="totp-uri"' in r.text
    assert "otpauth://" in r.text
    assert "required by policy" in r.text or "bắt buộc" in r.text


async def test_disable_enable_unlock_and_reset_password(app: Any, world: World) -> None:
    c, csrf = world.s["qt.a"]
    uid = world.p.users["bs.a1"]
    victim, _ = world.s["bs.a1"]
    r = await c.post(f"/admin/users/{uid}/disable", data={"csrf_token": csrf})
    assert r.status_code == 200
    assert (await victim.get("/session")).status_code == 401  # signed out everywhere at once
    outsider = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    assert (await login(outsider, "bs.a1")).status_code != 200
    await c.post(f"/admin/users/{uid}/enable", data={"csrf_token": csrf})
    for _ in range(6):
        await login(outsider, "bs.a1", password="sai-mat-khau-123")
    assert (await login(outsider, "bs.a1")).status_code == 429
    await c.post(f"/admin/users/{uid}/unlock", data={"csrf_token": csrf})
    short = await c.post(f"/admin/users/{uid}/password", data={"password": "ngan", "csrf_token": csrf})
    assert short.status_code == 422
    assert 'aria-invalid="true"' in short.text
    await c.post(f"/admin/users/{uid}/password", data={"password": NEW_PASSWORD, "csrf_token": csrf})
    assert (await login(outsider, "bs.a1", password=NEW_PASSWORD)).status_code == 200
    await outsider.aclose()


async def test_org_tree_and_clients(app: Any, world: World) -> None:
    c, csrf = world.s["qt.a"]
    p = world.p
    bad = await c.post("/admin/org/department", data={"name": " ", "facility_id": p.fac_a, "csrf_token": csrf})
    assert bad.status_code == 422
    assert "Nhập tên" in bad.text
    await c.post("/admin/org/department", data={"name": "Khoa Nhi", "facility_id": p.fac_a, "csrf_token": csrf})
    depts = await app.state.repo.search_json(SYSTEM, "Organization", [("name", "Khoa Nhi")])
    dept = depts[0]["id"]
    room_form = {"kind": "room", "name": "Phòng 7", "department_id": dept, "csrf_token": csrf}
    await c.post("/admin/org/place", data=room_form)
    room = (await app.state.repo.search_json(SYSTEM, "Location", [("name", "Phòng 7")]))[0]["id"]
    await c.post("/admin/org/place", data={"kind": "bed", "name": "Giường 7A", "department_id": dept,
                                           "parent_id": room, "csrf_token": csrf})
    await c.post("/admin/org/rename", data={"type": "Organization", "id": dept, "name": "Khoa Nhi Tổng hợp",
                                            "csrf_token": csrf})
    page = (await c.get("/admin/org")).text
    assert "Khoa Nhi Tổng hợp" in page
    assert "Giường 7A" in page
    assert "Khoa Khám bệnh" not in page
    assert (await app.state.repo.read(SYSTEM, "Organization", dept)).version == 2
    tinh, tcsrf = world.s["qt.tinh"]
    r = await tinh.post("/admin/org/facility", data={"name": "Trạm Y tế xã", "code": "02099", "csrf_token": tcsrf})
    assert r.status_code == 200
    assert "Trạm Y tế xã" in r.text
    # clients
    bad = await c.post("/admin/clients", data={"client_id": "app.a", "name": "Ứng dụng", "kind": "public",
                                               "scope": "launch user/*.rs", "redirect_uris": "http://evil.example/cb",
                                               "csrf_token": csrf})
    assert bad.status_code == 422
    assert 'value="app.a"' in bad.text
    assert "https://" in bad.text
    r = await c.post("/admin/clients", data={"client_id": "lis.a", "name": "LIS", "kind": "secret",
                                             "scope": "system/*.rs", "csrf_token": csrf})
    first = r.text.split('data-testid="client-secret"', 1)[1].split(">", 1)[1].split("<", 1)[0]
    assert len(first) > 30
    rotated = await c.post("/admin/clients/lis.a/rotate", data={"csrf_token": csrf})
    second = rotated.text.split('data-testid="client-secret"', 1)[1].split(">", 1)[1].split("<", 1)[0]
    assert second != first
    anon = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    token = {"grant_type": "client_credentials", "scope": "system/Patient.rs"}
    assert (await anon.post("/oauth2/token", data=token, auth=("lis.a", first))).status_code == 401
    assert (await anon.post("/oauth2/token", data=token, auth=("lis.a", second))).status_code == 200
    await c.post("/admin/clients/lis.a/disable", data={"csrf_token": csrf})
    assert (await anon.post("/oauth2/token", data=token, auth=("lis.a", second))).status_code == 401
    await anon.aclose()
    assert (await tinh.post("/admin/clients/lis.a/enable", data={"csrf_token": tcsrf})).status_code == 200
    other, _ocsrf = world.s["qt.a"]
    assert "lis.a" in (await other.get("/admin/clients")).text


async def test_auditor_search_detail_and_paging(app: Any, world: World, db: asyncpg.Pool) -> None:
    assert (await world.s["bs.a1"][0].get("/admin/users")).status_code == 403
    c, _csrf = world.s["kt.a"]
    r = await c.get("/audit", params={"user": "bs.a1", "outcome": "denied"})
    assert r.status_code == 200
    assert r.text.count('href="/audit/') >= 1
    link = r.text.split('href="/audit/', 1)[1].split('"', 1)[0]
    assert link.count("/") == 2  # chain/seq/n: a denial is recorded in a block of the read audit
    detail = await c.get(f"/audit/{link}")
    assert detail.status_code == 200
    assert "denied" in detail.text
    assert "bs.a1" in detail.text
    assert 'data-testid="btg"' in detail.text
    bad = await c.get("/audit", params={"from": "31/13/2026", "user": "bs.a1"})
    assert bad.status_code == 422
    assert 'value="31/13/2026"' in bad.text
    assert "dd/mm/yyyy" in bad.text
    looked = await audit_rows(db, user_name="kt.a")
    assert {("search", "success"), ("read", "success")} <= {(r["action"], r["outcome"]) for r in looked}
    many = await c.get("/audit")
    assert 'data-testid="audit-rows"' in many.text


async def test_who_viewed_this_record(app: Any, world: World, db: asyncpg.Pool) -> None:
    repo, p = app.state.repo, world.p
    pid = (await repo.create(SYSTEM, patient("Phạm Văn Xem"))).resource.id
    await repo.create(SYSTEM, encounter(pid, p.dep_a1))
    c, _csrf = world.s["bs.a1"]
    chart = await c.get(f"/patients/{pid}")
    assert f'href="/patients/{pid}/accesses"' in chart.text
    r = await c.get(f"/patients/{pid}/accesses")
    assert r.status_code == 200
    assert "bs.a1" in r.text
    assert "Bác sĩ" in r.text
    before = await _denied(db, "bs.b1")
    hidden = await world.s["bs.b1"][0].get(f"/patients/{pid}/accesses")
    assert hidden.status_code == 404
    assert "bs.a1" not in hidden.text
    assert await _denied(db, "bs.b1") > before
    seen = await audit_rows(db, user_name="bs.a1", action="search", patient_id=pid)
    assert seen, "opening the list is audited"


@pytest.mark.parametrize("page", ["admin_users", "audit"])
async def test_query_budget(app: Any, world: World, page: str) -> None:
    """The user list and the audit search cost a fixed number of statements whatever the number of rows."""
    import json
    from pathlib import Path

    budgets = json.loads((Path(__file__).parent / BUDGETS_FILE).read_text())
    user = "qt.a" if page == "admin_users" else "kt.a"
    c, _csrf = world.s[user]
    url = "/admin/users" if page == "admin_users" else "/audit"
    pool = app.state.pool
    counter = CountingPool(pool)
    app.state.repo.pool = app.state.auth.store.pool = app.state.admin.reports.pool = counter
    try:
        await counter.clear()
        assert (await c.get(url)).status_code == 200
        one = len(await counter.counted())
        for i in range(5):
            await add_user(pool, app.state.repo, world.p, f"them.{i}", [Grant("nurse", world.p.fac_a)])
        await counter.clear()
        assert (await c.get(url)).status_code == 200
        many = len(await counter.counted())
    finally:
        app.state.repo.pool = app.state.auth.store.pool = app.state.admin.reports.pool = pool
    assert many == one, counter.queries
    assert many <= budgets[page], f"{page}: {many} queries > budget {budgets[page]}"
