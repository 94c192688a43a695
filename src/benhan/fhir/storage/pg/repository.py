"""The PostgreSQL repository: versioned create/read/update/patch/delete (searches and history: ``search_reads``).

Every method runs in one database transaction (or joins the transaction of a bound unit of work, used by
transaction Bundles), writes the search index rows in that same transaction, and never rewrites history.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, Literal, overload

import asyncpg
import orjson

from benhan.fhir.storage.access_types import AuditInfo
from benhan.fhir.storage.content import unpack
from benhan.fhir.storage.fhirpath_patch import apply_fhirpath_patch
from benhan.fhir.storage.pg import rows
from benhan.fhir.storage.pg.audit import AuditLog
from benhan.fhir.storage.pg.export_reads import ExportReads
from benhan.fhir.storage.pg.guard import FACT_TYPES, Guard
from benhan.fhir.storage.pg.search_reads import SearchReads
from benhan.fhir.storage.prepare import apply_json_patch, check_validation, stamp
from benhan.fhir.storage.protocol import (
    AccessPolicy,
    JsonObj,
    StoredResource,
    WriteResult,
)
from benhan.kernel import clock
from benhan.kernel.context import RequestContext
from benhan.kernel.db import Conn
from benhan.kernel.errors import BenhanError, ErrorCode
from benhan.kernel.ids import is_valid_id, new_id


class PgRepository(SearchReads, ExportReads):
    """Implements :class:`benhan.fhir.storage.protocol.Repository` (and ``export_types.ExportReader``)."""

    def __init__(
        self, pool: asyncpg.Pool, *, validate: bool = True, access: AccessPolicy | None = None,
        audit: AuditLog | None = None,
    ) -> None:
        self.pool = pool
        self.validate = validate
        self._conn: Conn | None = None
        # The single policy point (issue 4): every method asks the guard; without ``access`` it only fetches.
        self.access = access
        self.audit = audit
        self._guard = Guard(access, audit)

    # -- units of work -------------------------------------------------------------------------
    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[PgRepository]:
        """A repository bound to one connection and one transaction: all or nothing."""
        if self._conn is not None:
            yield self
            return
        async with self.pool.acquire() as conn, conn.transaction():
            bound = PgRepository(self.pool, validate=self.validate, access=self.access, audit=self.audit)
            bound._conn = conn
            bound._guard.pending = []
            yield bound
            await bound._guard.flush_pending(conn)  # the writes' audit records commit with them

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[Conn]:
        if self._conn is not None:
            yield self._conn
            return
        async with self.pool.acquire() as conn, conn.transaction():
            yield conn

    # -- reads ------------------------------------------------------------------------------------
    async def read(self, ctx: RequestContext, type_: str, id_: str) -> StoredResource:
        async with self._ro() as conn:
            row = await self._guard.fetch(conn, ctx, "read", type_, id_)
        if row is None:
            raise BenhanError(ErrorCode.NOT_FOUND, f"{type_}/{id_} is not known")
        stored = rows.to_stored(row)
        await self._guard.record(ctx, AuditInfo("read", type=type_, id=id_, version=stored.version,
                                                patient_id=row.get("patient_id")))
        if stored.deleted:
            raise BenhanError(ErrorCode.GONE, f"{type_}/{id_} was deleted", headers={"ETag": stored.etag})
        return stored

    async def vread(self, ctx: RequestContext, type_: str, id_: str, version: int) -> StoredResource:
        async with self._ro() as conn:
            await self._guard.check_type(ctx, "vread", type_)
            row = await rows.fetch_version(conn, type_, id_, version)
            glass = await self._guard.check_version(conn, ctx, type_, id_, row) if row is not None else False
        if row is None:
            raise BenhanError(ErrorCode.VERSION_NOT_FOUND, f"{type_}/{id_} has no version {version}")
        stored = rows.to_stored(row)
        await self._guard.record(ctx, AuditInfo("vread", type=type_, id=id_, version=version, break_glass=glass))
        if stored.deleted:
            raise BenhanError(ErrorCode.GONE, f"{type_}/{id_} version {version} is a deletion")
        return stored

    # -- writes -----------------------------------------------------------------------------------
    async def create(
        self, ctx: RequestContext, resource: JsonObj, *, if_none_exist: str | None = None,
        assigned_id: str | None = None,
    ) -> WriteResult:
        type_ = str(resource.get("resourceType"))
        self._check(resource)
        if not if_none_exist and self._conn is None:
            # One statement and no transaction block: the resource, its index rows, its access facts and its
            # audit record commit together (a statement is atomic), in one round trip instead of four.
            new = assigned_id or new_id()
            async with self.pool.acquire() as conn:
                await self._guard.check_new(conn, ctx, "create", {**resource, "id": new})
                return await self._insert_inline(conn, resource, type_, new, ctx)
        async with self._tx() as conn:
            if if_none_exist:
                # FHIR R4 http.html#ccreate: one match → return it, several → 412, none → create.
                existing = await self._single_match(conn, type_, if_none_exist, ctx)
                if existing is not None:
                    row = await rows.fetch_current(conn, type_, existing)
                    assert row is not None
                    return WriteResult(rows.to_stored(row), created=False, existing=True)
            new = assigned_id or new_id()
            await self._guard.check_new(conn, ctx, "create", {**resource, "id": new})
            return await self._insert(conn, resource, type_, new, ctx)

    async def find_ids(self, ctx: RequestContext, type_: str, query: str) -> list[str]:
        from benhan.fhir.storage.pg.search import find_matches

        await self._guard.check_type(ctx, "search", type_)
        async with self._ro() as conn:
            matches = await find_matches(conn, type_, query)
            visible = await self._guard.visible(conn, ctx, type_, [m[0] for m in matches])
            return [m[1] for m in matches if m[0] in visible]

    async def update(
        self, ctx: RequestContext, type_: str, id_: str, resource: JsonObj, *, if_match: int | None = None
    ) -> WriteResult:
        if not is_valid_id(id_):
            raise BenhanError(ErrorCode.INVALID_ID, f"{id_!r} is not a valid FHIR id")
        self._check(resource)
        if self._conn is None:
            for _attempt in range(2):  # a lost race is tried once more, then under the lock
                async with self.pool.acquire() as conn:
                    current = await self._guard.fetch(conn, ctx, "update", type_, id_)
                    if current is None:
                        break  # update-as-create: under the lock below
                    await self._guard.check_new(conn, ctx, "update", {**resource, "id": id_}, current["rid"])
                    written = await self._supersede(conn, current, resource, if_match, ctx, "update", unlocked=True)
                    if written is not None:
                        return written
        async with self._tx() as conn:
            current = await self._guard.fetch(conn, ctx, "update", type_, id_, lock=True)
            if current is None:
                if if_match is not None:
                    raise BenhanError(ErrorCode.VERSION_CONFLICT, f"{type_}/{id_} does not exist yet")
                # FHIR R4 http.html#upsert: update-as-create with the client's id.
                await self._guard.check_new(conn, ctx, "create", {**resource, "id": id_})
                return await self._insert(conn, resource, type_, id_, ctx)
            await self._guard.check_new(conn, ctx, "update", {**resource, "id": id_}, current["rid"])
            return await self._supersede(conn, current, resource, if_match, ctx, "update")

    async def conditional_update(
        self, ctx: RequestContext, type_: str, query: str, resource: JsonObj, *, if_match: int | None = None
    ) -> WriteResult:
        self._check(resource)
        async with self._tx() as conn:
            found = await self._single_match(conn, type_, query, ctx)
            body_id = resource.get("id")
            if found is None:
                # FHIR R4 http.html#cond-update: no match → create (with the body's id if given).
                new = str(body_id) if body_id else new_id()
                await self._guard.check_new(conn, ctx, "create", {**resource, "id": new})
                return await self._insert(conn, resource, type_, new, ctx)
            if body_id and body_id != found:
                raise BenhanError(ErrorCode.ID_MISMATCH, "The id in the body is not the id of the match")
            current = await self._guard.fetch(conn, ctx, "update", type_, found, lock=True)
            assert current is not None
            await self._guard.check_new(conn, ctx, "update", {**resource, "id": found}, current["rid"])
            return await self._supersede(conn, current, resource, if_match, ctx, "update")

    async def patch(
        self, ctx: RequestContext, type_: str, id_: str, patch: Any, content_type: str, *,
        if_match: int | None = None,
    ) -> WriteResult:
        async with self._tx() as conn:
            current = await self._guard.fetch(conn, ctx, "patch", type_, id_, lock=True)
            if current is None:
                raise BenhanError(ErrorCode.NOT_FOUND, f"{type_}/{id_} is not known")
            if current["deleted"]:
                raise BenhanError(ErrorCode.GONE, f"{type_}/{id_} was deleted")
            apply = apply_fhirpath_patch if content_type == "fhirpath-patch" else apply_json_patch
            patched = apply(orjson.loads(unpack(current["content"])), patch)
            if patched.get("resourceType") != type_ or patched.get("id") != id_:
                raise BenhanError(ErrorCode.PATCH_FAILED, "A patch may not change resourceType or id")
            self._check(patched, ErrorCode.PATCH_RESULT_INVALID)
            await self._guard.check_new(conn, ctx, "patch", patched, current["rid"])
            return await self._supersede(conn, current, patched, if_match, ctx, "patch")

    async def delete(
        self, ctx: RequestContext, type_: str, id_: str, *, if_match: int | None = None
    ) -> StoredResource | None:
        if self._conn is None:
            for _attempt in range(2):  # as update: read, then one statement that writes if nobody else did
                async with self.pool.acquire() as conn:
                    try:
                        current = await self._guard.fetch(conn, ctx, "delete", type_, id_)
                    except BenhanError as err:
                        if err.error is ErrorCode.NOT_FOUND:
                            return None
                        raise
                    if current is None:
                        return None
                    deleted = await self._delete_row(conn, current, if_match, ctx, unlocked=True)
                    if deleted is not None:
                        return deleted
        async with self._tx() as conn:
            try:
                current = await self._guard.fetch(conn, ctx, "delete", type_, id_, lock=True)
            except BenhanError as err:
                if err.error is ErrorCode.NOT_FOUND:
                    return None  # hidden answers exactly like absent (the denial is audited)
                raise
            if current is None:
                return None
            return await self._delete_row(conn, current, if_match, ctx)

    async def conditional_delete(self, ctx: RequestContext, type_: str, query: str) -> int:
        from benhan.fhir.storage.pg.search import find_matches

        async with self._tx() as conn:
            await self._guard.check_type(ctx, "search", type_)
            matches = await find_matches(conn, type_, query)
            visible = await self._guard.visible(conn, ctx, type_, [m[0] for m in matches])
            matches = [m for m in matches if m[0] in visible]
            if len(matches) > 1:
                # FHIR R4 http.html#cdelete: this server deletes single matches only.
                raise BenhanError(ErrorCode.MULTIPLE_MATCHES, f"{len(matches)} resources match; be more specific")
            for _rid, id_, _version in matches:
                current = await self._guard.fetch(conn, ctx, "delete", type_, id_, lock=True)
                if current is not None:
                    await self._delete_row(conn, current, None, ctx)
            return len(matches)

    # -- internals ----------------------------------------------------------------------------
    def _check(self, resource: JsonObj, error: ErrorCode = ErrorCode.INVALID_RESOURCE) -> None:
        if self.validate:
            check_validation(resource, error)

    async def _single_match(self, conn: Conn, type_: str, query: str, ctx: RequestContext) -> str | None:
        from benhan.fhir.storage.pg.search import find_matches

        matches = await find_matches(conn, type_, query)
        # Only what the context may see counts: a hidden match must not reveal itself.
        visible = await self._guard.visible(conn, ctx, type_, [m[0] for m in matches])
        matches = [m for m in matches if m[0] in visible]
        if len(matches) > 1:
            raise BenhanError(ErrorCode.MULTIPLE_MATCHES, f"{len(matches)} resources match {type_}?{query}")
        return matches[0][1] if matches else None

    async def _insert(
        self, conn: Conn, resource: JsonObj, type_: str, id_: str, ctx: RequestContext | None = None
    ) -> WriteResult:
        return (await self._insert_many(conn, [(resource, type_, id_)], ctx))[0]

    async def _insert_inline(
        self, conn: Conn, resource: JsonObj, type_: str, id_: str, ctx: RequestContext
    ) -> WriteResult:
        """A checked single create in one autocommitted statement."""
        from benhan.fhir.storage.pg.index import insert_new, new_rows

        when = clock.now()
        [row], [stored_json] = new_rows([(resource, type_, id_)], when)
        origin, records, facts = self._guard.inline_create(ctx, type_, id_, stored_json)
        await insert_new(conn, [row], when, audit=records, origin=origin, facts=facts)
        return WriteResult(StoredResource(type_, id_, 1, when, False, row.content), created=True)

    async def _insert_many(
        self, conn: Conn, items: Sequence[tuple[JsonObj, str, str]], ctx: RequestContext | None = None
    ) -> list[WriteResult]:
        """Store checked (resource, type, id) items as version 1: the resource rows and their search index in
        one statement, then the access facts and audit record of each, in the caller's transaction."""
        from benhan.fhir.storage.pg.index import insert_new, new_rows

        when = clock.now()
        new, stored = new_rows(items, when)
        rids = await insert_new(conn, new, when)
        for rid, row, stored_json in zip(rids, new, stored, strict=True):
            await self._guard.written(conn, ctx, "create", rid, row.type, row.id, 1, stored_json)
        return [WriteResult(StoredResource(r.type, r.id, 1, when, False, r.content), created=True) for r in new]

    async def create_many(
        self, ctx: RequestContext, items: Sequence[tuple[JsonObj, str]], labels: Sequence[str]
    ) -> list[WriteResult]:
        """Create new resources with reserved ids (the POSTs of a transaction Bundle) in few round trips.

        Each item is validated and checked exactly as :meth:`create` does, in order; a failure names the
        item by its ``labels`` entry.  Items are written in batches: a batch is flushed before the next
        check only when a pending item changes access facts (care links, Consent, the organisation tree)
        that the check may read, so every check sees what the items before it wrote, as one-by-one would.
        """
        results: list[WriteResult] = []
        async with self._tx() as conn:
            pending: list[tuple[JsonObj, str, str]] = []
            checked = self.access is not None and not ctx.is_system
            for (resource, id_), label in zip(items, labels, strict=True):
                type_ = str(resource.get("resourceType"))
                if checked and any(p[1] in FACT_TYPES for p in pending):
                    results += await self._insert_many(conn, pending, ctx)
                    pending = []
                try:
                    self._check(resource)
                    await self._guard.check_new(conn, ctx, "create", {**resource, "id": id_})
                except BenhanError as err:
                    err.message = f"{label}: {err.message}"
                    raise
                pending.append((resource, type_, id_))
            if pending:
                results += await self._insert_many(conn, pending, ctx)
        return results

    @overload
    async def _supersede(
        self, conn: Conn, current: asyncpg.Record, resource: JsonObj, if_match: int | None,
        ctx: RequestContext | None = ..., action: str = ..., *, unlocked: Literal[False] = ...,
    ) -> WriteResult: ...

    @overload
    async def _supersede(
        self, conn: Conn, current: asyncpg.Record, resource: JsonObj, if_match: int | None,
        ctx: RequestContext | None, action: str, *, unlocked: Literal[True],
    ) -> WriteResult | None: ...

    async def _supersede(
        self, conn: Conn, current: asyncpg.Record, resource: JsonObj, if_match: int | None,
        ctx: RequestContext | None = None, action: str = "update", *, unlocked: bool = False,
    ) -> WriteResult | None:
        """Write the next version of ``current``.  ``unlocked``: ``current`` was read without a lock or a
        transaction, so the one write statement checks the version is still current; None when it was not
        (another writer won; nothing was written) — only for writes whose audit record and access facts go in
        that statement (outside a unit of work)."""
        from benhan.fhir.search.compartment import patient_compartment
        from benhan.fhir.storage.pg.index import supersede

        if if_match is not None and current["version"] != if_match:
            raise BenhanError(
                ErrorCode.VERSION_CONFLICT,
                f"If-Match names version {if_match}, but the current version is {current['version']}",
            )
        type_, id_ = current["type"], current["id"]
        version, when = current["version"] + 1, clock.now()
        content = stamp(resource, type_, id_, version, when)
        stored_json = orjson.loads(content)
        patient = patient_compartment(stored_json)
        inline = self._guard.inline_audit(ctx, action, type_, id_, version, stored_json)
        assert not unlocked or inline is not None or self.access is None, "unlocked writes carry their audit"
        audit, facts = inline or (None, None)
        if not await supersede(conn, current["rid"], version, when, patient, content, type_, stored_json,
                               audit=audit, facts=facts, expected=current["version"] if unlocked else None):
            return None
        if inline is None:
            await self._guard.written(conn, ctx, action, current["rid"], type_, id_, version, stored_json)
        return WriteResult(StoredResource(type_, id_, version, when, False, content), created=bool(current["deleted"]))

    @overload
    async def _delete_row(
        self, conn: Conn, current: asyncpg.Record, if_match: int | None, ctx: RequestContext | None = ...,
        *, unlocked: Literal[False] = ...,
    ) -> StoredResource: ...

    @overload
    async def _delete_row(
        self, conn: Conn, current: asyncpg.Record, if_match: int | None, ctx: RequestContext | None,
        *, unlocked: Literal[True],
    ) -> StoredResource | None: ...

    async def _delete_row(
        self, conn: Conn, current: asyncpg.Record, if_match: int | None, ctx: RequestContext | None = None,
        *, unlocked: bool = False,
    ) -> StoredResource | None:
        """A deletion version of ``current``; ``unlocked`` as for :meth:`_supersede`."""
        from benhan.fhir.storage.pg.index import supersede_deleted

        if if_match is not None and current["version"] != if_match:
            raise BenhanError(ErrorCode.VERSION_CONFLICT, f"If-Match names version {if_match}")
        if current["deleted"]:
            return rows.to_stored(current)  # FHIR R4 http.html#delete: deleting again is a no-op.
        version, when = current["version"] + 1, clock.now()
        type_, id_ = current["type"], current["id"]
        inline = self._guard.inline_audit(ctx, "delete", type_, id_, version, None)
        assert not unlocked or inline is not None or self.access is None, "unlocked writes carry their audit"
        audit, facts = inline or (None, None)
        if not await supersede_deleted(conn, current["rid"], version, when, audit=audit, facts=facts,
                                       expected=current["version"] if unlocked else None):
            return None
        if inline is None:
            await self._guard.written(conn, ctx, "delete", current["rid"], type_, id_, version, None)
        return StoredResource(current["type"], current["id"], version, when, True, b"")
