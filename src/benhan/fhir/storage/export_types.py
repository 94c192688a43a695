"""What bulk export (FHIR Bulk Data Access IG v2.0.0, export.html) asks of storage: reading resources through
the access policy, page by page, and the job table that any server process can answer status and file
requests from.  Implemented by ``storage.pg.export_reads`` (a part of ``PgRepository``) and
``storage.pg.export_jobs``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from benhan.fhir.search.result import Row
from benhan.fhir.storage.access_types import AuditInfo
from benhan.kernel.context import RequestContext

JsonObj = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ExportScope:
    """What a subject may export among the requested types (decided by the access policy)."""

    types: tuple[str, ...]
    #: requested types no role or scope lets the subject export
    refused: tuple[str, ...]
    #: some type is reachable only through a ``deidentified`` read level: the whole export is pseudonymised
    #: and limited to patient compartments
    deidentified: bool


@dataclass(frozen=True, slots=True)
class ExportPage:
    rows: list[Row]
    #: where the next page starts; None: this was the last
    cursor: str | None


@dataclass(frozen=True, slots=True)
class ExportFile:
    name: str
    type: str
    count: int


@dataclass(frozen=True, slots=True)
class ExportJob:
    id: str
    state: str  # running | completed | failed
    request: str
    transaction_time: datetime
    deidentified: bool
    progress: str | None
    error: str | None
    files: tuple[ExportFile, ...]


class ExportReader(Protocol):
    """The repository's read path for exports: the same policy point and search as FHIR search."""

    def export_scope(self, ctx: RequestContext, types: tuple[str, ...] | None) -> ExportScope:
        """Which of ``types`` (None: every type) ``ctx`` may export, and whether de-identified."""
        ...

    async def export_page(
        self, ctx: RequestContext, type_: str, *, since: datetime | None, until: datetime, cursor: str | None,
        patients_only: bool, count: int,
    ) -> ExportPage:
        """One page of the current resources of ``type_`` that ``ctx`` may export, last updated in
        (``since``, ``until``]; ``patients_only``: only resources in a Patient compartment.  Audited as a
        search."""
        ...

    async def record_audit(self, ctx: RequestContext, info: AuditInfo) -> None:
        """Write one audit record (the export's kick-off and its result)."""
        ...


class ExportJobs(Protocol):
    """Jobs and their NDJSON files, owned by who kicked them off (``owner``): others get None."""

    async def create(self, job_id: str, owner: str, request: str, params: JsonObj, transaction_time: datetime,
                     deidentified: bool) -> None: ...

    async def get(self, job_id: str, owner: str) -> ExportJob | None:
        """The job; a ``running`` job whose process stopped beating is failed first (and so returned)."""
        ...

    async def beat(self, job_id: str, progress: str) -> bool:
        """Record progress (and that the process lives); False when the job was cancelled (deleted)."""
        ...

    async def add_file(self, job_id: str, name: str, type_: str, count: int, content: bytes) -> bool: ...

    async def finish(self, job_id: str, error: str | None) -> None: ...

    async def delete(self, job_id: str, owner: str) -> bool: ...

    async def file(self, job_id: str, owner: str, name: str) -> bytes | None: ...
