"""benhan's pool (kernel.db.Pool) gives an idle connection back without asyncpg's task and timeout, and every
other connection through asyncpg's own release: one left in a transaction is rolled back, one whose query
was cancelled is waited for, one the server closed is replaced, and the pool still closes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from benhan.kernel import db as kdb

pytestmark = pytest.mark.db


@pytest.fixture
async def one(database_url: str) -> AsyncIterator[kdb.Pool]:
    """A pool of benhan's kind with a single connection: every acquisition gets the same session."""
    pool = await kdb.create_pool(database_url, 1, 1)
    yield pool
    await pool.close()


@pytest.fixture
def slow_releases(monkeypatch: pytest.MonkeyPatch) -> list[asyncpg.Pool]:
    """The pool of each release that went through asyncpg's own ``Pool.release`` (the shielded task)."""
    seen: list[asyncpg.Pool] = []
    original = asyncpg.Pool.release

    async def counted(self: asyncpg.Pool, connection: Any, *, timeout: float | None = None) -> None:  # noqa: ASYNC109
        seen.append(self)
        await original(self, connection, timeout=timeout)

    monkeypatch.setattr(asyncpg.Pool, "release", counted)
    return seen


async def _backend(pool: kdb.Pool) -> int:
    async with pool.acquire() as conn:
        pid: int = await conn.fetchval("SELECT pg_backend_pid()")
        return pid


async def test_an_idle_connection_goes_back_without_asyncpgs_release(one: kdb.Pool,
                                                                     slow_releases: list[asyncpg.Pool]) -> None:
    pids = {await _backend(one) for _ in range(50)}
    assert len(pids) == 1  # the same session every time: it went back to the pool, not closed
    assert slow_releases.count(one) == 0
    async with one.acquire() as conn:
        proxy = conn
    with pytest.raises(asyncpg.InterfaceError):  # detached, as asyncpg's release leaves it
        await proxy.fetchval("SELECT 1")
    assert one.get_idle_size() == 1


async def test_a_connection_left_in_a_transaction_is_rolled_back(one: kdb.Pool,
                                                                 slow_releases: list[asyncpg.Pool]) -> None:
    async with one.acquire() as conn:
        await conn.execute("CREATE TEMP TABLE t (x int)")
        await conn.execute("BEGIN")
        await conn.execute("INSERT INTO t VALUES (1)")
    assert slow_releases.count(one) == 1
    async with one.acquire() as conn:
        assert not conn.is_in_transaction()
        assert await conn.fetchval("SELECT count(*) FROM t") == 0  # same session, the insert rolled back
    assert slow_releases.count(one) == 1  # and from then on the fast way again


async def test_a_cancelled_query_is_waited_for_before_reuse(one: kdb.Pool, slow_releases: list[asyncpg.Pool]) -> None:
    async def sleeper() -> None:
        async with one.acquire() as conn:
            await conn.fetchval("SELECT pg_sleep(10)")

    task = asyncio.create_task(sleeper())
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert slow_releases.count(one) == 1
    async with one.acquire() as conn:
        assert await conn.fetchval("SELECT 41 + 1") == 42


async def test_a_connection_the_server_closed_is_replaced(one: kdb.Pool, db: asyncpg.Pool,
                                                           slow_releases: list[asyncpg.Pool]) -> None:
    first = await _backend(one)
    async with one.acquire() as conn:
        async with db.acquire() as admin:
            await admin.execute("SELECT pg_terminate_backend($1)", first)
        await asyncio.sleep(0.2)  # the client sees the server's goodbye
        with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError, ConnectionError)):
            await conn.fetchval("SELECT 1")
    assert slow_releases.count(one) == 1
    assert await _backend(one) != first


async def test_the_pool_closes_after_fast_releases(database_url: str, slow_releases: list[asyncpg.Pool]) -> None:
    pool = await kdb.create_pool(database_url, 1, 3)

    async def use() -> int:
        return await _backend(pool)

    await asyncio.gather(*(use() for _ in range(30)))
    assert slow_releases.count(pool) == 0
    await asyncio.wait_for(pool.close(), 10)
    assert pool.get_size() == 0
