"""Migration 0021 (in a database of its own): the writers' append tests its head without a query that
PostgreSQL plans again on every call, appends exactly as before (the chains verify, a chain no migration
created starts at its genesis), and the downgrade restores 0017's function."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import orjson
import pytest
from alembic import command
from tests.integration.migration_support import database_at

from benhan import migrate
from benhan.fhir.storage.pg import audit_trail

pytestmark = pytest.mark.db

_SOURCE = "SELECT prosrc FROM pg_proc WHERE proname = 'benhan_audit_append_rows'"
_ROW = orjson.dumps([{"recorded": "2026-11-27T03:00:00+00:00", "action": "update", "outcome": "success",
                      "user_name": "bs.lan", "user_id": None, "client_id": None, "facility_id": None,
                      "department_id": None, "patient_id": None, "break_glass": False,
                      "entity": "Patient/p1"}]).decode()
_CONTENT = b'{"resourceType":"AuditEvent","recorded":"2026-11-27T03:00:00+00:00"}'


@pytest.fixture
async def at_0020(database_url: str) -> AsyncIterator[str]:
    async with database_at(database_url, "0020", "m0021") as url:
        yield url


async def _append(conn: asyncpg.Connection, chain: int) -> int:
    n: int = await conn.fetchval("SELECT benhan_audit_append_rows($1, $2::json, $3)", chain, _ROW, [_CONTENT])
    return n


async def test_the_append_plans_once_and_chains_as_before(at_0020: str) -> None:
    conn = await asyncpg.connect(at_0020)
    try:
        assert "NOT FOUND AND NOT EXISTS" in await conn.fetchval(_SOURCE)
        await _append(conn, 3)
        await asyncio.to_thread(migrate.upgrade, at_0020)
        source = await conn.fetchval(_SOURCE)
        assert "NOT FOUND AND NOT EXISTS" not in source
        assert "IF FOUND THEN" in source
        for _ in range(3):
            assert await _append(conn, 3) == 1  # the head named, free
        await conn.execute("DELETE FROM audit_head WHERE chain = 31")  # as if no migration had created it
        assert await _append(conn, 31) == 1  # a chain without a head starts at its genesis
        assert await conn.fetchval("SELECT seq FROM audit_head WHERE chain = 3") == 4
        assert await conn.fetchval("SELECT seq FROM audit_head WHERE chain = 31") == 1
        result = await audit_trail.verify(conn)
        assert result.ok, result
        assert result.checked == 5
        await asyncio.to_thread(command.downgrade, migrate.alembic_config(at_0020), "0020")
        assert "NOT FOUND AND NOT EXISTS" in await conn.fetchval(_SOURCE)
        assert await _append(conn, 3) == 1
        assert (await audit_trail.verify(conn)).ok
    finally:
        await conn.close()
