"""Schema migrations (Alembic).  Safe to run repeatedly and from several processes at once: the
environment takes a PostgreSQL advisory lock, so a second migrator waits and then finds nothing to do."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg

import benhan

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic (and SQLAlchemy under it) is imported only when migrating: web workers start faster without it.

MIGRATIONS_DIR = Path(benhan.__file__).resolve().parents[2] / "migrations"


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["database_url"] = url
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def head_revision() -> str | None:
    """The newest revision: the file name prefix of the last script (``0003_…`` → ``0003``), read without
    importing Alembic; a unit test checks it agrees with Alembic's own answer."""
    revisions = sorted(p.name.split("_", 1)[0] for p in (MIGRATIONS_DIR / "versions").glob("[0-9]*_*.py"))
    return revisions[-1] if revisions else None


async def current_revision(conn: asyncpg.Connection) -> str | None:
    exists = await conn.fetchval("SELECT to_regclass('alembic_version') IS NOT NULL")
    if not exists:
        return None
    value: str | None = await conn.fetchval("SELECT version_num FROM alembic_version LIMIT 1")
    return value


def run_ddl(sql: str) -> None:
    """Run a DDL script in a migration as written (no bind-parameter parsing of ``:name``)."""
    from alembic import op

    # The raw psycopg connection sends a parameterless script as is (``%`` and ``:`` stay literal).
    driver = op.get_bind().connection.driver_connection
    assert driver is not None
    driver.execute(sql)
