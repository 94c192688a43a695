"""Instance and type interactions: read, vread, create, update, patch, delete, history (FHIR R4 http.html)."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import orjson

from benhan.fhir.router.formats import (
    JSON_TYPES,
    check_content_type,
    media_type,
    parse_json_body,
    render,
    render_obj,
    shape,
    write_response,
)
from benhan.fhir.router.history import history_bundle, parse_history_params
from benhan.fhir.router.types import FhirRequest, FhirResponse
from benhan.fhir.storage.protocol import Repository, StoredResource, WriteResult
from benhan.kernel.clock import http_date
from benhan.kernel.errors import BenhanError, ErrorCode, operation_outcome
from benhan.kernel.ids import is_valid_id

ETAG_RE = re.compile(r'^\s*(?:W/)?"?(\d+)"?\s*$')
JSON_PATCH_TYPE = "application/json-patch+json"
# FHIR R4 http.html#patch: JSON Patch, or FHIRPath Patch as a Parameters resource in FHIR JSON.
PATCH_TYPES = {JSON_PATCH_TYPE, *JSON_TYPES}


def version_headers(req: FhirRequest, stored: StoredResource) -> dict[str, str]:
    location = f"{req.base_url}/{stored.type}/{stored.id}/_history/{stored.version}"
    return {
        "ETag": stored.etag,
        "Last-Modified": http_date(stored.last_updated),
        "Location": location,
        "Content-Location": location,
    }


def if_match(req: FhirRequest) -> int | None:
    raw = req.header("if-match")
    if raw is None:
        return None
    m = ETAG_RE.match(raw)
    if not m:
        raise BenhanError(ErrorCode.INVALID_PARAMETER, f"If-Match {raw!r} is not an ETag like W/\"3\"")
    return int(m.group(1))


def check_id(id_: str) -> None:
    if not is_valid_id(id_):
        raise BenhanError(ErrorCode.INVALID_ID, f"{id_!r} is not a valid FHIR id")


def body_for(req: FhirRequest, type_: str, id_: str | None) -> dict[str, object]:
    check_content_type(req)
    resource = parse_json_body(req)
    if resource.get("resourceType") != type_:
        raise BenhanError(
            ErrorCode.RESOURCE_TYPE_MISMATCH,
            f"resourceType {resource.get('resourceType')!r} does not match the URL type {type_}",
        )
    if id_ is not None and resource.get("id") != id_:
        # FHIR R4 http.html#update: the body SHALL have an id equal to the URL's.
        raise BenhanError(ErrorCode.ID_MISMATCH, f"The body's id {resource.get('id')!r} is not {id_!r}")
    return resource


async def read(req: FhirRequest, repo: Repository, type_: str, id_: str) -> FhirResponse:
    check_id(id_)
    stored = await repo.read(req.ctx, type_, id_)
    headers = version_headers(req, stored)
    headers.pop("Location")
    if req.header("if-none-match") == stored.etag:
        return FhirResponse(304, b"", headers, content_type=None)
    return render(req, 200, shape(req, stored.content), headers)


async def vread(req: FhirRequest, repo: Repository, type_: str, id_: str, vid: str) -> FhirResponse:
    check_id(id_)
    if not vid.isdigit():
        raise BenhanError(ErrorCode.VERSION_NOT_FOUND, f"{vid!r} is not a version id")
    stored = await repo.vread(req.ctx, type_, id_, int(vid))
    headers = version_headers(req, stored)
    headers.pop("Location")
    return render(req, 200, shape(req, stored.content), headers)


def _written(req: FhirRequest, result: WriteResult) -> FhirResponse:
    status = 201 if result.created else 200
    verb = "created" if result.created else ("matched" if result.existing else "updated")
    return write_response(
        req, status, result.resource.content, version_headers(req, result.resource),
        f"{result.resource.type}/{result.resource.id} {verb}",
    )


async def create(req: FhirRequest, repo: Repository, type_: str) -> FhirResponse:
    resource = body_for(req, type_, None)
    # FHIR R4 http.html#create: a server-assigned id; an id in the body is ignored.
    resource.pop("id", None)
    result = await repo.create(req.ctx, resource, if_none_exist=req.header("if-none-exist"))
    return _written(req, result)


async def update(req: FhirRequest, repo: Repository, type_: str, id_: str) -> FhirResponse:
    check_id(id_)
    resource = body_for(req, type_, id_)
    result = await repo.update(req.ctx, type_, id_, resource, if_match=if_match(req))
    return _written(req, result)


async def conditional_update(req: FhirRequest, repo: Repository, type_: str) -> FhirResponse:
    resource = body_for(req, type_, None)
    query = urlencode(req.query)
    if not query:
        raise BenhanError(ErrorCode.METHOD_NOT_ALLOWED, "PUT on a type needs search parameters (conditional update)")
    result = await repo.conditional_update(req.ctx, type_, query, resource, if_match=if_match(req))
    return _written(req, result)


async def patch(req: FhirRequest, repo: Repository, type_: str, id_: str) -> FhirResponse:
    check_id(id_)
    check_content_type(req, PATCH_TYPES)
    if not req.body.strip():
        raise BenhanError(ErrorCode.MISSING_BODY)
    try:
        document = orjson.loads(req.body)
    except orjson.JSONDecodeError as exc:
        raise BenhanError(ErrorCode.MALFORMED_JSON, f"The patch is not valid JSON: {exc}") from None
    # Without a Content-Type the document's shape tells: an array is JSON Patch, an object a Parameters.
    json_patch = media_type(req) == JSON_PATCH_TYPE or (not media_type(req) and isinstance(document, list))
    kind = "json-patch" if json_patch else "fhirpath-patch"
    if kind == "fhirpath-patch" and not (isinstance(document, dict) and document.get("resourceType") == "Parameters"):
        # fhirpatch.html: a FHIR JSON patch body is a Parameters resource (refused before any lookup).
        raise BenhanError(ErrorCode.INVALID_FHIRPATH_PATCH, "A FHIRPath Patch is a Parameters resource")
    result = await repo.patch(req.ctx, type_, id_, document, kind, if_match=if_match(req))
    return _written(req, result)


async def delete(req: FhirRequest, repo: Repository, type_: str, id_: str) -> FhirResponse:
    check_id(id_)
    stored = await repo.delete(req.ctx, type_, id_, if_match=if_match(req))
    headers = {"ETag": stored.etag} if stored is not None else {}
    message = f"{type_}/{id_} deleted" if stored is not None else f"{type_}/{id_} did not exist"
    outcome = operation_outcome(None, message, "informational", severity="information")
    return render_obj(req, 200, outcome, headers)


async def conditional_delete(req: FhirRequest, repo: Repository, type_: str) -> FhirResponse:
    query = urlencode(req.query)
    if not query:
        raise BenhanError(ErrorCode.METHOD_NOT_ALLOWED, "DELETE on a type needs search parameters")
    count = await repo.conditional_delete(req.ctx, type_, query)
    outcome = operation_outcome(None, f"{count} resource(s) deleted", "informational", severity="information")
    return render_obj(req, 200, outcome)


async def history(req: FhirRequest, repo: Repository, type_: str | None, id_: str | None) -> FhirResponse:
    if id_ is not None:
        check_id(id_)
    query = parse_history_params(req, type_, id_)
    page = await repo.history(req.ctx, query)
    return render(req, 200, history_bundle(req, query, page))
