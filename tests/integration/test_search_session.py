"""Searches on benhan's pools keep their settings in the session (kernel.db.custom_plans): set once, no
statements around each search, and reset when anything else takes the connection."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from benhan.kernel import db as kdb
from benhan.kernel.errors import BenhanError, ErrorCode

pytestmark = pytest.mark.db


@kdb.custom_plans
async def _search(conn: kdb.Conn, seconds: float = 0) -> object:
    return await conn.fetchval("SELECT pg_sleep($1)", seconds)


@pytest.fixture
async def one(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool of benhan's kind with a single connection: every acquisition gets the same session."""
    pool = await kdb.create_pool(database_url, 1, 1)
    yield pool
    await pool.close()


async def _settings(conn: kdb.Conn) -> tuple[str, str]:
    return (await conn.fetchval("SHOW plan_cache_mode"), await conn.fetchval("SHOW statement_timeout"))


async def test_a_second_search_sends_no_settings(one: asyncpg.Pool) -> None:
    sent: list[str] = []
    async with kdb.search_connection(one) as conn:
        conn.add_query_logger(lambda record: sent.append(str(record.query)))
        await _search(conn)
        assert await _settings(conn) == ("force_custom_plan", "30s")
    await asyncio.sleep(0)  # asyncpg calls query loggers with loop.call_soon: let the last calls run
    first = list(sent)
    assert any(q.startswith("SET plan_cache_mode") for q in first)
    assert not any(q.startswith(("BEGIN", "COMMIT")) for q in first)
    sent.clear()
    async with kdb.search_connection(one) as conn:  # the same connection, still set for searches
        await _search(conn)
    await asyncio.sleep(0)
    assert sent == ["SELECT pg_sleep($1)"]


async def test_anything_else_gets_a_plain_session(one: asyncpg.Pool) -> None:
    async with kdb.search_connection(one) as conn:
        await _search(conn)
    async with one.acquire() as conn:  # a read or a write: custom plans and the timeout are gone
        assert await _settings(conn) == ("auto", "0")


async def test_the_timeout_applies_and_follows_its_setting(one: asyncpg.Pool) -> None:
    async with kdb.search_connection(one) as conn:
        await _search(conn)  # set with the default 30 s
    kdb.set_search_timeout(0.2)
    try:
        async with kdb.search_connection(one) as conn:
            with pytest.raises(BenhanError) as err:
                await _search(conn, 5)
            assert err.value.error is ErrorCode.SEARCH_TOO_COSTLY
            assert await _search(conn) is None  # the session is still usable
            assert (await _settings(conn))[1] == "200ms"
    finally:
        kdb.set_search_timeout(30)


async def test_inside_a_transaction_the_settings_end_with_it(one: asyncpg.Pool) -> None:
    async with one.acquire() as conn:
        async with conn.transaction():
            await _search(conn)
        assert await _settings(conn) == ("auto", "0")
