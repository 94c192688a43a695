"""uvicorn's HTTP/1.1 protocol with each response leaving in one socket write.

uvicorn (0.54, ``protocols/http/httptools_impl.py``) writes a response's status line and headers when the
application sends ``http.response.start`` and the body when it sends ``http.response.body``: two ``write``
calls, and uvloop sends each at once (its fast path writes straight to the socket when nothing is queued).
With ``TCP_NODELAY`` that is two segments per response; the client wakes for the headers, then again for
the body, and both kernels handle each segment.  A FHIR read is a few hundred bytes of headers and about a
kilobyte of body, so the second write doubled the per-response kernel work for nothing.

:class:`CoalescingTransport` keeps the writes of one event-loop step and hands them to the socket together at
the end of that step (``loop.call_soon``).  The ASGI ``send`` of uvicorn does not suspend between the start
and the body of a response, so both reach the socket in one write.  A streamed body (a Bulk Data file) still
leaves as it is produced: once a step has gathered :data:`FLUSH_AT` bytes they go to the socket at once, so
the real transport's flow control (``pause_writing`` at its high-water mark, which makes uvicorn's next
``send`` wait for the client) works as before.  Nothing is reordered and nothing waits for a later event:
``close`` and ``write_eof`` flush first, ``abort`` drops what is gathered, as it drops the transport's buffer.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

#: gathered bytes that are written at once rather than at the end of the step (uvloop's and asyncio's default
#: write high-water mark is 64 KiB)
FLUSH_AT = 64 * 1024


class CoalescingTransport:
    """A transport proxy that gathers the writes of one loop step into one ``write`` of the real transport."""

    __slots__ = ("_loop", "_pending", "_size", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []
        self._size = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(data if type(data) is bytes else bytes(data))  # the caller may reuse its buffer
        self._size += len(data)
        if self._size >= FLUSH_AT:
            self.flush()

    def writelines(self, lines: Any) -> None:
        for data in lines:
            self.write(data)

    def flush(self) -> None:
        if not self._pending:
            return
        data = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
        self._pending, self._size = [], 0
        if not self._transport.is_closing():
            self._transport.write(data)

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + self._size

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def abort(self) -> None:
        self._pending, self._size = [], 0
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:  # everything else is the real transport's
        return getattr(self._transport, name)


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol over a :class:`CoalescingTransport` (``uvicorn.Config(http=...)``)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        # (uvloop's transports are not asyncio.Transport subclasses: no isinstance check here)
        super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]
