"""Single-row reads of the versioned store.  Writes go with their index rows in one statement each
(:func:`.index.insert_new`, :func:`.index.supersede`, :func:`.index.supersede_deleted`)."""

from __future__ import annotations

import asyncpg

from benhan.fhir.storage.content import unpack
from benhan.fhir.storage.protocol import StoredResource
from benhan.kernel.db import Conn

CURRENT_COLS = "type, id, version, last_updated, deleted, content"


def to_stored(row: asyncpg.Record) -> StoredResource:
    return StoredResource(
        type=row["type"], id=row["id"], version=row["version"], last_updated=row["last_updated"],
        deleted=row["deleted"], content=unpack(row["content"]),
    )


async def fetch_current(conn: Conn, type_: str, id_: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT rid, {CURRENT_COLS} FROM resource WHERE type = $1 AND id = $2", type_, id_
    )


async def lock_current(conn: Conn, type_: str, id_: str) -> asyncpg.Record | None:
    # FOR UPDATE serialises concurrent writers of one resource: the second waits, then sees the
    # new version, so an If-Match race has exactly one winner (FHIR R4 http.html#concurrency).
    return await conn.fetchrow(
        f"SELECT rid, {CURRENT_COLS} FROM resource WHERE type = $1 AND id = $2 FOR UPDATE", type_, id_
    )


async def fetch_version(conn: Conn, type_: str, id_: str, version: int) -> asyncpg.Record | None:
    row = await conn.fetchrow(
        f"SELECT {CURRENT_COLS} FROM resource WHERE type = $1 AND id = $2 AND version = $3", type_, id_, version
    )
    if row is not None:
        return row
    return await conn.fetchrow(
        """SELECT h.type, h.id, h.version, h.last_updated, h.deleted, h.content
            FROM resource r JOIN resource_history h ON h.rid = r.rid
            WHERE r.type = $1 AND r.id = $2 AND h.version = $3""",
        type_, id_, version,
    )
