"""Walk every route of the app: without credentials nothing but the public pages answers with content.

Together with the import-linter contract "single policy point", this shows that no route or page reaches
clinical data around the repository's policy (issue 4)."""

from __future__ import annotations

import re
from typing import Any

import httpx
from starlette.routing import Mount, Route

PUBLIC = re.compile(
    r"^/(healthz|readyz|login|lang/.*|static/.*|\.well-known/.*|oauth2/.*|fhir/metadata)$"
)
DENIED = {401, 403, 404, 405}


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "00000000-0000-4000-8000-000000000000", path)


def all_routes(app: Any) -> list[tuple[str, set[str]]]:
    out: list[tuple[str, set[str]]] = []
    for route in app.routes:
        if isinstance(route, Route):
            out.append((route.path, set(route.methods or {"GET"})))
        elif isinstance(route, Mount):
            out.append((route.path + "/x", {"GET"}))
    return out


async def test_every_route_refuses_anonymous_callers(app: Any, anon_client: httpx.AsyncClient) -> None:
    routes = all_routes(app)
    assert len(routes) > 30
    checked = 0
    for path, methods in routes:
        url = concrete(path)
        if PUBLIC.match(url) or url == "/":
            continue
        for method in sorted(methods - {"HEAD", "OPTIONS"}):
            resp = await anon_client.request(method, url, follow_redirects=False)
            redirect = resp.status_code in (302, 303, 307) and "/login" in resp.headers.get("location", "")
            assert redirect or resp.status_code in DENIED, (method, url, resp.status_code, resp.text[:200])
            assert "Nguyễn" not in resp.text
            checked += 1
    assert checked > 30


async def test_cookie_session_page_posts_need_the_csrf_token(app: Any, anon_client: httpx.AsyncClient) -> None:
    """A signed-in browser's form post without the session's CSRF token is refused (cross-site request)."""
    from tests.integration.access_support import add_user, build_province, login

    from benhan.access.roles import Grant

    prov = await build_province(app.state.repo)
    await add_user(app.state.pool, app.state.repo, prov, "bs.csrf", [Grant("doctor", prov.fac_a, prov.dep_a1)])
    signed = await login(anon_client, "bs.csrf")
    assert signed.status_code == 200, signed.text
    csrf = signed.json()["csrf_token"]
    form = {"q": "x"}
    refused = await anon_client.post("/reception/qr", data=form)
    assert refused.status_code == 403
    wrong = await anon_client.post("/reception/qr", data={**form, "csrf_token": "x" * 43})
    assert wrong.status_code == 403
    allowed = await anon_client.post("/reception/qr", data={**form, "csrf_token": csrf})
    assert allowed.status_code != 403
    header = await anon_client.post("/reception/qr", data=form, headers={"X-CSRF-Token": csrf})
    assert header.status_code != 403
