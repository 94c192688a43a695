"""The public demo logins (``benhan.demo.logins``) sign in only in demo mode (issue 4: their passwords are
printed by ``benhan demo`` and listed in README.md, so anywhere else they would be an open door)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from tests.conftest import make_settings
from tests.integration.access_support import PASSWORD, add_user, audit_rows, build_province, login

from benhan.access.roles import Grant
from benhan.demo.load import create_logins
from benhan.demo.logins import DEMO_LOGINS, DemoLogin, demo_password, is_demo_login

SECRET = "a-long-random-secret-for-production-mode-tests-0123456789"


@pytest.fixture(params=["demo", "test", "production"])
async def mode_client(request: pytest.FixtureRequest, db: asyncpg.Pool,
                      database_url: str) -> AsyncIterator[tuple[str, httpx.AsyncClient, Any]]:
    from benhan.app import create_app

    mode = str(request.param)
    app = create_app(make_settings(mode=mode, secret_key=SECRET, pseudonym_key=SECRET), database_url=database_url)
    async with app.router.lifespan_context(app):
        p = await build_province(app.state.repo)
        await add_user(db, app.state.repo, p, "bs.thuong", [Grant("doctor", p.fac_a, p.dep_a1)])
        staff = p.practitioners["bs.thuong"]
        await create_logins(db, [DemoLogin("bacsi", demo_password("bacsi"), "doctor", "Bác sĩ", staff, p.fac_a,
                                           p.dep_a1)])
        transport = httpx.ASGITransport(app=app)
        # Production cookies are Secure: only sent back over https.
        base = "https://testserver" if mode == "production" else "http://testserver"
        async with httpx.AsyncClient(transport=transport, base_url=base) as c:
            yield mode, c, app


async def test_demo_login_only_in_demo_mode(mode_client: tuple[str, httpx.AsyncClient, Any],
                                            db: asyncpg.Pool) -> None:
    mode, c, _app = mode_client
    r = await login(c, "bacsi", password=demo_password("bacsi"))
    if mode == "demo":
        assert r.status_code == 200, r.text
        assert r.json()["user"]["username"] == "bacsi"
        assert await audit_rows(db, user_name="bacsi", action="login", outcome="success")
    else:
        assert r.status_code == 401, r.text
        assert r.json()["error"] == "bad_credentials"  # the same answer as a wrong password
        assert "benhan_session" not in r.cookies
        refused = await audit_rows(db, user_name="bacsi", action="login-failed")
        assert [orjson.loads(row["content"])["outcomeDesc"] for row in refused] == ["demo login outside demo mode"]
        # Upper case is the same account: no way around the check.
        assert (await login(c, "BacSi", password=demo_password("bacsi"))).status_code == 401
    # An ordinary staff login works in every mode.
    assert (await login(c, "bs.thuong", password=PASSWORD)).status_code == 200


async def test_demo_login_refused_through_the_login_form(mode_client: tuple[str, httpx.AsyncClient, Any]) -> None:
    mode, c, _app = mode_client
    page = await c.get("/login")
    csrf = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    form = {"username": "bacsi", "password": demo_password("bacsi"), "csrf_token": csrf, "next": "/board"}
    r = await c.post("/login", data=form)
    assert r.status_code == (303 if mode == "demo" else 401), r.text


def test_every_demo_username_is_recognised() -> None:
    assert all(is_demo_login(u) and is_demo_login(u.upper()) for u, _r, _l in DEMO_LOGINS)
    assert not is_demo_login("bs.thuong")
