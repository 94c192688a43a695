"""HTTP side of bulk export (HL7 FHIR Bulk Data Access IG v2.0.0, export.html):

- kick-off ``GET [base]/$export`` and ``GET [base]/Patient/$export`` with ``Prefer: respond-async`` →
  202 Accepted, ``Content-Location: [base]/$export-status/<job>``;
- status ``GET`` of that URL → 202 with ``X-Progress`` while running, 200 with the JSON manifest when
  complete, 500 with an OperationOutcome (BH-5002) when the job failed;
- ``DELETE`` of that URL → 202: the job is cancelled and its files removed (status then answers 404);
- files ``GET [base]/$export-file/<job>/<Type>-<n>.ndjson`` → ``application/fhir+ndjson``.

Status and files answer only the user (or client without a user) who kicked the job off: for anyone
else the job does not exist (404, FHIR R4 security.html#AccessDenied).
"""

from __future__ import annotations

import orjson

from benhan.fhir.operations.bulk_export import NDJSON, manifest, parse_params
from benhan.fhir.operations.export_service import ExportService
from benhan.fhir.router.formats import check_accept, render_obj
from benhan.fhir.router.types import FhirRequest, FhirResponse
from benhan.kernel.errors import BenhanError, ErrorCode, operation_outcome

STATUS, FILE = "$export-status", "$export-file"


def is_export(parts: tuple[str, ...]) -> bool:
    return parts in (("$export",), ("Patient", "$export")) or (len(parts) == 2 and parts[0] == STATUS) or (
        len(parts) == 3 and parts[0] == FILE)


async def route(req: FhirRequest, exports: ExportService) -> FhirResponse:
    p, m = req.parts, req.method
    if p[0] == FILE and m in ("GET", "HEAD"):
        body = await exports.file(req.ctx, p[1], p[2])
        return FhirResponse(200, body, content_type=NDJSON)
    check_accept(req)
    if p[0] == STATUS and m == "GET":
        return await _status(req, exports, p[1])
    if p[0] == STATUS and m == "DELETE":
        await exports.cancel(req.ctx, p[1])
        return FhirResponse(202, content_type=None)
    if p[-1] == "$export" and m == "GET":
        return await _kick_off(req, exports)
    raise BenhanError(ErrorCode.METHOD_NOT_ALLOWED, f"{m} /{'/'.join(p)} is not supported (bulk export: GET)")


async def _kick_off(req: FhirRequest, exports: ExportService) -> FhirResponse:
    params = parse_params(req.query, req.header("prefer"), patient_level=req.parts[0] == "Patient")
    query = "&".join(f"{k}={v}" for k, v in req.query)
    request_url = f"{req.base_url}/{'/'.join(req.parts)}" + (f"?{query}" if query else "")
    job_id = await exports.kick_off(req.ctx, params, request_url, query)
    outcome = operation_outcome(None, f"Export job {job_id} accepted", "informational", severity="information")
    return render_obj(req, 202, outcome, {"Content-Location": f"{req.base_url}/{STATUS}/{job_id}"})


async def _status(req: FhirRequest, exports: ExportService, job_id: str) -> FhirResponse:
    job = await exports.status(req.ctx, job_id)
    if job.state == "running":
        # export.html#response---in-progress-status: 202, X-Progress, and when to ask again
        return FhirResponse(202, headers={"X-Progress": job.progress or "started", "Retry-After": "2"},
                            content_type=None)
    if job.state == "failed":
        raise BenhanError(ErrorCode.EXPORT_FAILED, job.error or "the export failed")
    body = orjson.dumps(manifest(job, f"{req.base_url}/{FILE}/{job.id}/"))
    return FhirResponse(200, body, content_type="application/json")
