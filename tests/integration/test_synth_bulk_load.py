"""The COPY load path: same stored form as the repository, and initial loads that drop the secondary
indexes and build them once at the end (also repaired by the next load after a crash)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import asyncpg
from tests.integration.search_oracle_data import generate, text_resources

from benhan.demo.province import build_province
from benhan.fhir.storage.pg import bulk
from benhan.fhir.storage.pg.index import INDEX_TABLES
from benhan.fhir.storage.pg.repository import PgRepository
from benhan.kernel.context import RequestContext
from benhan.synth.load import load_patients, load_resources

_INDEXES = "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() ORDER BY indexname"
AS_OF = datetime(2026, 11, 1, tzinfo=UTC)


async def test_an_initial_load_rebuilds_the_same_indexes(db: asyncpg.Pool, database_url: str) -> None:
    async with db.acquire() as conn:
        before = [tuple(r) for r in await conn.fetch(_INDEXES)]
        node = await conn.fetchval("SELECT pg_relation_filenode('resource_type_id')")
    province = build_province()
    await load_resources(database_url, province.resources)
    # The test runs inside an event loop; the loader drives its own (as the CLI does), so in a thread.
    result = await asyncio.to_thread(load_patients, database_url, 7, 3, province.world, AS_OF, workers=1,
                                     rebuild_indexes=True)
    assert result.written["Patient"] == 3
    async with db.acquire() as conn:
        assert [tuple(r) for r in await conn.fetch(_INDEXES)] == before
        assert await conn.fetchval("SELECT to_regclass('bulk_dropped_index')") is None
        # the (type, id) index the load kept was built again, compact (bulk.restore_secondary_indexes)
        assert await conn.fetchval("SELECT pg_relation_filenode('resource_type_id')") != node
        # the loaded data is found through the rebuilt indexes
        pid = await conn.fetchval("SELECT id FROM resource WHERE type = 'Patient' LIMIT 1")
        assert await conn.fetchval(
            "SELECT count(*) FROM resource WHERE patient_id = $1 AND type = 'Encounter'", pid) >= 1
    # a second load into a database with patients keeps the indexes (and skips what is stored)
    again = await asyncio.to_thread(load_patients, database_url, 7, 3, province.world, AS_OF, workers=1,
                                    rebuild_indexes=True)
    assert sum(again.written.values()) == 0
    assert again.skipped > 0


async def test_a_load_that_died_without_its_indexes_is_repaired(db: asyncpg.Pool, database_url: str) -> None:
    async with db.acquire() as conn:
        before = [tuple(r) for r in await conn.fetch(_INDEXES)]
        assert await bulk.is_empty(conn)
        dropped = await bulk.drop_secondary_indexes(conn)
    try:
        assert dropped >= 10
        async with db.acquire() as conn:
            left = [r["indexname"] for r in await conn.fetch(_INDEXES)]
        assert len(left) == len(before) - dropped + 1  # + the primary key of the kept definitions
        assert "sp_token_code" not in left
        assert "resource_type_id" in left
    finally:
        restored = await bulk.restore_secondary_indexes(database_url)
    assert restored == dropped
    assert await bulk.restore_secondary_indexes(database_url) == 0  # nothing left to do
    async with db.acquire() as conn:
        assert [tuple(r) for r in await conn.fetch(_INDEXES)] == before


async def test_bulk_rows_are_the_repositorys(db: asyncpg.Pool, repo: PgRepository) -> None:
    """The COPY path writes the index rows a single create writes (``index.table_rows``/``copy_index``, as a
    reindex does): the same resources once through the repository and once through ``bulk.write_batch``,
    under other ids, leave the same rows in every index table, the ``_text``/``_content`` vectors included."""
    resources = generate(seed=3, npat=6) + text_resources(3, n=6)
    for r in resources[:40]:
        div = f'<div xmlns="http://www.w3.org/1999/xhtml">Bệnh nhân {r["id"]}</div>'
        r["text"] = {"status": "generated", "div": div}
    ctx = RequestContext.system()
    for r in resources:
        await repo.update(ctx, r["resourceType"], r["id"], r)
    async with db.acquire() as conn, conn.transaction():
        written = await bulk.write_batch(conn, [{**r, "id": "b-" + r["id"]} for r in resources])
    assert sum(written.written.values()) == len(resources)
    async with db.acquire() as conn:
        for table in INDEX_TABLES:
            columns = [c["attname"] for c in await conn.fetch(
                "SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped"
                " AND attname <> 'rid'", table)]
            values = ", ".join(f"coalesce(x.{c}::text, 'NULL')" for c in columns)
            rows = await conn.fetch(
                f"SELECT r.id LIKE 'b-%' AS bulk, r.type, regexp_replace(r.id, '^b-', ''), {values}"
                f" FROM {table} x JOIN resource r ON r.rid = x.rid")
            direct = sorted(tuple(row)[1:] for row in rows if not row["bulk"])
            bulked = sorted(tuple(row)[1:] for row in rows if row["bulk"])
            assert bulked == direct, table
            assert direct, table  # not vacuous: the data has rows in every table
