"""The repository's search side: searches, history, ``$everything``, the screens' related searches and the
audit log's own API.

A part of :class:`~benhan.fhir.storage.pg.repository.PgRepository` (a mixin, like ``export_reads``): every
method asks the same policy point (:class:`Guard`) for its SQL predicate, runs in one connection (or the
bound unit of work's) and leaves one audit record per search.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from typing import cast

import asyncpg
import orjson

from benhan.fhir.search.query import SearchQuery
from benhan.fhir.search.result import SearchResult
from benhan.fhir.storage.access_types import AuditInfo
from benhan.fhir.storage.content import unpack
from benhan.fhir.storage.pg import audit_events
from benhan.fhir.storage.pg import history as history_sql
from benhan.fhir.storage.pg.guard import Guard
from benhan.fhir.storage.protocol import AuditQuery, EverythingQuery, HistoryPage, HistoryQuery, JsonObj, Related
from benhan.kernel.context import RequestContext
from benhan.kernel.db import Conn, search_connection
from benhan.kernel.errors import BenhanError, ErrorCode


class SearchReads:
    """Implements the search side of :class:`benhan.fhir.storage.protocol.Repository` for ``PgRepository``."""

    pool: asyncpg.Pool
    _conn: Conn | None
    _guard: Guard

    def _ro(self) -> AbstractAsyncContextManager[Conn]:
        """The bound unit of work's connection, or a pooled one (asyncpg's acquire context itself: a
        generator-based context manager around it cost ~1 % of a read)."""
        if self._conn is not None:
            return nullcontext(self._conn)
        return cast(AbstractAsyncContextManager[Conn], self.pool.acquire())

    @asynccontextmanager
    async def _searching(self) -> AsyncIterator[Conn]:
        """The bound unit of work's connection, or a pooled one that keeps the searches' session settings
        (``kernel.db.search_connection``: no statements to set them again)."""
        if self._conn is not None:
            yield self._conn
            return
        async with search_connection(self.pool) as conn:
            yield conn

    async def history(self, ctx: RequestContext, query: HistoryQuery) -> HistoryPage:
        async with self._ro() as conn:
            rid: int | None = None
            if query.type:
                await self._guard.check_type(ctx, "history", query.type)
            if query.type and query.id:
                row = await self._guard.fetch(conn, ctx, "history", query.type, query.id)
                if row is None:
                    raise BenhanError(ErrorCode.NOT_FOUND, f"{query.type}/{query.id} is not known")
                rid = row["rid"]
            access, args = await self._guard.filter(conn, ctx, "history", (query.type,) if query.type else None)
            page = await history_sql.history(conn, query, rid, access, args)
        await self._guard.record(ctx, AuditInfo(
            "history", type=query.type, id=query.id,
            returned=tuple(f"{e.type}/{e.id}/_history/{e.version}" for e in page.entries)))
        return page

    async def audit_events(self, ctx: RequestContext, query: AuditQuery) -> tuple[list[JsonObj], bool]:
        async with self._ro() as conn:
            return await audit_events.search(conn, self._guard, ctx, query)

    async def audit_event(self, ctx: RequestContext, id_: str) -> JsonObj:
        async with self._ro() as conn:
            return await audit_events.read(conn, self._guard, ctx, id_)

    async def search_json(self, ctx: RequestContext, type_: str, params: list[tuple[str, str]]) -> list[JsonObj]:
        return (await self.search_json_related(ctx, type_, params, ()))[0]

    async def search_json_related(
        self, ctx: RequestContext, type_: str, params: list[tuple[str, str]], related: tuple[Related, ...]
    ) -> list[list[JsonObj]]:
        from benhan.fhir.storage.pg.related import audit_query, fetch_related

        query = "&".join(f"{k}={v}" for k, v in params)
        for kind in dict.fromkeys((type_, *(r.type for r in related))):
            await self._guard.check_type(ctx, "search", kind)
        async with self._searching() as conn:
            consent = await self._guard.consent(conn, ctx)
            arms = await fetch_related(conn, type_, query, related, lambda types, first: self._guard.predicate(
                ctx, "search", types, first, only=True, consent=consent))
        for i, found in enumerate(arms):  # one search record per type, as separate searches would leave
            await self._guard.record(ctx, AuditInfo(
                "search", type=related[i - 1].type if i else type_, query=audit_query(type_, query, related, i),
                returned=tuple(f"{r['type']}/{r['id']}" for r in found)))
        return [[orjson.loads(unpack(r["content"])) for r in found] for found in arms]

    async def search(self, ctx: RequestContext, query: SearchQuery) -> SearchResult:
        """FHIR search; the access filter limits matches, totals, chains and includes alike."""
        from benhan.fhir.storage.pg.search import search as run_search
        for type_ in query.types:
            await self._guard.check_type(ctx, "search", type_)
        async with self._searching() as conn:
            access, args = await self._guard.filter(conn, ctx, "search", query.types or None)
            result = await run_search(conn, query, access_filter=access, access_args=args)
        returned = tuple(f"{r[0]}/{r[1]}" for r in (*result.matches, *result.includes))
        await self._guard.record(ctx, AuditInfo("search", type=",".join(query.types) or None,
                                                query="&".join(f"{k}={v}" for k, v in query.applied),
                                                returned=returned))
        return result

    async def everything(self, ctx: RequestContext, patient_id: str, request: EverythingQuery) -> SearchResult:
        """Patient/$everything: the patient's compartment plus what it refers to (one page)."""
        from benhan.fhir.storage.pg.everything import everything

        async with self._searching() as conn:
            row = await self._guard.fetch(conn, ctx, "read", "Patient", patient_id)
            if row is None or row["deleted"]:
                raise BenhanError(ErrorCode.NOT_FOUND, f"Patient/{patient_id} is not known")
            access, args = await self._guard.filter(conn, ctx, "search", None)
            result = await everything(
                conn, patient_id, request.start, request.end, request.since,
                list(request.types) if request.types else None, request.count, request.offset,
                access_filter=access, access_args=args,
            )
        returned = tuple(f"{r[0]}/{r[1]}" for r in (*result.matches, *result.includes))
        await self._guard.record(ctx, AuditInfo("operation", type="Patient", id=patient_id, patient_id=patient_id,
                                                query="$everything", returned=returned))
        return result

