"""Migration 0012 on a database indexed before it: the ``:text`` string rows become text-only token rows, so
``:text`` keeps answering without a reindex; the downgrade gives them back (in a database of its own)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest
from alembic import command
from tests.integration.migration_support import database_at

from benhan import migrate
from benhan.fhir.search import registry
from benhan.fhir.storage.pg.search import find_matches

pytestmark = pytest.mark.db


@pytest.fixture
async def at_0011(database_url: str) -> AsyncIterator[str]:
    async with database_at(database_url, "0011", "m0012") as url:
        yield url


async def test_old_text_rows_keep_answering_after_the_upgrade(at_0011: str) -> None:
    code = registry.lookup("Observation", "code")
    name = registry.lookup("Patient", "name")
    assert code is not None
    assert name is not None
    text_pid = registry.pseudo_id(code, "text")
    conn = await asyncpg.connect(at_0011)
    try:
        rid = await conn.fetchval(
            "INSERT INTO resource (type, id, version, last_updated, deleted, content) "
            "VALUES ('Observation', 'o1', 1, $1, false, '{}') RETURNING rid", datetime.now(UTC))
        # as extraction before 0012 wrote them: a token row without text, the display as a :text string row
        await conn.execute("INSERT INTO sp_token (rid, system, param, code) VALUES ($1, 0, $2, '8867-4')",
                           rid, code.pid)
        await conn.executemany("INSERT INTO sp_string (rid, param, value) VALUES ($1, $2, $3)",
                               [(rid, text_pid, "nhip tim"), (rid, name.pid, "nhip")])
        await asyncio.to_thread(migrate.upgrade, at_0011)
        assert [m[1] for m in await find_matches(conn, "Observation", "code:text=Nhịp")] == ["o1"]
        assert await conn.fetch("SELECT param, value FROM sp_string") == [(name.pid, "nhip")]  # others stay
        assert await conn.fetchval("SELECT count(*) FROM sp_token WHERE param = $1 AND code = '' "
                                   "AND text = 'nhip tim'", text_pid) == 1
        await asyncio.to_thread(command.downgrade, migrate.alembic_config(at_0011), "0011")
        assert sorted(await conn.fetch("SELECT param, value FROM sp_string")) == sorted(
            [(name.pid, "nhip"), (text_pid, "nhip tim")])
        assert await conn.fetchval("SELECT count(*) FROM sp_token") == 1
    finally:
        await conn.close()
