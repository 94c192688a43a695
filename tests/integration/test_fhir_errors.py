"""Bad input gets a documented OperationOutcome and leaves the database unchanged."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest

FJ = {"content-type": "application/fhir+json"}


async def counts(db: asyncpg.Pool) -> tuple[int, int]:
    async with db.acquire() as conn:
        return (await conn.fetchval("SELECT count(*) FROM resource"),
                await conn.fetchval("SELECT count(*) FROM resource_history"))


def code_of(resp: httpx.Response) -> str:
    body = resp.json()
    assert body["resourceType"] == "OperationOutcome"
    assert "Traceback" not in resp.text
    return str(body["issue"][0]["details"]["coding"][0]["code"])


@pytest.mark.parametrize(
    ("method", "url", "content", "status", "code"),
    [
        ("POST", "/fhir/Patient", b"{not json", 400, "BH-1001"),
        ("POST", "/fhir/Patient", b'{"resourceType": "Observation", "status": "final"}', 400, "BH-1003"),
        ("POST", "/fhir/Patient", b'{"resourceType": "Patient", "gender": "robot"}', 400, "BH-1002"),
        ("POST", "/fhir/Patient", b'{"resourceType": "Patient", "birthDate": "30/04/1980"}', 400, "BH-1002"),
        ("POST", "/fhir/Patient", b'{"resourceType": "Patient", "colour": "blue"}', 400, "BH-1002"),
        ("POST", "/fhir/Patient", b"[]", 400, "BH-1002"),
        ("POST", "/fhir/Patient", b"", 400, "BH-1007"),
        ("PUT", "/fhir/Patient/abc", b'{"resourceType": "Patient", "id": "xyz"}', 400, "BH-1004"),
        ("PUT", "/fhir/Patient/a_b", b'{"resourceType": "Patient", "id": "a_b"}', 400, "BH-1006"),
        ("POST", "/fhir/Unicorn", b'{"resourceType": "Unicorn"}', 404, "BH-2001"),
        ("GET", "/fhir/Patient/does-not-exist", b"", 404, "BH-2002"),
        # FHIR JSON on PATCH is a FHIRPath Patch (fhirpatch.html): its body must be a Parameters
        ("PATCH", "/fhir/Patient/x", b"[]", 400, "BH-1040"),
    ],
)
async def test_bad_input(client: httpx.AsyncClient, db: asyncpg.Pool, method: str, url: str, content: bytes,
                         status: int, code: str) -> None:
    before = await counts(db)
    resp = await client.request(method, url, content=content, headers=FJ)
    assert resp.status_code == status, resp.text
    assert code_of(resp) == code
    assert await counts(db) == before


async def test_invalid_resource_names_each_problem(client: httpx.AsyncClient) -> None:
    body = {"resourceType": "Patient", "gender": "robot", "name": [{"given": "An"}], "colour": 1}
    resp = await client.post("/fhir/Patient", json=body, headers=FJ)
    assert resp.status_code == 400
    expressions = {e for issue in resp.json()["issue"] for e in issue.get("expression", [])}
    assert {"Patient.gender", "Patient.colour"} <= expressions
    assert any(e.startswith("Patient.name[0].given") for e in expressions)


async def test_oversized_body(db: asyncpg.Pool, database_url: str) -> None:
    from tests.conftest import make_settings

    from benhan.app import create_app

    small = create_app(make_settings(max_body_bytes=200), database_url=database_url)
    async with small.router.lifespan_context(small):
        transport = httpx.ASGITransport(app=small)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            big = {"resourceType": "Patient", "name": [{"text": "x" * 500}]}
            resp = await c.post("/fhir/Patient", json=big, headers=FJ)
    assert resp.status_code == 413
    assert code_of(resp) == "BH-1005"
    assert await counts(db) == (0, 0)


async def test_wrong_method(client: httpx.AsyncClient) -> None:
    resp = await client.request("PATCH", "/fhir/Patient", content=b"[]", headers=FJ)
    assert resp.status_code == 405
    assert code_of(resp) == "BH-2005"


async def test_client_gone_before_its_body_is_not_a_server_error(app: object, db: asyncpg.Pool) -> None:
    # A client that disconnects while sending its body (a phone losing its network, a load test's clients at
    # the end of a level) gets nothing stored and no exception escapes to the server (it used to be logged as
    # "Exception in ASGI application" with a traceback).
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/fhir/Patient", "raw_path": b"/fhir/Patient", "query_string": b"", "root_path": "",
             "headers": [(b"content-type", b"application/fhir+json"), (b"content-length", b"500")],
             "client": ("127.0.0.1", 5000), "server": ("t", 80)}
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    await app(scope, receive, send)  # type: ignore[operator]
    assert sent[0]["type"] == "http.response.start"
    assert sent[0]["status"] == 400
    assert await counts(db) == (0, 0)


async def test_unexpected_error_before_the_router_is_a_500_outcome(app: Any, client: httpx.AsyncClient,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # The lean /fhir path has no Starlette ServerErrorMiddleware behind it: an exception while resolving the
    # caller (the session store failing, say) must still come back as an OperationOutcome, not a stack trace.
    async def broken(*_args: object) -> None:
        raise RuntimeError("connection to 10.0.0.5 lost")

    monkeypatch.setattr(app.state.auth, "from_bearer", broken)
    resp = await client.get("/fhir/Patient/x")
    assert resp.status_code == 500
    assert code_of(resp) == "BH-5000"
    assert "10.0.0.5" not in resp.text


async def test_head_answers_the_headers_of_a_read(client: httpx.AsyncClient) -> None:
    created = await client.post("/fhir/Patient", json={"resourceType": "Patient", "gender": "female"}, headers=FJ)
    location = created.headers["location"].split("/fhir", 1)[1].split("/_history")[0]
    got = await client.get(f"/fhir{location}")
    head = await client.head(f"/fhir{location}")
    assert head.status_code == 200
    assert head.content == b""
    for name in ("etag", "last-modified", "content-location", "content-type", "content-length"):
        assert head.headers[name] == got.headers[name], name
    missing = await client.head("/fhir/Patient/does-not-exist")
    assert missing.status_code == 404
    assert missing.content == b""
