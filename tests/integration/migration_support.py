"""A database of its own, migrated up to an older revision, for tests of one migration's upgrade and
downgrade (the session's database stays at the newest)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from benhan import migrate
from benhan.kernel.db import database_name, ensure_database, with_database


@asynccontextmanager
async def database_at(database_url: str, revision: str, suffix: str) -> AsyncIterator[str]:
    """The URL of database ``<test database>_<suffix>``, migrated to ``revision``; dropped afterwards."""
    name = f"{database_name(database_url)}_{suffix}"
    url = with_database(database_url, name)
    admin = await asyncpg.connect(with_database(database_url, "postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await ensure_database(url)
        await asyncio.to_thread(migrate.upgrade, url, revision)
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
