"""Rebuild the whole search index (``benhan reindex``) when the extraction rules change.

Fast and online: every current resource is read in ``rid`` order, its rows are extracted in worker
processes (pure Python is the bottleneck) and COPYed into *shadow* tables without indexes; the indexes are
then built in one sorted pass each, and the shadow tables replace the live ones in one short transaction.
Searches keep using the old index until the swap. Resources written meanwhile are caught up inside the
swap transaction (it locks the live tables, so no write can slip between the catch-up and the swap).
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import timedelta
from typing import Any

import asyncpg
import orjson

from benhan.fhir.search.extract import extract
from benhan.fhir.storage.content import unpack
from benhan.fhir.storage.pg.index import INDEX_TABLES, TableRows, copy_index, table_rows
from benhan.fhir.storage.pg.sortdates import sync_sql
from benhan.kernel import clock
from benhan.kernel.db import Conn

__all__ = ["reindex"]

Progress = Callable[[int, int], None]
_NEW = "_new"
_CATCH_UP_MARGIN = timedelta(seconds=60)  # writes whose transaction began before the rebuild started
_IN_PROCESS_BELOW = 20_000  # small databases: worker start-up costs more than it saves


def extract_batch(batch: Sequence[tuple[int, str, bytes]]) -> TableRows:
    """Worker: the COPY records of ``(rid, type, stored JSON)`` rows (pure, picklable in and out)."""
    return table_rows([(rid, extract(type_, orjson.loads(content))) for rid, type_, content in batch])


async def _create_shadows(conn: Conn) -> None:
    """Empty copies of the index tables with what the migrations gave them besides indexes: defaults,
    extended statistics (0008) and storage parameters (0004's autovacuum settings; LIKE copies none)."""
    for table in INDEX_TABLES:
        await conn.execute(f"DROP TABLE IF EXISTS {table}{_NEW}")
        like = "INCLUDING ALL" if table == "sp_text" else "INCLUDING DEFAULTS INCLUDING STATISTICS"
        await conn.execute(f"CREATE UNLOGGED TABLE {table}{_NEW} (LIKE {table} {like})")
        options = await conn.fetchval("SELECT reloptions FROM pg_class WHERE oid = $1::regclass", table)
        if options:
            await conn.execute(f"ALTER TABLE {table}{_NEW} SET ({', '.join(options)})")


async def _statistics(conn: Conn) -> list[tuple[str, str, str, int | None]]:
    """(table, name, column numbers, target) of the extended statistics on the live index tables."""
    rows = await conn.fetch(
        "SELECT c.relname, s.stxname, s.stxkeys::text AS keys, s.stxstattarget FROM pg_statistic_ext s "
        "JOIN pg_class c ON c.oid = s.stxrelid WHERE c.relname = ANY($1::text[]) "
        "AND c.relnamespace = current_schema()::regnamespace", list(INDEX_TABLES))
    return [(r["relname"], r["stxname"], r["keys"], r["stxstattarget"]) for r in rows]


async def _restore_statistics(conn: Conn, stats: list[tuple[str, str, str, int | None]]) -> None:
    """After the swap: the copied statistics objects get their old names and targets back."""
    for table, name, keys, target in stats:
        copied = await conn.fetchval(
            "SELECT s.stxname FROM pg_statistic_ext s WHERE s.stxrelid = $1::regclass AND s.stxkeys::text = $2",
            table, keys)
        if copied is not None and copied != name:
            await conn.execute(f'ALTER STATISTICS "{copied}" RENAME TO "{name}"')
        if target is not None and target >= 0:
            await conn.execute(f'ALTER STATISTICS "{name}" SET STATISTICS {int(target)}')


async def _index_definitions(conn: Conn) -> list[tuple[str, str, str]]:
    """(table, index name, CREATE INDEX statement) of the live index tables, except constraint indexes."""
    rows = await conn.fetch(
        "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
        "AND tablename = ANY($1::text[]) AND indexname NOT IN (SELECT conname FROM pg_constraint)",
        [t for t in INDEX_TABLES if t != "sp_text"],
    )
    return [(r["tablename"], r["indexname"], r["indexdef"]) for r in rows]


async def _build_indexes(pool: asyncpg.Pool, defs: list[tuple[str, str, str]]) -> None:
    """Build the shadow tables' indexes, two tables at a time (PostgreSQL sorts each on its own core)."""
    gate = asyncio.Semaphore(2)

    async def build(table: str) -> None:
        # SET LOCAL: pooled connections are never reset (kernel.db), so no session state may leak.
        async with gate, pool.acquire() as conn, conn.transaction():
            await conn.execute("SET LOCAL maintenance_work_mem = '256MB'")
            await conn.execute(f"ALTER TABLE {table}{_NEW} SET LOGGED")
            for _t, name, ddl in (d for d in defs if d[0] == table):
                ddl = ddl.replace(f"INDEX {name} ON", f"INDEX {name}{_NEW} ON", 1)
                await conn.execute(ddl.replace(f".{table} ", f".{table}{_NEW} ", 1))

    await asyncio.gather(*(build(t) for t in INDEX_TABLES if t != "sp_text"))
    async with pool.acquire() as conn:
        await conn.execute(f"ALTER TABLE sp_text{_NEW} SET LOGGED")


async def _catch_up(conn: Conn, since: Any) -> None:
    """Re-extract resources written since the rebuild started (or deleted: their rows just go)."""
    found = await conn.fetch(
        "SELECT rid, type, content, deleted FROM resource WHERE last_updated >= $1", since)
    if not found:
        return
    rids = [r["rid"] for r in found]
    for table in INDEX_TABLES:
        await conn.execute(f"DELETE FROM {table}{_NEW} WHERE rid = ANY($1::int8[])", rids)
    live = [(r["rid"], r["type"], unpack(r["content"])) for r in found if not r["deleted"]]
    await copy_index(conn, extract_batch(live), _NEW)


async def _swap(conn: Conn, defs: list[tuple[str, str, str]], since: Any) -> None:
    grants = await conn.fetch(
        "SELECT table_name, grantee, privilege_type FROM information_schema.role_table_grants "
        "WHERE table_schema = current_schema() AND table_name = ANY($1::text[]) AND grantee <> current_user",
        list(INDEX_TABLES))
    async with conn.transaction():
        await conn.execute(f"LOCK TABLE {', '.join(INDEX_TABLES)} IN EXCLUSIVE MODE")
        await _catch_up(conn, since)
        stats = await _statistics(conn)
        for table in INDEX_TABLES:
            await conn.execute(f"DROP TABLE {table}")
            await conn.execute(f"ALTER TABLE {table}{_NEW} RENAME TO {table}")
        await _restore_statistics(conn, stats)
        await conn.execute(f"ALTER TABLE sp_text RENAME CONSTRAINT sp_text{_NEW}_pkey TO sp_text_pkey")
        for _table, name, _ddl in defs:
            await conn.execute(f"ALTER INDEX {name}{_NEW} RENAME TO {name}")
        for g in grants:
            await conn.execute(f'GRANT {g["privilege_type"]} ON {g["table_name"]} TO "{g["grantee"]}"')


async def _fill(pool: asyncpg.Pool, progress: Progress, total: int, batch_size: int, workers: int) -> int:
    """Stream every current resource into the shadow tables; returns how many were indexed.

    Reading, extraction (in ``workers`` processes) and COPY overlap: up to ``workers + 1`` batches are
    being extracted while the oldest finished one is written."""
    loop = asyncio.get_running_loop()
    executor = ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) if workers > 1 else None
    pending: deque[tuple[asyncio.Future[TableRows], int]] = deque()
    done, last = 0, 0
    try:
        async with pool.acquire() as reader, pool.acquire() as writer:
            while True:
                found = await reader.fetch(
                    "SELECT rid, type, content FROM resource WHERE rid > $1 AND NOT deleted ORDER BY rid LIMIT $2",
                    last, batch_size)
                if found:
                    last = found[-1]["rid"]
                    batch = [(r["rid"], r["type"], unpack(r["content"])) for r in found]
                    future: asyncio.Future[TableRows]
                    if executor is None:
                        future = loop.create_future()
                        future.set_result(extract_batch(batch))
                    else:
                        future = loop.run_in_executor(executor, extract_batch, batch)
                    pending.append((future, len(batch)))
                while pending and (not found or len(pending) > workers or pending[0][0].done()):
                    future, n = pending.popleft()
                    rows = await future
                    async with writer.transaction():
                        await copy_index(writer, rows, _NEW)
                    done += n
                    progress(done, total)
                if not found:
                    return done
    finally:
        if executor is not None:
            executor.shutdown(cancel_futures=True)


async def reindex(pool: asyncpg.Pool, progress: Progress, batch_size: int = 2000, workers: int = 0) -> int:
    """Rebuild the index of every current, non-deleted resource; returns how many were indexed.

    ``progress(done, total)`` drives a progress bar. ``workers`` extraction processes (0: one per CPU,
    in-process for small databases).
    """
    async with pool.acquire() as conn:
        since = clock.now() - _CATCH_UP_MARGIN
        total = int(await conn.fetchval("SELECT count(*) FROM resource WHERE NOT deleted"))
        defs = await _index_definitions(conn)
        await _create_shadows(conn)
    if workers == 0:
        workers = 1 if total < _IN_PROCESS_BELOW else max(2, mp.cpu_count())
    progress(0, total)
    done = await _fill(pool, progress, total, batch_size, workers)
    await _build_indexes(pool, defs)
    async with pool.acquire() as conn:
        await _swap(conn, defs, since)
        # the sort key of a changed ``date`` parameter (search/sortdate.py); the rewritten rows' old versions
        # are vacuumed now, as after a bulk load (index-only scans need the visibility map)
        if await conn.execute(sync_sql()) != "UPDATE 0":
            await conn.execute("VACUUM (ANALYZE) resource")
        await conn.execute(f"ANALYZE {', '.join(INDEX_TABLES)}")
    progress(done, done)
    return done
