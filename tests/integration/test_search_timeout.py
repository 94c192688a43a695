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


async def test_a_departing_client_cancels_its_statement_in_postgresql(db: asyncpg.Pool) -> None:
    """The lean /fhir adapter cancels a search whose client disconnected; asyncpg then cancels the running
    statement, so PostgreSQL stops working on it (not only the Python task)."""
    import asyncio
    from typing import Any, cast

    from benhan.fhir.api import FhirApi
    from benhan.fhir.storage.protocol import Repository
    from benhan.kernel.context import RequestContext

    class SleepingRepo:
        async def search(self, ctx: RequestContext, query: object) -> object:
            async with db.acquire() as conn:
                await conn.execute("SELECT pg_sleep(20) /* departing-client-test */")
            raise AssertionError("not cancelled")

    async def caller(*_args: object) -> RequestContext:
        return RequestContext(username="t")

    repo = SleepingRepo()
    api = FhirApi(lambda: cast(Repository, repo), lambda: None, caller, "http://t/fhir", 1000)
    incoming = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> dict[str, Any]:
        if incoming:
            return incoming.pop(0)
        await asyncio.sleep(0.3)
        return {"type": "http.disconnect"}

    async def send(_message: dict[str, Any]) -> None:
        return None

    async def sleeping() -> int:
        return int(await db.fetchval("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                                     "AND query LIKE '%departing-client-test%' AND pid <> pg_backend_pid()"))

    scope = {"type": "http", "method": "GET", "path": "/fhir/Observation", "query_string": b"", "headers": [],
             "client": None, "server": ("t", 80), "scheme": "http", "root_path": ""}
    serving = asyncio.ensure_future(api.serve("Observation", scope, receive, send))  # type: ignore[arg-type]
    await asyncio.sleep(0.15)
    assert await sleeping() == 1
    await asyncio.wait_for(serving, 5)
    for _ in range(40):
        if await sleeping() == 0:
            break
        await asyncio.sleep(0.05)
    assert await sleeping() == 0
