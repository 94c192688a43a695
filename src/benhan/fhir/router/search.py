"""Search interactions (FHIR R4 search.html) and the operations dispatch.

GET ``[type]?…``, POST ``[type]/_search`` (form body), system search ``?_type=…``, compartment search
``Patient/[id]/[type]?…`` and ``Patient/[id]/$everything``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from urllib.parse import parse_qsl

import orjson

from benhan.fhir.router.formats import render, render_obj
from benhan.fhir.router.types import FhirRequest, FhirResponse
from benhan.fhir.search.bundle import build_searchset, search_url
from benhan.fhir.search.parse import parse
from benhan.fhir.search.query import SearchQuery
from benhan.fhir.storage.protocol import EverythingQuery, Repository
from benhan.kernel.errors import BenhanError, ErrorCode

FORM = "application/x-www-form-urlencoded"
MAX_EVERYTHING_PAGE = 1000


def _strict(req: FhirRequest) -> bool:
    # FHIR R4 search.html#errors: Prefer: handling=strict turns unknown parameters into errors.
    return "handling=strict" in (req.header("prefer") or "").replace(" ", "")


def _query(req: FhirRequest, type_: str | None, params: list[tuple[str, str]]) -> SearchQuery:
    return parse(type_, params, strict=_strict(req), base_url=req.base_url)


async def _run(req: FhirRequest, repo: Repository, query: SearchQuery, base: str) -> FhirResponse:
    from benhan.fhir.operations.search_valuesets import resolve_value_sets

    result = await repo.search(req.ctx, await resolve_value_sets(req.ctx, repo, query))
    return render(req, 200, build_searchset(base, query, result))


async def search_type(req: FhirRequest, repo: Repository, type_: str) -> FhirResponse:
    return await _run(req, repo, _query(req, type_, req.query), req.base_url)


async def search_post(req: FhirRequest, repo: Repository, type_: str) -> FhirResponse:
    ctype = (req.header("content-type") or "").split(";", 1)[0].strip().lower()
    if ctype != FORM:
        raise BenhanError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, f"POST _search needs a {FORM} body")
    form = parse_qsl(req.body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return await _run(req, repo, _query(req, type_, [*req.query, *form]), req.base_url)


async def search_system(req: FhirRequest, repo: Repository) -> FhirResponse:
    if not req.param("_type"):
        message = "A system-wide search needs _type (e.g. ?_type=Patient,Encounter)"
        raise BenhanError(ErrorCode.INVALID_PARAMETER, message)
    if "AuditEvent" in (req.param("_type") or "").split(","):
        # The audit log is not in the resource store: searched only at /AuditEvent (router/audit_events.py).
        raise BenhanError(ErrorCode.INVALID_PARAMETER, "Search the audit log at AuditEvent, not with _type")
    return await _run(req, repo, _query(req, None, req.query), req.base_url)


async def compartment(req: FhirRequest, repo: Repository, patient_id: str, type_: str) -> FhirResponse:
    await repo.read(req.ctx, "Patient", patient_id)  # 404/410 (or a denial) for an unknown patient
    query = replace(_query(req, type_, req.query), compartment=patient_id)
    return await _run(req, repo, query, f"{req.base_url}/Patient/{patient_id}")


def _instant(req: FhirRequest, name: str) -> datetime | None:
    raw = req.param(name)
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise BenhanError(ErrorCode.INVALID_PARAMETER, f"{name}={raw!r} is not a date") from None
    return value if value.tzinfo else value.replace(tzinfo=datetime.now().astimezone().tzinfo)


def _int(req: FhirRequest, name: str, default: int) -> int:
    raw = req.param(name)
    if raw is None:
        return default
    if not raw.isdigit():
        raise BenhanError(ErrorCode.INVALID_PARAMETER, f"{name}={raw!r} is not a whole number")
    return int(raw)


async def everything(req: FhirRequest, repo: Repository, patient_id: str) -> FhirResponse:
    """FHIR R4 patient-operation-everything.html: start, end, _since, _type, _count, paging."""
    types = tuple(t for t in (req.param("_type") or "").split(",") if t)
    request = EverythingQuery(
        start=_instant(req, "start"), end=_instant(req, "end"), since=_instant(req, "_since"), types=types,
        count=min(max(1, _int(req, "_count", 100)), MAX_EVERYTHING_PAGE), offset=_int(req, "_offset", 0),
    )
    result = await repo.everything(req.ctx, patient_id, request)
    applied = tuple((k, v) for k, v in req.query if k in ("start", "end", "_since", "_type", "_count"))
    base = f"{req.base_url}/Patient/{patient_id}/$everything"
    page = replace(result, next_cursor=None, previous_cursor=None)
    body = build_searchset(base, SearchQuery(types=(), count=request.count, applied=applied), page)
    if result.next_cursor:
        url = search_url(base, None, [*applied, ("_offset", result.next_cursor)])
        link = orjson.dumps({"relation": "next", "url": url})
        body = body.replace(b'"link":[', b'"link":[' + link + b",", 1)
    return render(req, 200, body)


async def _operation(req: FhirRequest, repo: Repository, type_: str, id_: str | None, op: str) -> FhirResponse:
    from benhan.fhir.operations import operation_handler

    handler = operation_handler(type_, op)
    if handler is None:
        where = f"{type_}/{id_}" if id_ else type_
        raise BenhanError(ErrorCode.METHOD_NOT_ALLOWED, f"{op} is not supported on {where}")
    result = await handler(req, repo, id_)
    return render_obj(req, result.status, result.resource)


async def type_operation(req: FhirRequest, repo: Repository, type_: str, op: str) -> FhirResponse:
    return await _operation(req, repo, type_, None, op)


async def instance_operation(req: FhirRequest, repo: Repository, type_: str, id_: str, op: str) -> FhirResponse:
    if type_ == "Patient" and op == "$everything" and req.method == "GET":
        return await everything(req, repo, id_)
    return await _operation(req, repo, type_, id_, op)
