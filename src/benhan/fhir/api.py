"""The only ASGI adapter for ``/fhir``: turns a Starlette request into a FhirRequest and back."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from benhan.fhir.operations.export_service import ExportService
from benhan.fhir.router.dispatch import error_response, handle
from benhan.fhir.router.types import FhirRequest, FhirResponse
from benhan.fhir.storage.protocol import Repository
from benhan.kernel.context import RequestContext
from benhan.kernel.errors import BenhanError, ErrorCode

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
ContextFactory = Callable[[Request], Awaitable[RequestContext]]


async def read_body(request: Request, limit: int) -> bytes:
    """Read at most ``limit`` bytes; a larger body is refused before it is buffered in full."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BenhanError(ErrorCode.BODY_TOO_LARGE, f"The body is {declared} bytes; the limit is {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BenhanError(ErrorCode.BODY_TOO_LARGE, f"The body is larger than the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def to_starlette(resp: FhirResponse, head: bool = False) -> Response:
    headers = dict(resp.headers)
    return Response(b"" if head else resp.body, status_code=resp.status, headers=headers,
                    media_type=resp.content_type if resp.body or head else None)


def fhir_routes(
    get_repo: Callable[[Request], Repository], get_ctx: ContextFactory, base_url: str | None, max_body: int,
    get_exports: Callable[[Request], ExportService | None] = lambda _r: None,
) -> list[Route]:
    async def endpoint(request: Request) -> Response:
        base = base_url or str(request.base_url).rstrip("/") + "/fhir"
        try:
            body = await read_body(request, max_body)
            ctx = await get_ctx(request)
        except BenhanError as err:
            return to_starlette(error_response(err))
        except ClientDisconnect:
            # The client went away before its body arrived: nothing was done and nobody reads an answer
            # (a load test's clients at the end of a level, a phone losing its network). Not a server error.
            return Response(status_code=400)
        ctx = ctx.with_request(
            remote_addr=request.client.host if request.client else None,
            user_agent=request.headers.get("user-agent"),
            request_id=request.headers.get("x-request-id") or uuid.uuid4().hex,
        )
        path = request.path_params.get("path", "")
        query = parse_qsl(request.url.query, keep_blank_values=True)
        req = FhirRequest(
            method=request.method, parts=tuple(p for p in path.split("/") if p), query=query,
            headers={k.lower(): v for k, v in request.headers.items()}, body=body, base_url=base, ctx=ctx,
        )
        resp = await handle(req, get_repo(request), get_exports(request))
        return to_starlette(resp, head=request.method == "HEAD")

    return [Route("/fhir", endpoint, methods=METHODS), Route("/fhir/{path:path}", endpoint, methods=METHODS)]
