"""Bulk export jobs (FHIR Bulk Data Access IG v2.0.0, export.html): kick-off, status, cancel, files, and the
work itself, done by an asyncio task in the process that accepted the kick-off.

Every resource is read through the repository's export path (``ExportReader``: the same access predicate
and search as FHIR search, as the requesting user or client, audited per page).  The output is NDJSON kept
in PostgreSQL (``ExportJobs``), so any server process answers status and file requests.  A job whose
process dies is failed by the next status request (``storage.pg.export_jobs``): the client starts again.
Audit: one record at kick-off (``operation``) and one for the export itself (``export``, with the
patients exported), besides the search records of each page.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime

import orjson

from benhan.fhir.operations.bulk_export import ExportParams, compartment_types
from benhan.fhir.operations.deidentify import deidentify
from benhan.fhir.search.compartment import patient_compartment
from benhan.fhir.storage.access_types import AuditInfo
from benhan.fhir.storage.export_types import ExportJob, ExportJobs, ExportReader
from benhan.kernel import clock
from benhan.kernel.context import RequestContext
from benhan.kernel.errors import BenhanError, ErrorCode
from benhan.kernel.ids import new_id

log = logging.getLogger(__name__)
PAGE = 1000
#: resources per NDJSON file: bounds the memory of one file and the size of one download
FILE_MAX = 10_000


def owner_of(ctx: RequestContext) -> str:
    """Who may poll and download: the user (whatever session or token), else the client without a user."""
    return f"user:{ctx.user_id}" if ctx.user_id else f"client:{ctx.client_id}"


@dataclass(frozen=True, slots=True)
class _Plan:
    job_id: str
    types: tuple[str, ...]
    since: datetime | None
    until: datetime
    patients_only: bool
    deidentified: bool
    query: str


class _Cancelled(Exception):
    """The job row is gone (DELETE of the status URL): stop quietly."""


class ExportService:
    def __init__(self, reader: ExportReader, jobs: ExportJobs, pseudonym_key: bytes) -> None:
        self.reader = reader
        self.jobs = jobs
        self.key = pseudonym_key
        self.tasks: dict[str, asyncio.Task[None]] = {}

    # -- requests -----------------------------------------------------------------------------------
    async def kick_off(self, ctx: RequestContext, params: ExportParams, request_url: str, query: str) -> str:
        """Start a job; returns its id.  Explicitly requested types the caller may not export: 403."""
        scope = self.reader.export_scope(ctx, params.types)
        if params.types and scope.refused:
            info = AuditInfo("operation", "denied", query=f"$export?{query}", detail="no role or scope lets you "
                             f"export {', '.join(scope.refused)}")
            await self.reader.record_audit(ctx, info)
            raise BenhanError(ErrorCode.FORBIDDEN, f"Access denied: {info.detail}")
        # A de-identified export holds patient-level data only (docs/security.md, "de-identified export").
        patients_only = params.patient_level or scope.deidentified
        types = tuple(t for t in scope.types if not patients_only or t in compartment_types())
        if not types:
            raise BenhanError(ErrorCode.FORBIDDEN, "Access denied: no resource type you may export")
        now = clock.now()  # transactionTime, to the millisecond like every FHIR instant benhan writes
        until = now.replace(microsecond=now.microsecond // 1000 * 1000)
        plan = _Plan(new_id(), types, params.since, until, patients_only, scope.deidentified, query)
        await self.jobs.create(plan.job_id, owner_of(ctx), request_url, {"types": list(types), "query": query},
                               until, scope.deidentified)
        await self.reader.record_audit(ctx, AuditInfo(
            "operation", type="Patient" if params.patient_level else None, query=f"$export?{query}",
            detail=f"bulk export kick-off: job {plan.job_id}" + (", de-identified" if scope.deidentified else "")))
        task = asyncio.create_task(self._run(ctx, plan), name=f"bulk-export-{plan.job_id}")
        self.tasks[plan.job_id] = task
        task.add_done_callback(lambda _t: self.tasks.pop(plan.job_id, None))
        return plan.job_id

    async def status(self, ctx: RequestContext, job_id: str) -> ExportJob:
        job = await self.jobs.get(job_id, owner_of(ctx))
        if job is None:
            raise BenhanError(ErrorCode.NOT_FOUND, f"No export job {job_id}")
        return job

    async def cancel(self, ctx: RequestContext, job_id: str) -> None:
        if not await self.jobs.delete(job_id, owner_of(ctx)):
            raise BenhanError(ErrorCode.NOT_FOUND, f"No export job {job_id}")
        task = self.tasks.get(job_id)
        if task is not None:
            task.cancel()

    async def file(self, ctx: RequestContext, job_id: str, name: str) -> bytes:
        content = await self.jobs.file(job_id, owner_of(ctx), name)
        if content is None:
            raise BenhanError(ErrorCode.NOT_FOUND, f"No export file {job_id}/{name}")
        return content

    async def close(self) -> None:
        """At shutdown: stop the running jobs (each is marked failed) before the pool closes."""
        tasks = list(self.tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- the work -----------------------------------------------------------------------------------
    async def _run(self, ctx: RequestContext, plan: _Plan) -> None:
        patients: set[str] = set()
        total = 0
        try:
            for done, type_ in enumerate(plan.types):
                total += await self._export_type(ctx, plan, type_, patients, f"{done}/{len(plan.types)} types")
            # Audited before the job shows as complete: no manifest without its audit record (issue 4), and a
            # client that sees the manifest finds the record too.
            await self.reader.record_audit(ctx, AuditInfo(
                "export", query=f"$export?{plan.query}", returned=tuple(f"Patient/{p}" for p in sorted(patients)),
                detail=f"job {plan.job_id}: {total} resources of {len(plan.types)} types, {len(patients)} patients"
                       + (", de-identified (pseudonymised)" if plan.deidentified else "")))
            await self.jobs.finish(plan.job_id, None)
        except _Cancelled:
            return
        except asyncio.CancelledError:
            await self.jobs.finish(plan.job_id, "the server stopped before the export finished; start it again")
            raise
        except Exception as exc:  # the client sees a stable code in the status; operators the stack
            log.exception("bulk export failed", extra={"job": plan.job_id})
            code = exc.error.code if isinstance(exc, BenhanError) else ErrorCode.INTERNAL.code
            await self.jobs.finish(plan.job_id, f"{code}: the export failed; it has been logged")

    async def _export_type(self, ctx: RequestContext, plan: _Plan, type_: str, patients: set[str],
                           progress: str) -> int:
        cursor: str | None = None
        lines: list[bytes] = []
        files = written = 0
        while True:
            page = await self.reader.export_page(ctx, type_, since=plan.since, until=plan.until, cursor=cursor,
                                                 patients_only=plan.patients_only, count=PAGE)
            for row in page.rows:
                lines.append(self._line(row[4], plan.deidentified, patients))
            while len(lines) >= FILE_MAX or (lines and page.cursor is None):
                files += 1
                chunk, lines = lines[:FILE_MAX], lines[FILE_MAX:]
                if not await self.jobs.add_file(plan.job_id, f"{type_}-{files}.ndjson", type_, len(chunk),
                                                b"\n".join(chunk) + b"\n"):
                    raise _Cancelled
                written += len(chunk)
            if not await self.jobs.beat(plan.job_id, f"{progress}; {type_}: {written + len(lines)} resources"):
                raise _Cancelled
            if page.cursor is None:
                return written
            cursor = page.cursor

    def _line(self, content: bytes, deidentified: bool, patients: set[str]) -> bytes:
        resource = orjson.loads(content)
        patient = patient_compartment(resource)
        if patient:
            patients.add(patient)
        if not deidentified and b"\n" not in content:
            return content  # the stored bytes, not re-serialised
        if not deidentified:
            return orjson.dumps(resource)
        return orjson.dumps(deidentify(resource, self.key))
