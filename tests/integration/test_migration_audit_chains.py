"""Migration 0017 (in a database of its own): the read audit's flushers get the heads of chains 32-63, and the
writers' append looks for a free head among 0-31 only; the downgrade restores 0015's search and keeps the
heads (records may hang from them)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest
from alembic import command
from tests.integration.migration_support import database_at

from benhan import migrate
from benhan.fhir.storage.pg.audit import AUDIT_CHAINS, FLUSHER_CHAINS

pytestmark = pytest.mark.db

_SEARCH = "SELECT prosrc FROM pg_proc WHERE proname = 'benhan_audit_append_rows'"


@pytest.fixture
async def at_0016(database_url: str) -> AsyncIterator[str]:
    async with database_at(database_url, "0016", "m0017") as url:
        yield url


async def test_the_flushers_chains_come_and_the_writers_keep_to_theirs(at_0016: str) -> None:
    conn = await asyncpg.connect(at_0016)
    try:
        assert await conn.fetchval("SELECT max(chain) FROM audit_head") == AUDIT_CHAINS - 1
        assert f"chain < {AUDIT_CHAINS}" not in await conn.fetchval(_SEARCH)
        await asyncio.to_thread(migrate.upgrade, at_0016)
        heads = await conn.fetch("SELECT chain, seq, hash = benhan_audit_genesis(chain) AS genesis FROM audit_head"
                                 " WHERE chain >= $1 AND chain < $2 ORDER BY chain", AUDIT_CHAINS, 2 * AUDIT_CHAINS)
        assert [(r["chain"], r["seq"], r["genesis"]) for r in heads] == [(c, 0, True) for c in FLUSHER_CHAINS]
        assert f"WHERE chain < {AUDIT_CHAINS}" in await conn.fetchval(_SEARCH)
        await asyncio.to_thread(command.downgrade, migrate.alembic_config(at_0016), "0016")
        assert f"chain < {AUDIT_CHAINS}" not in await conn.fetchval(_SEARCH)
        assert await conn.fetchval("SELECT count(*) FROM audit_head") == 2 * AUDIT_CHAINS
    finally:
        await conn.close()
