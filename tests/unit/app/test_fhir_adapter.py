"""The lean /fhir ASGI adapter (benhan.fhir.api) driven with raw ASGI messages: no database, no Starlette."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any, cast

import orjson
import pytest

from benhan.fhir.api import FhirApi, fhir_path, read_body
from benhan.fhir.storage.protocol import Repository, StoredResource
from benhan.kernel.context import RequestContext
from benhan.kernel.errors import BenhanError, ErrorCode

Message = dict[str, Any]
PATIENT = StoredResource("Patient", "p1", 3, datetime(2024, 5, 1, 8, 0, tzinfo=UTC), False,
                         b'{"resourceType":"Patient","id":"p1"}')


class FakeRepo:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.seen: list[RequestContext] = []

    async def read(self, ctx: RequestContext, type_: str, id_: str) -> StoredResource:
        self.seen.append(ctx)
        if self.fail:
            raise RuntimeError("secret detail from deep inside")
        if id_ != PATIENT.id:
            raise BenhanError(ErrorCode.NOT_FOUND, f"{type_}/{id_} is not known")
        return PATIENT


async def caller(headers: dict[str, str], client: tuple[str, int] | None, method: str, path: str) -> RequestContext:
    if headers.get("authorization") != "Bearer ok" and path != "metadata":
        raise BenhanError(ErrorCode.UNAUTHENTICATED, "no", headers={"WWW-Authenticate": "Bearer"})
    return RequestContext(username="t", remote_addr=client[0] if client else None,
                          user_agent=headers.get("user-agent"), request_id=headers.get("x-request-id") or "r")


def make_api(repo: FakeRepo | None = None, max_body: int = 100, base_url: str | None = None,
             who: Any = caller) -> FhirApi:
    fake = repo or FakeRepo()
    return FhirApi(lambda: cast(Repository, fake), lambda: None, who, base_url, max_body)


def scope_of(method: str, path: str, headers: list[tuple[bytes, bytes]] | None = None, query: bytes = b"",
             root_path: str = "") -> dict[str, Any]:
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
            "path": path, "raw_path": path.encode(), "query_string": query, "root_path": root_path,
            "headers": headers if headers is not None else [(b"host", b"t"), (b"authorization", b"Bearer ok")],
            "client": ("10.0.0.7", 5000), "server": ("t", 80)}


async def call(api: FhirApi, scope: dict[str, Any], messages: list[Message] | None = None
               ) -> tuple[int, dict[str, str], bytes, list[Message]]:
    incoming = list(messages or [{"type": "http.request", "body": b"", "more_body": False}])
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    path = fhir_path(scope)
    assert path is not None
    await api.serve(path, scope, receive, send)  # type: ignore[arg-type]
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    headers = {k.decode(): v.decode() for k, v in sent[0]["headers"]}
    assert len(headers) == len(sent[0]["headers"])  # no header sent twice
    return sent[0]["status"], headers, sent[1]["body"], sent


def test_fhir_path_matches_fhir_and_below_only() -> None:
    assert fhir_path(scope_of("GET", "/fhir")) == ""
    assert fhir_path(scope_of("GET", "/fhir/")) == ""
    assert fhir_path(scope_of("GET", "/fhir/Patient/p1")) == "Patient/p1"
    assert fhir_path(scope_of("GET", "/fhirx")) is None
    assert fhir_path(scope_of("GET", "/login")) is None
    assert fhir_path(scope_of("GET", "/app/fhir/metadata", root_path="/app")) == "metadata"
    assert fhir_path(scope_of("GET", "/appx/fhir/metadata", root_path="/app")) is None


async def test_read_headers_and_body() -> None:
    status, headers, body, _ = await call(make_api(), scope_of("GET", "/fhir/Patient/p1"))
    assert status == 200
    assert body == PATIENT.content
    assert headers["etag"] == 'W/"3"'
    assert headers["content-location"] == "http://t/fhir/Patient/p1/_history/3"
    assert headers["last-modified"] == "Wed, 01 May 2024 08:00:00 GMT"
    assert headers["content-type"] == "application/fhir+json; charset=utf-8"
    assert headers["content-length"] == str(len(PATIENT.content))


async def test_head_sends_the_headers_of_a_get_and_no_body() -> None:
    api = make_api()
    _, got, _, _ = await call(api, scope_of("GET", "/fhir/Patient/p1"))
    status, headers, body, _ = await call(api, scope_of("HEAD", "/fhir/Patient/p1"))
    assert status == 200
    assert body == b""
    assert headers == got


async def test_not_modified_has_no_content_headers() -> None:
    headers_in = [(b"authorization", b"Bearer ok"), (b"if-none-match", b'W/"3"')]
    status, headers, body, _ = await call(make_api(), scope_of("GET", "/fhir/Patient/p1", headers_in))
    assert (status, body) == (304, b"")
    assert "content-type" not in headers
    assert "content-length" not in headers
    assert headers["etag"] == 'W/"3"'


async def test_unauthenticated_gets_401_with_www_authenticate() -> None:
    status, headers, body, _ = await call(make_api(), scope_of("GET", "/fhir/Patient/p1", [(b"host", b"t")]))
    assert status == 401
    assert headers["www-authenticate"] == "Bearer"
    assert b"BH-4001" in body


async def test_unexpected_error_in_the_router_is_a_500_outcome_without_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR):
        status, headers, body, _ = await call(make_api(FakeRepo(fail=True)), scope_of("GET", "/fhir/Patient/p1"))
    assert status == 500
    outcome = orjson.loads(body)
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["details"]["coding"][0]["code"] == "BH-5000"
    assert b"secret detail" not in body
    assert b"Traceback" not in body
    assert headers["content-type"].startswith("application/fhir+json")
    assert any(r.exc_info for r in caplog.records)


async def test_unexpected_error_in_the_adapter_is_a_500_outcome_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    async def broken(*_args: object) -> RequestContext:
        raise RuntimeError("secret detail of the session store")

    with caplog.at_level(logging.ERROR, logger="benhan.fhir.api"):
        status, _, body, _ = await call(make_api(who=broken), scope_of("GET", "/fhir/Patient/p1"))
    assert status == 500
    assert orjson.loads(body)["issue"][0]["details"]["coding"][0]["code"] == "BH-5000"
    assert b"secret detail" not in body
    assert b"Traceback" not in body
    logged = [r for r in caplog.records if r.name == "benhan.fhir.api"]
    assert logged
    assert logged[0].exc_info is not None


async def test_declared_body_over_the_limit_is_refused_before_reading() -> None:
    headers_in = [(b"authorization", b"Bearer ok"), (b"content-length", b"101")]
    status, _, body, _ = await call(make_api(), scope_of("POST", "/fhir/Patient", headers_in), [])
    assert status == 413
    assert b"BH-1005" in body


async def test_streamed_body_over_the_limit_is_refused() -> None:
    chunks = [{"type": "http.request", "body": b"x" * 60, "more_body": True},
              {"type": "http.request", "body": b"x" * 60, "more_body": False}]
    status, _, body, _ = await call(make_api(), scope_of("POST", "/fhir/Patient"), chunks)
    assert status == 413
    assert b"BH-1005" in body


async def test_body_in_several_messages_is_joined() -> None:
    chunks: list[Message] = [{"type": "http.request", "body": b"ab", "more_body": True},
                             {"type": "http.request", "body": b"", "more_body": True},
                             {"type": "http.request", "body": b"cd", "more_body": False}]

    async def receive() -> Message:
        return chunks.pop(0)

    assert await read_body(receive, None, 4) == b"abcd"  # type: ignore[arg-type]


async def test_client_gone_before_its_body_is_an_empty_400() -> None:
    headers_in = [(b"authorization", b"Bearer ok"), (b"content-length", b"50")]
    status, headers, body, _ = await call(make_api(), scope_of("POST", "/fhir/Patient", headers_in),
                                          [{"type": "http.disconnect"}])
    assert (status, body) == (400, b"")
    assert headers == {"content-length": "0"}


async def test_method_outside_the_fhir_interactions_is_405_with_allow() -> None:
    status, headers, body, _ = await call(make_api(), scope_of("OPTIONS", "/fhir/Patient"))
    assert status == 405
    assert "GET" in headers["allow"]
    assert b"BH-2005" in body


async def test_request_details_reach_the_context() -> None:
    repo = FakeRepo()
    headers_in = [(b"authorization", b"Bearer ok"), (b"user-agent", b"ua/1"), (b"x-request-id", b"rq-9")]
    await call(make_api(repo), scope_of("GET", "/fhir/Patient/p1", headers_in))
    ctx = repo.seen[0]
    assert (ctx.remote_addr, ctx.user_agent, ctx.request_id) == ("10.0.0.7", "ua/1", "rq-9")


async def test_base_url_from_host_and_root_path_or_settings() -> None:
    headers_in = [(b"authorization", b"Bearer ok"), (b"host", b"emr.example:8443")]
    scope = scope_of("GET", "/app/fhir/Patient/p1", headers_in, root_path="/app")
    _, headers, _, _ = await call(make_api(), scope)
    assert headers["content-location"] == "http://emr.example:8443/app/fhir/Patient/p1/_history/3"
    no_host = scope_of("GET", "/fhir/Patient/p1", [(b"authorization", b"Bearer ok")])
    _, headers, _, _ = await call(make_api(), {**no_host, "server": ("10.1.1.1", 8000)})
    assert headers["content-location"] == "http://10.1.1.1:8000/fhir/Patient/p1/_history/3"
    _, headers, _, _ = await call(make_api(base_url="https://emr.example/fhir"), scope)
    assert headers["content-location"] == "https://emr.example/fhir/Patient/p1/_history/3"


async def test_query_string_that_is_not_utf8_is_a_400() -> None:
    status, _, body, _ = await call(make_api(), scope_of("GET", "/fhir/Patient/p1", query=b"_summary=\xff"))
    assert status == 400
    assert b"BH-1008" in body


class SlowSearch(FakeRepo):
    def __init__(self) -> None:
        super().__init__()
        self.cancelled = False

    async def search(self, ctx: RequestContext, query: object) -> object:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        raise AssertionError("not cancelled")


async def test_a_search_whose_client_left_is_cancelled() -> None:
    repo = SlowSearch()
    api = make_api(repo)
    sent: list[Message] = []
    incoming = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> Message:
        if incoming:
            return incoming.pop(0)
        await asyncio.sleep(0.05)  # the client waits a moment, then goes away
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = scope_of("GET", "/fhir/Observation", query=b"_summary=count")
    started = asyncio.get_running_loop().time()
    await asyncio.wait_for(api.serve("Observation", scope, receive, send), 5)  # type: ignore[arg-type]
    assert repo.cancelled
    assert asyncio.get_running_loop().time() - started < 2
    assert sent[0]["status"] == 400


async def test_a_read_by_id_is_not_watched_for_a_departing_client() -> None:
    # receive() answers http.disconnect at once after the body (call()): a read by id still completes
    status, _headers, body, _sent = await call(make_api(), scope_of("GET", "/fhir/Patient/p1"))
    assert status == 200
    assert orjson.loads(body)["id"] == "p1"
