"""The only ASGI adapter for ``/fhir``: an ASGI scope in, a FhirRequest to ``dispatch.handle``, two ``send`` calls out.

/fhir is the hot path (issue 2: a read costs ~1 ms of Python), so it does not go through Starlette's middleware
stack, router, ``Request`` or ``Response``: ``benhan.app.BenhanApp`` hands every request whose path
:func:`fhir_path` accepts to :meth:`FhirApi.serve`, and everything else (pages, OAuth, health, lifespan) to
Starlette.  What Starlette did for /fhir is done here, once:

- route: ``/fhir`` and ``/fhir/{path}`` below the ASGI ``root_path``; GET HEAD POST PUT PATCH DELETE, else 405;
- body: read from ``receive`` up to ``max_body`` (BH-1005); a client gone before its body arrived → empty 400;
- caller: resolved by the injected :data:`Caller` (``benhan.web.auth.fhir_caller``: bearer token or session
  cookie + CSRF, 401/403 as BH-4001/BH-4003);
- errors: any exception becomes a BH-5000 OperationOutcome and is logged; no stack trace reaches a client;
- response: the router's headers (lower-cased), ``content-length`` (not for 1xx/204/304), ``content-type``;
  HEAD gets the headers a GET would get and no body.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from urllib.parse import parse_qsl

from starlette.datastructures import URL
from starlette.types import Receive, Scope, Send

from benhan.fhir.operations.export_service import ExportService
from benhan.fhir.router.dispatch import error_response, handle
from benhan.fhir.router.types import FhirRequest, FhirResponse
from benhan.fhir.storage.protocol import Repository
from benhan.kernel.context import RequestContext
from benhan.kernel.errors import BenhanError, ErrorCode

log = logging.getLogger(__name__)

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"})
ALLOW = "GET, HEAD, POST, PUT, PATCH, DELETE"
#: (lower-case headers, client address, method, path below ``/fhir/``) → the caller's context; raises
#: BenhanError (401 without credentials, 403 on a failed CSRF check).
Caller = Callable[[dict[str, str], tuple[str, int] | None, str, str], Awaitable[RequestContext]]
_BASE_CACHE_MAX = 64  # distinct (scheme, Host, server, root_path) seen by one worker; the Host is client-chosen


class ClientGone(Exception):
    """The client disconnected before its request body arrived."""


def fhir_path(scope: Scope) -> str | None:
    """The path below ``/fhir/`` ("" for ``/fhir``), or None when the request is not for the FHIR API."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and path[len(root):len(root) + 1] in ("", "/"):
        path = path[len(root):]  # as Starlette's router matches: below the root path
    if path == "/fhir":
        return ""
    return path[6:] if path.startswith("/fhir/") else None


async def read_body(receive: Receive, declared: str | None, limit: int) -> bytes:
    """Read at most ``limit`` bytes; a larger body is refused before it is buffered in full."""
    if declared and declared.isdigit() and int(declared) > limit:
        raise BenhanError(ErrorCode.BODY_TOO_LARGE, f"The body is {declared} bytes; the limit is {limit}")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.request":
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise BenhanError(ErrorCode.BODY_TOO_LARGE, f"The body is larger than the limit of {limit} bytes")
            if not message.get("more_body", False):
                if not chunks:
                    return chunk  # the usual case: the whole body (or none) in one message
                chunks.append(chunk)
                return b"".join(chunks)
            chunks.append(chunk)
        elif message["type"] == "http.disconnect":
            raise ClientGone


async def send_response(send: Send, resp: FhirResponse, head: bool = False) -> None:
    headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in resp.headers.items()]
    names = {name for name, _ in headers}
    if b"content-length" not in names and not (resp.status < 200 or resp.status in (204, 304)):
        headers.append((b"content-length", str(len(resp.body)).encode("latin-1")))
    if resp.content_type is not None and (resp.body or head) and b"content-type" not in names:
        headers.append((b"content-type", resp.content_type.encode("latin-1")))
    await send({"type": "http.response.start", "status": resp.status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else resp.body})


def _long_read(method: str, parts: tuple[str, ...]) -> bool:
    """Searches, history, $everything and the like: reads that may run long and change nothing.  A read by id
    (``Type/id``) is one indexed statement; writes are never abandoned half-way by a client's departure."""
    if method == "POST":
        return bool(parts) and parts[-1] == "_search"
    return method in ("GET", "HEAD") and not (len(parts) == 2 and parts[1][:1] not in ("$", "_"))


async def _unless_gone(work: Coroutine[object, object, FhirResponse], receive: Receive) -> FhirResponse:
    """Run ``work`` unless the client disconnects first: then cancel it, which makes asyncpg cancel the running
    statement in PostgreSQL (a load generator's abandoned counts over millions of rows kept both cores busy
    for minutes, issue 8)."""
    task = asyncio.ensure_future(work)
    gone = asyncio.ensure_future(_disconnected(receive))
    try:
        await asyncio.wait((task, gone), return_when=asyncio.FIRST_COMPLETED)
    except BaseException:  # this request itself cancelled (shutdown): its work goes too
        task.cancel()
        raise
    finally:
        gone.cancel()
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    log.info("fhir request abandoned by its client: cancelled")
    return FhirResponse(400, content_type=None)  # nobody reads it


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def _error(err: BenhanError) -> FhirResponse:
    if err.status >= 500:
        log.error("fhir request failed", extra={"code": err.error.code})
    return error_response(err)


class FhirApi:
    """Serves /fhir requests (see the module docstring); one per app, state read at request time."""

    def __init__(
        self, repo: Callable[[], Repository], exports: Callable[[], ExportService | None], caller: Caller,
        base_url: str | None, max_body: int,
    ) -> None:
        self.repo = repo
        self.exports = exports
        self.caller = caller
        self.base_url = base_url
        self.max_body = max_body
        self._bases: dict[tuple[object, ...], str] = {}

    async def serve(self, path: str, scope: Scope, receive: Receive, send: Send) -> None:
        head = scope["method"] == "HEAD"
        try:
            resp = await self._respond(path, scope, receive)
        except Exception:
            # What Starlette's ServerErrorMiddleware did, as FHIR: log the stack for operators; the client sees
            # only a stable code.  (dispatch.handle already does this for the router; this covers the adapter.)
            log.exception("unexpected error in the FHIR adapter", extra={"method": scope.get("method")})
            resp = error_response(BenhanError(ErrorCode.INTERNAL, "An internal error occurred; it has been logged"))
        await send_response(send, resp, head)

    async def _respond(self, path: str, scope: Scope, receive: Receive) -> FhirResponse:
        method: str = scope["method"]
        if method not in METHODS:
            return _error(BenhanError(ErrorCode.METHOD_NOT_ALLOWED, f"{method} is not a FHIR interaction",
                                      headers={"Allow": ALLOW}))
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            body = await read_body(receive, headers.get("content-length"), self.max_body)
            ctx = await self.caller(headers, scope.get("client"), method, path)
            query = self._query(scope)
        except BenhanError as err:
            return _error(err)
        except ClientGone:
            # The client went away before its body arrived: nothing was done and nobody reads an answer
            # (a load test's clients at the end of a level, a phone losing its network). Not a server error.
            return FhirResponse(400, content_type=None)
        req = FhirRequest(
            method=method, parts=tuple(p for p in path.split("/") if p), query=query, headers=headers, body=body,
            base_url=self.base_url or self._base(scope, headers.get("host")), ctx=ctx,
        )
        work = handle(req, self.repo(), self.exports())
        return await (_unless_gone(work, receive) if _long_read(method, req.parts) else work)

    @staticmethod
    def _query(scope: Scope) -> list[tuple[str, str]]:
        raw: bytes = scope.get("query_string", b"")
        if not raw:
            return []
        try:
            text = raw.decode()
        except UnicodeDecodeError:
            raise BenhanError(ErrorCode.INVALID_PARAMETER, "The query string is not UTF-8") from None
        return parse_qsl(text, keep_blank_values=True)

    def _base(self, scope: Scope, host: str | None) -> str:
        """``{scheme}://{Host}{root_path}/fhir`` as Starlette's ``request.base_url`` builds it (remembered)."""
        root: str = scope.get("root_path", "")
        key = (scope.get("scheme", "http"), host, scope.get("server"), root)
        base = self._bases.get(key)
        if base is None:
            if len(self._bases) >= _BASE_CACHE_MAX:
                self._bases.clear()
            # built from the key only, so a request can never put another request's Host into a cached value
            headers = [(b"host", host.encode("latin-1"))] if host is not None else []
            url = URL(scope={"scheme": key[0], "server": key[2], "path": root if root.endswith("/") else root + "/",
                             "query_string": b"", "headers": headers})
            base = self._bases[key] = str(url).rstrip("/") + "/fhir"
        return base
