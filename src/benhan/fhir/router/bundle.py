"""batch and transaction Bundles (FHIR R4 http.html#transaction).

A transaction is atomic: it runs in one database transaction and any failing entry rolls all of it back.
Entries are processed in the order the spec gives (http.html#trules): DELETE, then POST, then PUT/PATCH,
then GET/HEAD; ``urn:uuid:`` and conditional references are resolved first, everywhere in each resource.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol, runtime_checkable
from urllib.parse import parse_qsl, urlsplit

import orjson

from benhan.fhir.router.types import FhirRequest, FhirResponse
from benhan.fhir.storage.protocol import Repository, WriteResult
from benhan.kernel.context import RequestContext
from benhan.kernel.errors import BenhanError, ErrorCode, Issue
from benhan.kernel.ids import new_id

Handler = Callable[[FhirRequest, Repository], Awaitable[FhirResponse]]
ORDER = {"DELETE": 0, "POST": 1, "PUT": 2, "PATCH": 2, "GET": 3, "HEAD": 3}
STATUS_TEXT = {200: "200 OK", 201: "201 Created", 204: "204 No Content", 304: "304 Not Modified"}


@dataclass
class Entry:
    index: int
    method: str
    url: str
    full_url: str | None
    resource: dict[str, Any] | None
    request: dict[str, Any]


def parse_entries(bundle: dict[str, Any]) -> list[Entry]:
    entries: list[Entry] = []
    for i, raw in enumerate(bundle.get("entry") or []):
        request = raw.get("request") if isinstance(raw, dict) else None
        if not isinstance(request, dict) or not request.get("method") or not request.get("url"):
            where = (f"Bundle.entry[{i}].request",)
            raise BenhanError(ErrorCode.INVALID_BUNDLE, f"Bundle.entry[{i}].request needs method and url",
                              [Issue("required", "method and url are required", expression=where)])
        method = str(request["method"]).upper()
        if method not in ORDER:
            raise BenhanError(ErrorCode.INVALID_BUNDLE, f"Bundle.entry[{i}].request.method {method} is not allowed")
        resource = raw.get("resource")
        if method in ("POST", "PUT") and not isinstance(resource, dict):
            raise BenhanError(ErrorCode.INVALID_BUNDLE, f"Bundle.entry[{i}] ({method}) has no resource")
        entries.append(Entry(i, method, str(request["url"]), raw.get("fullUrl"), resource, request))
    return entries


def rewrite_references(node: Any, mapping: dict[str, str]) -> Any:
    """Replace every ``reference`` that names a placeholder, however deeply nested."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "reference" and isinstance(value, str) and value in mapping:
                out[key] = mapping[value]
            else:
                out[key] = rewrite_references(value, mapping)
        return out
    if isinstance(node, list):
        return [rewrite_references(v, mapping) for v in node]
    return node


def _collect_conditional_refs(node: Any, found: set[str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str) and "?" in value and not value.startswith("urn:"):
                found.add(value)
            else:
                _collect_conditional_refs(value, found)
    elif isinstance(node, list):
        for v in node:
            _collect_conditional_refs(v, found)


async def _assign_ids(req: FhirRequest, repo: Repository, entries: list[Entry]) -> dict[str, str]:
    """Reserve ids for POSTs (or find the match of a conditional create) and resolve conditional refs."""
    mapping: dict[str, str] = {}
    for e in entries:
        if e.method == "POST" and e.resource is not None:
            type_ = str(e.resource.get("resourceType"))
            target_id = None
            if e.request.get("ifNoneExist"):
                ids = await repo.find_ids(req.ctx, type_, str(e.request["ifNoneExist"]))
                if len(ids) > 1:
                    message = f"Bundle.entry[{e.index}] ifNoneExist matches {len(ids)}"
                    raise BenhanError(ErrorCode.MULTIPLE_MATCHES, message)
                target_id = ids[0] if ids else None
            e.request["_assigned"] = target_id or new_id()
            e.request["_exists"] = target_id is not None
            if e.full_url:
                mapping[e.full_url] = f"{type_}/{e.request['_assigned']}"
        elif e.method == "PUT" and e.full_url and e.resource is not None and "?" not in e.url:
            mapping[e.full_url] = e.url.strip("/")
    conditional: set[str] = set()
    for e in entries:
        _collect_conditional_refs(e.resource, conditional)
    for ref in conditional:
        type_, query = ref.split("?", 1)
        ids = await repo.find_ids(req.ctx, type_, query)
        if len(ids) != 1:
            raise BenhanError(ErrorCode.UNPROCESSABLE, f"Conditional reference {ref} matches {len(ids)} resources")
        mapping[ref] = f"{type_}/{ids[0]}"
    return mapping


def sub_request(req: FhirRequest, e: Entry) -> FhirRequest:
    parts = urlsplit(e.url)
    path = parts.path
    if path.startswith(req.base_url):
        path = path[len(req.base_url):]
    headers = {"content-type": "application/fhir+json"}
    for src, dst in (("ifMatch", "if-match"), ("ifNoneMatch", "if-none-match"), ("ifNoneExist", "if-none-exist"),
                     ("ifModifiedSince", "if-modified-since")):
        if e.request.get(src):
            headers[dst] = str(e.request[src])
    if req.header("prefer"):
        headers["prefer"] = str(req.header("prefer"))
    body = orjson.dumps(e.resource) if e.resource is not None else b""
    # FHIR R4 http.html#patch: in a Bundle a JSON Patch travels as a Binary, a FHIRPath Patch as Parameters.
    if e.method == "PATCH" and not (isinstance(e.resource, dict) and e.resource.get("resourceType") == "Parameters"):
        headers["content-type"] = "application/json-patch+json"
        if isinstance(e.resource, dict) and e.resource.get("resourceType") == "Binary":
            import base64

            body = base64.b64decode(str(e.resource.get("data", "")))
    return replace(req, method=e.method, parts=tuple(p for p in path.split("/") if p),
                   query=parse_qsl(parts.query, keep_blank_values=True), headers=headers, body=body)


def response_entry(resp: FhirResponse, full_url: str | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"status": STATUS_TEXT.get(resp.status, str(resp.status))}
    for header, key in (("Location", "location"), ("ETag", "etag"), ("Last-Modified", "lastModified")):
        if header in resp.headers:
            response[key] = resp.headers[header]
    out: dict[str, Any] = {}
    if full_url:
        out["fullUrl"] = full_url
    if resp.body and resp.status < 300:
        out["resource"] = orjson.loads(resp.body)
    elif resp.body:
        response["outcome"] = orjson.loads(resp.body)
    out["response"] = response
    return out


@runtime_checkable
class _BatchCreate(Protocol):
    """A repository that stores many new resources at once (``PgRepository.create_many``)."""

    async def create_many(
        self, ctx: RequestContext, items: Sequence[tuple[dict[str, Any], str]], labels: Sequence[str]
    ) -> list[WriteResult]: ...


def _label(e: Entry) -> str:
    return f"Bundle.entry[{e.index}] ({e.method} {e.url})"


async def run_transaction(
    req: FhirRequest, repo: Repository, bundle: dict[str, Any], dispatch: Handler
) -> dict[str, Any]:
    entries = parse_entries(bundle)
    results: dict[int, dict[str, Any]] = {}
    async with repo.unit_of_work() as tx:
        mapping = await _assign_ids(req, tx, entries)
        for e in entries:
            if e.resource is not None:
                e.resource = rewrite_references(e.resource, mapping)
        ordered = sorted(entries, key=lambda x: ORDER[x.method])
        # The POSTs that create come together in http.html#trules order (after every DELETE, before any
        # PUT/PATCH/GET); a batch-capable repository stores them all at once.
        creates = [e for e in ordered if _is_new(e)] if isinstance(tx, _BatchCreate) else []
        for e in ordered:
            if creates and e is creates[0]:
                assert isinstance(tx, _BatchCreate)
                await _create_all(req, tx, creates, results)
            if e.index in results:
                continue
            try:
                resp = await _run_entry(req, tx, e, dispatch)
            except BenhanError as err:
                err.message = f"{_label(e)}: {err.message}"
                raise
            results[e.index] = response_entry(resp)
    return {"resourceType": "Bundle", "type": "transaction-response", "entry": [results[i] for i in sorted(results)]}


def _is_new(e: Entry) -> bool:
    return e.method == "POST" and e.resource is not None and "_assigned" in e.request and not e.request["_exists"]


def _new_resource(e: Entry) -> dict[str, Any]:
    assert e.resource is not None
    resource = dict(e.resource)
    resource.pop("id", None)
    return resource


async def _create_all(
    req: FhirRequest, repo: _BatchCreate, creates: list[Entry], out: dict[int, dict[str, Any]]
) -> None:
    from benhan.fhir.router.crud import version_headers
    from benhan.fhir.router.formats import write_response

    written = await repo.create_many(req.ctx, [(_new_resource(e), str(e.request["_assigned"])) for e in creates],
                                     [_label(e) for e in creates])
    for e, result in zip(creates, written, strict=True):
        resp = write_response(sub_request(req, e), 201, result.resource.content,
                              version_headers(req, result.resource), "created")
        out[e.index] = response_entry(resp)


async def _run_entry(req: FhirRequest, repo: Repository, e: Entry, dispatch: Handler) -> FhirResponse:
    if e.method == "POST" and e.resource is not None and "_assigned" in e.request:
        from benhan.fhir.router.crud import version_headers
        from benhan.fhir.router.formats import write_response

        if e.request["_exists"]:
            stored = await repo.read(req.ctx, str(e.resource["resourceType"]), e.request["_assigned"])
            return FhirResponse(200, stored.content, version_headers(req, stored))
        sub = sub_request(req, e)
        result = await repo.create(req.ctx, _new_resource(e), assigned_id=e.request["_assigned"])
        return write_response(sub, 201, result.resource.content, version_headers(req, result.resource), "created")
    return await dispatch(sub_request(req, e), repo)


async def run_batch(req: FhirRequest, repo: Repository, bundle: dict[str, Any], dispatch: Handler) -> dict[str, Any]:
    """Each entry on its own; a failure is reported in its entry and does not affect the others."""
    from benhan.fhir.router.dispatch import error_response

    out = []
    for e in parse_entries(bundle):
        try:
            resp = await dispatch(sub_request(req, e), repo)
        except BenhanError as err:
            resp = error_response(err)
        out.append(response_entry(resp))
    return {"resourceType": "Bundle", "type": "batch-response", "entry": out}
