"""A search statement that runs past ``BENHAN_SEARCH_TIMEOUT`` is cancelled in PostgreSQL and answered with
BH-5003 (503, too-costly); the connection stays usable."""

from __future__ import annotations

from collections.abc import Iterator

import asyncpg
import pytest

from benhan.kernel import db as kdb
from benhan.kernel.errors import BenhanError, ErrorCode

pytestmark = pytest.mark.db


@kdb.custom_plans
async def _slow(conn: kdb.Conn, seconds: float) -> object:
    return await conn.fetchval("SELECT pg_sleep($1)", seconds)


@pytest.fixture
def short_timeout() -> Iterator[None]:
    kdb.set_search_timeout(0.2)
    yield
    kdb.set_search_timeout(30)


async def test_a_statement_past_the_limit_is_cancelled(db: asyncpg.Pool, short_timeout: None) -> None:
    async with db.acquire() as conn:
        with pytest.raises(BenhanError) as err:
            await _slow(conn, 5)
        assert err.value.error is ErrorCode.SEARCH_TOO_COSTLY
        outcome = err.value.outcome()["issue"][0]
        assert (err.value.status, outcome["code"]) == (503, "too-costly")
        assert "0.2 s" in outcome["diagnostics"]
        assert await _slow(conn, 0) is None  # under the limit: runs; the failed transaction is gone
        assert await conn.fetchval("SHOW statement_timeout") == "0"  # SET LOCAL ended with its transaction
