"""The repository's read path for bulk export (``$export``; FHIR Bulk Data Access IG v2.0.0 export.html).

A part of :class:`PgRepository` (a mixin, so the repository module does not grow): an export reads
through the same policy point and the same search code as ``GET /fhir/[type]?_lastUpdated=…`` made by the
same user or client — the access predicate (action ``export``) limits every page in SQL, and each page is
audited as a search.  So an export never holds what its caller could not search, except that a
``deidentified`` read level (DoH officers) reaches patient data here that search refuses: those exports
are pseudonymised by the caller (:attr:`ExportScope.deidentified`) and kept to patient compartments.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from benhan.fhir.model.resource_types import RESOURCE_TYPES
from benhan.fhir.search.parse import parse
from benhan.fhir.storage.access_types import AuditInfo
from benhan.fhir.storage.export_types import ExportPage, ExportScope
from benhan.fhir.storage.pg.guard import Guard
from benhan.kernel.clock import fhir_instant
from benhan.kernel.context import RequestContext

#: the audit log is not in the resource store; it has its own API (``GET /fhir/AuditEvent``)
EXPORTABLE = tuple(sorted(RESOURCE_TYPES - {"AuditEvent"}))


class ExportReads:
    """Implements :class:`benhan.fhir.storage.export_types.ExportReader` for ``PgRepository``."""

    pool: asyncpg.Pool
    _guard: Guard

    def export_scope(self, ctx: RequestContext, types: tuple[str, ...] | None) -> ExportScope:
        wanted = types or EXPORTABLE
        if self._guard.access is None or ctx.is_system:
            return ExportScope(wanted, (), False)
        vis, refused = self._guard.access.visibility(ctx, "export", wanted)
        return ExportScope(tuple(t for t in wanted if t not in refused), refused, bool(vis.deidentified))

    async def export_page(
        self, ctx: RequestContext, type_: str, *, since: datetime | None, until: datetime, cursor: str | None,
        patients_only: bool, count: int,
    ) -> ExportPage:
        from benhan.fhir.storage.pg.search import search as run_search

        await self._guard.check_type(ctx, "export", type_)
        params = [("_lastUpdated", f"le{fhir_instant(until)}"), ("_count", str(count)), ("_total", "none")]
        if since is not None:
            params.append(("_lastUpdated", f"gt{fhir_instant(since)}"))
        query = parse(type_, [*params, *([("_cursor", cursor)] if cursor else [])], strict=True)
        async with self.pool.acquire() as conn:
            access, args = await self._guard.filter(conn, ctx, "export", (type_,), only=True)
            if patients_only:  # the Patient compartment (resource.patient_id; a Patient is in its own)
                access = f"({access}) AND r.patient_id IS NOT NULL" if access else "r.patient_id IS NOT NULL"
            result = await run_search(conn, query, access_filter=access, access_args=args)
        await self._guard.record(ctx, AuditInfo(
            "search", type=type_, query="$export:" + "&".join(f"{k}={v}" for k, v in params),
            returned=tuple(f"{r[0]}/{r[1]}" for r in result.matches)))
        return ExportPage(result.matches, result.next_cursor)

    async def record_audit(self, ctx: RequestContext, info: AuditInfo) -> None:
        await self._guard.record(ctx, info)
