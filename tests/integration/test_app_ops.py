"""Health endpoints, the CLI, and concurrent migrations."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[2]
BENHAN = str(ROOT / ".venv" / "bin" / "benhan")


async def test_healthz_readyz(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json()["status"] == "ok"
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["database"] == "ok"


async def test_readyz_reports_stale_schema(app: object, client: httpx.AsyncClient) -> None:
    app.state.schema_head = "9999"  # type: ignore[attr-defined]
    ready = await client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["expected"] == "9999"


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "BENHAN_MODE": "test", **(env or {})}
    return subprocess.run([BENHAN, *args], capture_output=True, text=True, env=full_env, timeout=120, check=False)


def test_cli_help_and_version() -> None:
    for command in ("serve", "migrate", "demo", "version"):
        out = run_cli(command, "--help")
        assert out.returncode == 0, out.stderr
        assert "Usage" in out.stdout
    assert run_cli("version").stdout.startswith("benhan ")


def migrate_three_at_once_then_again(url: str) -> None:
    env = {**os.environ, "BENHAN_MODE": "test", "DATABASE_URL": url}
    procs = [subprocess.Popen([BENHAN, "migrate"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(3)]
    results = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), results
    again = run_cli("migrate", env={"DATABASE_URL": url})
    assert again.returncode == 0, again.stderr


async def test_migrate_is_idempotent_and_concurrent(database_url: str) -> None:
    scratch = database_url.rsplit("/", 1)[0] + "/benhan_migrate_race"
    if "?" in database_url:
        base, query = database_url.split("?", 1)
        scratch = base.rsplit("/", 1)[0] + "/benhan_migrate_race?" + query
    admin = await asyncpg.connect(database_url)
    await admin.execute('DROP DATABASE IF EXISTS "benhan_migrate_race" WITH (FORCE)')
    await admin.execute('CREATE DATABASE "benhan_migrate_race"')
    try:
        await asyncio.to_thread(migrate_three_at_once_then_again, scratch)
        conn = await asyncpg.connect(scratch)
        try:
            assert await conn.fetchval("SELECT count(*) FROM alembic_version") == 1
        finally:
            await conn.close()
    finally:
        await admin.execute('DROP DATABASE IF EXISTS "benhan_migrate_race" WITH (FORCE)')
        await admin.close()


def test_python_is_311() -> None:
    assert sys.version_info[:2] == (3, 11)
