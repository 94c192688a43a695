"""Route a FhirRequest to its interaction, and turn every error into an OperationOutcome (one place)."""

from __future__ import annotations

import logging

import orjson

from benhan.fhir.model.resource_types import is_resource_type
from benhan.fhir.operations.export_service import ExportService
from benhan.fhir.router import audit_events, bulk_export, crud, search
from benhan.fhir.router.bundle import run_batch, run_transaction
from benhan.fhir.router.capability import capability_statement
from benhan.fhir.router.formats import check_accept, check_content_type, parse_json_body, render_obj
from benhan.fhir.router.types import FhirRequest, FhirResponse
from benhan.fhir.storage.protocol import Repository
from benhan.kernel.errors import BenhanError, ErrorCode

log = logging.getLogger(__name__)


def error_response(err: BenhanError) -> FhirResponse:
    return FhirResponse(err.status, orjson.dumps(err.outcome()), dict(err.headers))


async def handle(req: FhirRequest, repo: Repository, exports: ExportService | None = None) -> FhirResponse:
    """The single entry point: never raises, never leaks a stack trace."""
    try:
        if exports is not None and bulk_export.is_export(req.parts):
            return await bulk_export.route(req, exports)  # its own Accept rules (NDJSON files)
        check_accept(req)
        return await route(req, repo)
    except BenhanError as err:
        if err.status >= 500:
            log.error("fhir request failed", extra={"code": err.error.code})
        return error_response(err)
    except Exception:
        # Log the exception class and stack for operators; the client sees only a stable code.
        log.exception("unexpected error in FHIR request", extra={"method": req.method})
        return error_response(BenhanError(ErrorCode.INTERNAL, "An internal error occurred; it has been logged"))


def _type(name: str) -> str:
    if not is_resource_type(name):
        raise BenhanError(ErrorCode.UNKNOWN_RESOURCE_TYPE, f"{name!r} is not a FHIR R4 resource type")
    return name


async def route(req: FhirRequest, repo: Repository) -> FhirResponse:
    p, m = req.parts, req.method
    if not p:
        return await _system(req, repo)
    if p == ("metadata",) and m == "GET":
        return render_obj(req, 200, capability_statement(req.base_url))
    if p == ("_history",) and m == "GET":
        return await crud.history(req, repo, None, None)
    if p[0].startswith("$"):
        raise BenhanError(ErrorCode.METHOD_NOT_ALLOWED, f"Operation {p[0]} is not supported at system level")
    type_ = _type(p[0])
    if type_ == audit_events.TYPE:  # the audit log, not the resource store: its own read-only handler
        return await audit_events.route(req, repo)
    if len(p) == 1:
        return await _type_level(req, repo, type_)
    if len(p) == 2 and p[1] == "_search" and m == "POST":
        return await search.search_post(req, repo, type_)
    if len(p) == 2 and p[1] == "_history" and m == "GET":
        return await crud.history(req, repo, type_, None)
    if len(p) == 2 and p[1].startswith("$"):
        return await search.type_operation(req, repo, type_, p[1])
    id_ = p[1]
    if len(p) == 2:
        return await _instance(req, repo, type_, id_)
    if len(p) == 3 and p[2] == "_history" and m == "GET":
        return await crud.history(req, repo, type_, id_)
    if len(p) == 4 and p[2] == "_history" and m == "GET":
        return await crud.vread(req, repo, type_, id_, p[3])
    if len(p) == 3 and p[2].startswith("$"):
        return await search.instance_operation(req, repo, type_, id_, p[2])
    if len(p) == 3 and m == "GET" and type_ == "Patient" and p[2] == audit_events.TYPE:
        return await audit_events.search(req, repo, [("patient", id_)])
    if len(p) == 3 and m == "GET" and type_ == "Patient":
        return await search.compartment(req, repo, id_, _type(p[2]))
    raise BenhanError(ErrorCode.METHOD_NOT_ALLOWED, f"{m} /{'/'.join(p)} is not a supported interaction")


async def _system(req: FhirRequest, repo: Repository) -> FhirResponse:
    if req.method == "GET":
        return await search.search_system(req, repo)
    if req.method != "POST":
        raise BenhanError(ErrorCode.METHOD_NOT_ALLOWED, f"{req.method} on the base URL is not supported")
    check_content_type(req)
    bundle = parse_json_body(req)
    if bundle.get("resourceType") != "Bundle" or bundle.get("type") not in ("transaction", "batch"):
        raise BenhanError(ErrorCode.INVALID_BUNDLE, "POST to the base needs a Bundle of type transaction or batch")
    runner = run_transaction if bundle["type"] == "transaction" else run_batch
    return render_obj(req, 200, await runner(req, repo, bundle, route))


async def _type_level(req: FhirRequest, repo: Repository, type_: str) -> FhirResponse:
    if req.method == "GET":
        return await search.search_type(req, repo, type_)
    if req.method == "POST":
        return await crud.create(req, repo, type_)
    if req.method == "PUT":
        return await crud.conditional_update(req, repo, type_)
    if req.method == "DELETE":
        return await crud.conditional_delete(req, repo, type_)
    raise BenhanError(ErrorCode.METHOD_NOT_ALLOWED, f"{req.method} /{type_} is not supported")


async def _instance(req: FhirRequest, repo: Repository, type_: str, id_: str) -> FhirResponse:
    if req.method in ("GET", "HEAD"):
        return await crud.read(req, repo, type_, id_)
    if req.method == "PUT":
        return await crud.update(req, repo, type_, id_)
    if req.method == "PATCH":
        return await crud.patch(req, repo, type_, id_)
    if req.method == "DELETE":
        return await crud.delete(req, repo, type_, id_)
    raise BenhanError(ErrorCode.METHOD_NOT_ALLOWED, f"{req.method} /{type_}/{id_} is not supported")
