"""benhan.server_http: a response's status line, headers and body leave in one socket write."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
import uvicorn
import uvloop
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from benhan.server_http import FLUSH_AT, CoalescingHttpToolsProtocol, CoalescingTransport


class FakeTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.events: list[str] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)
        self.events.append("write")

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True
        self.events.append("close")

    def abort(self) -> None:
        self.closing = True
        self.events.append("abort")

    def write_eof(self) -> None:
        self.events.append("eof")

    def get_write_buffer_size(self) -> int:
        return 7

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 5)}.get(name, default)


def _coalescing() -> tuple[CoalescingTransport, FakeTransport]:
    fake = FakeTransport()
    return CoalescingTransport(fake, asyncio.get_running_loop()), fake  # type: ignore[arg-type]


async def test_writes_of_one_step_leave_together_at_its_end() -> None:
    t, fake = _coalescing()
    t.write(b"HTTP/1.1 200 OK\r\n\r\n")
    t.write(bytearray(b"{}"))
    t.write(b"")
    assert fake.writes == []
    assert t.get_write_buffer_size() == 7 + 21
    await asyncio.sleep(0)
    assert fake.writes == [b"HTTP/1.1 200 OK\r\n\r\n{}"]
    t.write(b"next")  # a later step is not held back by the first
    await asyncio.sleep(0)
    assert fake.writes[1:] == [b"next"]


async def test_a_big_step_is_written_at_once_so_flow_control_still_works() -> None:
    t, fake = _coalescing()
    t.write(b"a" * (FLUSH_AT - 1))
    assert fake.writes == []
    t.write(b"b")
    assert [len(w) for w in fake.writes] == [FLUSH_AT]  # now, not at the end of the step
    await asyncio.sleep(0)
    assert len(fake.writes) == 1


async def test_close_and_eof_flush_first_abort_drops() -> None:
    t, fake = _coalescing()
    t.write(b"last words")
    t.close()
    assert fake.events == ["write", "close"]
    assert fake.writes == [b"last words"]
    t2, fake2 = _coalescing()
    t2.write(b"x")
    t2.write_eof()
    assert fake2.events == ["write", "eof"]
    t3, fake3 = _coalescing()
    t3.write(b"dropped")
    t3.abort()
    await asyncio.sleep(0)
    assert fake3.events == ["abort"]
    assert t3.get_extra_info("peername") == ("127.0.0.1", 5)  # the rest is the real transport's


class _Recording:
    """Wraps the real (uvloop) transport and records what reaches it."""

    def __init__(self, transport: Any, log: list[bytes]) -> None:
        self._t, self._log = transport, log

    def write(self, data: bytes) -> None:
        self._log.append(bytes(data))
        self._t.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._t, name)


BODY = b'{"resourceType":"Patient","id":"p1"}'


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    body = BODY
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/fhir+json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _serve_and_get(base: type[HttpToolsProtocol], requests: int) -> list[bytes]:
    writes: list[bytes] = []

    class Recorded(base):  # type: ignore[valid-type,misc]
        def connection_made(self, transport: Any) -> None:
            super().connection_made(_Recording(transport, writes))

    async def main() -> None:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)  # connections wait in the backlog until the server accepts
        port = sock.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(_app, http=Recorded, lifespan="off", log_level="warning"))
        task = asyncio.ensure_future(server.serve(sockets=[sock]))
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(requests):
            writer.write(b"GET /fhir/Patient/p1 HTTP/1.1\r\nHost: x\r\n\r\n")
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200")
            await reader.readexactly(len(BODY))
        writer.close()
        server.should_exit = True
        await task

    uvloop.run(main())
    return writes


@pytest.mark.parametrize("requests", [1, 3])
def test_uvicorn_over_the_coalescing_protocol_writes_each_response_once(requests: int) -> None:
    writes = _serve_and_get(CoalescingHttpToolsProtocol, requests)
    assert len(writes) == requests
    assert all(w.startswith(b"HTTP/1.1 200 OK\r\n") and w.endswith(BODY) for w in writes)
    # the reason for the class: uvicorn's own protocol writes the head and the body apart
    assert len(_serve_and_get(HttpToolsProtocol, requests)) == 2 * requests
