"""Single-row SQL for the versioned store.  Each function runs inside the caller's transaction."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from benhan.fhir.storage.protocol import StoredResource
from benhan.kernel.db import Conn

CURRENT_COLS = "type, id, version, last_updated, deleted, content"


def to_stored(row: asyncpg.Record) -> StoredResource:
    return StoredResource(
        type=row["type"], id=row["id"], version=row["version"], last_updated=row["last_updated"],
        deleted=row["deleted"], content=bytes(row["content"]),
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


async def insert_new(
    conn: Conn, type_: str, id_: str, when: datetime, patient_id: str | None, content: bytes
) -> int:
    rid: int = await conn.fetchval(
        "INSERT INTO resource (type, id, version, last_updated, deleted, patient_id, content)"
        " VALUES ($1, $2, 1, $3, false, $4, $5) RETURNING rid",
        type_, id_, when, patient_id, content,
    )
    return rid


async def supersede(
    conn: Conn, rid: int, new_version: int, when: datetime, deleted: bool,
    patient_id: str | None, content: bytes,
) -> None:
    """Move the current version to history and make ``new_version`` current, in one statement."""
    await conn.execute(
        """
        WITH moved AS (
            INSERT INTO resource_history (rid, version, type, id, last_updated, deleted, patient_id, content)
            SELECT rid, version, type, id, last_updated, deleted, patient_id, content
            FROM resource WHERE rid = $1
        )
        UPDATE resource SET version = $2, last_updated = $3, deleted = $4, patient_id = $5, content = $6
        WHERE rid = $1
        """,
        rid, new_version, when, deleted, patient_id, content,
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
