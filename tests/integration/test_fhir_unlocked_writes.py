"""Updates and deletes without a transaction (repository.update/delete, index._gate_cte): the current row is
read without a lock, and the one write statement writes only if that version is still current.  Nothing is
lost or written twice when writers race (FHIR R4 http.html#concurrency)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest

from benhan.access import AccessControl
from benhan.fhir.storage.pg import index
from benhan.fhir.storage.pg.audit import AuditLog
from benhan.fhir.storage.pg.repository import PgRepository
from benhan.kernel.context import RequestContext

pytestmark = pytest.mark.db
SYSTEM = RequestContext.system("test")
#: an integration with write scopes: policy evaluated and every write audited in its own statement
CLIENT = RequestContext(client_id="it", username="it", scopes=frozenset({"system/*.cruds"}))


async def _counts(db: asyncpg.Pool, rid: int) -> tuple[int, int, int, int]:
    async with db.acquire() as conn:
        return (await conn.fetchval("SELECT version FROM resource WHERE rid = $1", rid),
                await conn.fetchval("SELECT count(*) FROM resource_history WHERE rid = $1", rid),
                await conn.fetchval("SELECT count(*) FROM sp_token WHERE rid = $1", rid),
                await conn.fetchval("SELECT count(*) FROM audit_log"))


@pytest.fixture
async def audited(db: asyncpg.Pool) -> AsyncIterator[PgRepository]:
    log = AuditLog(db)
    yield PgRepository(db, access=AccessControl(), audit=log)
    await log.close()  # the read audit's flusher keeps a connection of the pool until it is closed


async def test_racing_updates_without_if_match_all_land_in_order(db: asyncpg.Pool, audited: PgRepository) -> None:
    repo = audited
    pid = (await repo.create(CLIENT, {"resourceType": "Patient", "gender": "male"})).resource.id
    genders = ["female", "other", "unknown", "male", "female", "other"]
    done = await asyncio.gather(*(repo.update(CLIENT, "Patient", pid, {"resourceType": "Patient", "id": pid,
                                                                       "gender": g}) for g in genders))
    assert sorted(w.resource.version for w in done) == list(range(2, 2 + len(genders)))  # none lost or doubled
    async with db.acquire() as conn:
        rid = await conn.fetchval("SELECT rid FROM resource WHERE type = 'Patient' AND id = $1", pid)
        versions = [r[0] for r in await conn.fetch(
            "SELECT version FROM resource_history WHERE rid = $1 ORDER BY version", rid)]
        writes = await conn.fetchval("SELECT count(*) FROM audit_log WHERE action IN ('create', 'update')")
        tokens = await conn.fetch("SELECT code FROM sp_token WHERE rid = $1 AND code = ANY($2::text[])", rid,
                                  ["female", "other", "unknown", "male"])
    assert versions == list(range(1, 1 + len(genders)))  # every earlier version kept once
    assert writes == 1 + len(genders)  # one audit record per write that happened
    current = await repo.read(SYSTEM, "Patient", pid)
    assert [t[0] for t in tokens] == [current.json()["gender"]]  # the index holds the current version only


async def test_a_stale_version_writes_nothing(db: asyncpg.Pool) -> None:
    repo = PgRepository(db)
    pid = (await repo.create(SYSTEM, {"resourceType": "Patient", "gender": "male", "active": True})).resource.id
    await repo.update(SYSTEM, "Patient", pid, {"resourceType": "Patient", "id": pid, "gender": "female"})
    async with db.acquire() as conn:
        rid = await conn.fetchval("SELECT rid FROM resource WHERE type = 'Patient' AND id = $1", pid)
    before = await _counts(db, rid)
    when = datetime.now(UTC)
    body = {"resourceType": "Patient", "id": pid, "gender": "other"}
    async with db.acquire() as conn:
        assert not await index.supersede(conn, rid, 3, when, pid, b'{"resourceType":"Patient"}', "Patient", body,
                                         expected=1)  # version 2 is current
        assert not await index.supersede_deleted(conn, rid, 3, when, expected=1)
    assert await _counts(db, rid) == before  # no row, index row, history row or audit record
    async with db.acquire() as conn:
        assert await index.supersede(conn, rid, 3, when, pid, b'{"resourceType":"Patient"}', "Patient", body,
                                     expected=2)
    assert (await _counts(db, rid))[:2] == (3, 2)


async def test_update_and_delete_race_leaves_consistent_versions(db: asyncpg.Pool, audited: PgRepository) -> None:
    repo = audited
    pid = (await repo.create(CLIENT, {"resourceType": "Patient", "gender": "male"})).resource.id
    update = repo.update(CLIENT, "Patient", pid, {"resourceType": "Patient", "id": pid, "gender": "female"})
    await asyncio.gather(update, repo.delete(CLIENT, "Patient", pid))
    async with db.acquire() as conn:
        rid, version, deleted = await conn.fetchrow(
            "SELECT rid, version, deleted FROM resource WHERE type = 'Patient' AND id = $1", pid)
        history = [r[0] for r in await conn.fetch(
            "SELECT version FROM resource_history WHERE rid = $1 ORDER BY version", rid)]
        tokens = await conn.fetchval("SELECT count(*) FROM sp_token WHERE rid = $1", rid)
    assert version == 3
    assert history == [1, 2]
    assert (tokens == 0) == deleted  # a deleted resource has no index rows; an updated one has its own


async def test_concurrent_single_writes_each_chain_one_record(database_url: str, db: asyncpg.Pool) -> None:
    """A single create, update or delete appends its one audit record in its own statement
    (``benhan_audit_append_rows``): under concurrency every write has exactly one record, writers spread over
    the free heads, and every chain verifies."""
    from benhan.fhir.storage.pg import audit_trail

    async with db.acquire() as conn:  # the heads the migrations create (the tests' reset empties the table)
        await conn.execute("INSERT INTO audit_head SELECT c, 0, benhan_audit_genesis(c) FROM generate_series(0, 31) c")
    wide = await asyncpg.create_pool(database_url, min_size=1, max_size=20)
    log = AuditLog(wide)
    repo = PgRepository(wide, access=AccessControl(), audit=log)
    try:
        created = await asyncio.gather(*(repo.create(CLIENT, {"resourceType": "Patient", "gender": "male"})
                                         for _ in range(60)))
        ids = [w.resource.id for w in created]
        await asyncio.gather(*(repo.update(CLIENT, "Patient", i, {"resourceType": "Patient", "id": i,
                                                                  "gender": "female"}) for i in ids))
        await asyncio.gather(*(repo.delete(CLIENT, "Patient", i) for i in ids[:30]))
    finally:
        await log.close()
        await wide.close()
    async with db.acquire() as conn:
        actions = dict(await conn.fetch("SELECT action, count(*) FROM audit_log GROUP BY action"))
        chains = await conn.fetchval("SELECT count(DISTINCT chain) FROM audit_log")
        result = await audit_trail.verify(conn)
    assert actions == {"create": 60, "update": 60, "delete": 30}
    assert chains > 1  # concurrent writers took other free heads
    assert result.ok, result


async def test_a_write_waits_for_a_head_when_every_head_is_held(db: asyncpg.Pool, audited: PgRepository) -> None:
    """With all 32 writers' heads held, a write's append waits for the head it names; nothing is written
    without its record, and the record chains once the head is free."""
    from benhan.fhir.storage.pg import audit_trail

    async with db.acquire() as conn:  # the heads the migrations create (the tests' reset empties the table)
        await conn.execute("INSERT INTO audit_head SELECT c, 0, benhan_audit_genesis(c) FROM generate_series(0, 31) c")
    holder = await db.acquire()
    try:
        tx = holder.transaction()
        await tx.start()
        await holder.execute("SELECT chain FROM audit_head WHERE chain < 32 FOR UPDATE")
        write = asyncio.create_task(audited.create(CLIENT, {"resourceType": "Patient", "gender": "other"}))
        await asyncio.sleep(0.5)
        assert not write.done()  # waiting for a head
        async with db.acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM resource WHERE type = 'Patient'") == 0
        await tx.rollback()
        written = await asyncio.wait_for(write, 10)
    finally:
        await db.release(holder)
    async with db.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'create' AND $1 = ANY(entity)",
                                   f"Patient/{written.resource.id}") == 1
        assert (await audit_trail.verify(conn)).ok
