"""Schema migrations (Alembic).  Safe to run repeatedly and from several processes at once: the
environment takes a PostgreSQL advisory lock, so a second migrator waits and then finds nothing to do."""

from __future__ import annotations

from pathlib import Path

import asyncpg
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

import benhan

MIGRATIONS_DIR = Path(benhan.__file__).resolve().parents[2] / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["database_url"] = url
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def head_revision() -> str | None:
    script = ScriptDirectory.from_config(alembic_config("unused"))
    return script.get_current_head()


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
    op.get_bind().connection.driver_connection.execute(sql)
