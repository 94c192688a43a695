"""The benchmark's own PostgreSQL: ``BENCH_DATABASE_URL`` if set, else an embedded server of its own in
``var/bench/run-<pid>`` (initdb takes a few seconds; a private server means concurrent runs on a shared
machine cannot stop or drop each other's database).  Each run starts from a freshly created, migrated
database and drops it at the end.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import orjson

from benhan import migrate
from benhan.fhir.storage.content import unpack
from benhan.kernel.db import database_name, start_embedded, with_database

ROOT = Path(__file__).resolve().parents[1]
BENCH_DB = "benhan_bench"
DEFAULT_DIR = ROOT / "var" / "bench"
SETTINGS = (
    "server_version", "shared_buffers", "effective_cache_size", "work_mem", "max_connections",
    "synchronous_commit", "fsync", "full_page_writes", "wal_level", "commit_delay", "wal_buffers",
    "checkpoint_timeout", "max_wal_size", "random_page_cost", "jit",
)


def default_dir() -> Path:
    """A data folder of this process's own: runs on a shared machine never stop each other's server."""
    return DEFAULT_DIR / f"run-{os.getpid()}"


def postmaster_pid() -> int | None:
    """The private embedded server's postmaster (None with ``BENCH_DATABASE_URL``), to count its CPU apart."""
    pidfile = default_dir() / "pg" / "postmaster.pid"
    if os.environ.get("BENCH_DATABASE_URL") or not pidfile.exists():
        return None
    return int(pidfile.read_text().split()[0])


@contextmanager
def bench_database(data_dir: Path | None = None, keep: bool = False) -> Iterator[str]:
    """Yield the URL of a fresh, migrated database; at exit drop it, stop the embedded server and (unless
    ``keep``) delete its folder.  The database name carries the process id, so concurrent runs against
    one ``BENCH_DATABASE_URL`` do not collide."""
    external = os.environ.get("BENCH_DATABASE_URL")
    embedded = None
    folder = data_dir or default_dir()
    if external:
        base = external
    else:
        embedded = start_embedded(folder, db_name="postgres")
        base = embedded.url
    url = with_database(base, f"{BENCH_DB}_{os.getpid()}")
    try:
        asyncio.run(_recreate(url))
        migrate.upgrade(url)
        yield url
    finally:
        if not keep:
            asyncio.run(_drop(url))
        if embedded is not None:
            embedded.stop()
            if not keep and data_dir is None:
                shutil.rmtree(folder, ignore_errors=True)


async def _recreate(url: str) -> None:
    await _drop(url)
    admin = await asyncpg.connect(with_database(url, "postgres"))
    try:
        await admin.execute(f'CREATE DATABASE "{database_name(url)}"')
    finally:
        await admin.close()


async def _drop(url: str) -> None:
    admin = await asyncpg.connect(with_database(url, "postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database_name(url)}" WITH (FORCE)')
    finally:
        await admin.close()


async def analyze(url: str) -> None:
    """The steady state after the preload: statistics and visibility map as autovacuum leaves them some time
    after a bulk insert (PostgreSQL 13+ vacuums insert-only tables too)."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("VACUUM (ANALYZE)")
    finally:
        await conn.close()


async def facts(url: str) -> dict[str, Any]:
    """PostgreSQL version and the settings that decide write and read speed."""
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT name, setting, unit FROM pg_settings WHERE name = ANY($1)", list(SETTINGS))
        version = await conn.fetchval("SELECT version()")
    finally:
        await conn.close()
    settings = {r["name"]: f"{r['setting']}{' ' + r['unit'] if r['unit'] else ''}" for r in rows}
    return {"version": version, "settings": settings, "external": bool(os.environ.get("BENCH_DATABASE_URL"))}


# Tables that are not the clinical record (audit trail, identity, OAuth): reported apart from the
# per-resource storage figure of issue 8, which is about resources, history and search indexes.
NON_CLINICAL = ("audit_", "oauth_", "auth_", "app_user", "user_grant", "bench_", "alembic_")


async def storage(url: str) -> dict[str, Any]:
    """Bytes per current resource: resource + history + search-index tables with all their indexes."""
    conn = await asyncpg.connect(url)
    try:
        count = int(await conn.fetchval("SELECT count(*) FROM resource WHERE NOT deleted"))
        rows = await conn.fetch(
            "SELECT c.relname, pg_total_relation_size(c.oid) AS size FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r' "
            "ORDER BY 2 DESC")
    finally:
        await conn.close()
    tables = {r["relname"]: int(r["size"]) for r in rows}
    clinical = sum(v for k, v in tables.items() if not k.startswith(NON_CLINICAL))
    audit = sum(v for k, v in tables.items() if k.startswith("audit_"))
    return {
        "resources": count, "clinical_bytes": clinical,
        "bytes_per_resource": round(clinical / count) if count else None,
        "audit_bytes": audit, "tables": dict(list(tables.items())[:14]),
    }


async def sample(url: str, limit: int) -> dict[str, Any]:
    """Existing ids for reads, and patients' ids, family names and CCCD numbers for searches."""
    conn = await asyncpg.connect(url)
    try:
        ids = await conn.fetch(
            "SELECT type, id FROM resource WHERE NOT deleted ORDER BY random() LIMIT $1", limit)
        found = await conn.fetch(
            "SELECT id, content FROM resource WHERE type = 'Patient' AND NOT deleted ORDER BY random() LIMIT $1",
            min(limit, 2000))
    finally:
        await conn.close()
    pats = [(r["id"], orjson.loads(unpack(r["content"]))) for r in found]
    return {
        "ids": [f"{r['type']}/{r['id']}" for r in ids],
        "patients": [id_ for id_, _ in pats],
        "families": sorted({p["name"][0]["family"] for _, p in pats if p.get("name")}),
        "identifiers": [p["identifier"][0]["value"] for _, p in pats if p.get("identifier")],
    }


async def dataset(url: str) -> dict[str, int]:
    """How many resources and Patients (not deleted) the database holds: what the searches range over."""
    conn = await asyncpg.connect(url)
    try:
        row = await conn.fetchrow(
            "SELECT count(*) AS resources, count(*) FILTER (WHERE type = 'Patient') AS patients"
            " FROM resource WHERE NOT deleted")
    finally:
        await conn.close()
    assert row is not None
    return {"resources": int(row["resources"]), "patients": int(row["patients"])}


async def count_resources(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM resource"))
    finally:
        await conn.close()
