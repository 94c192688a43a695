"""The read audit's group commit (issue 8): the flusher keeps one connection from batch to batch, takes a new
one when that connection was closed, and gives it back at shutdown; it commits each batch as one block on a
chain of its own (64-95, migration 0018) against the head it knows, and reads the head again when another
process appended there; ``benhan_audit_append`` (migration 0013) starts a missing chain head itself and chains
its hashes as before."""

from __future__ import annotations

import asyncio
from datetime import datetime

import asyncpg
import pytest

from benhan.access.audit import audit_record
from benhan.fhir.storage.access_types import AuditInfo, AuditRecord
from benhan.fhir.storage.pg.audit import BLOCK_CHAINS, BLOCK_EVENTS, AuditLog, append, append_block, text_array
from benhan.fhir.storage.pg.audit_trail import verify
from benhan.kernel import clock
from benhan.kernel.context import RequestContext
from benhan.kernel.db import create_pool

CTX = RequestContext(client_id="c", username="c", scopes=frozenset({"system/*.rs"}))


#: a caller whose names need quoting and escaping in JSON and SQL
QUOTED = RequestContext(user_id="u'1", username="bs. Nguyễn \"An\"", facility_id="f\\1", department_id=None,
                        client_id=None, scopes=frozenset({"system/*.rs"}))
#: the columns of ``audit_log`` and ``audit_event`` an ``AuditRecord`` holds besides its content, in its order
_COLUMNS = ("recorded", "action", "outcome", "user_name", "user_id", "client_id", "facility_id", "department_id",
            "patient_id", "break_glass")


def _quoted(now: datetime) -> list[AuditRecord]:
    """A break-the-glass read and a search, by :data:`QUOTED`."""
    return [audit_record(QUOTED, AuditInfo("read", type="Patient", id="p1", patient_id="p1", break_glass=True), now),
            audit_record(QUOTED, AuditInfo("search", type="Encounter", query="patient=p1"), now)]


def _columns(row: asyncpg.Record) -> tuple[object, ...]:
    """A stored row's or event's columns, comparable with ``tuple(record[1:])``."""
    return (*(row[c] for c in _COLUMNS), tuple(row["entity"]))


def _read(id_: str) -> list:
    return [audit_record(CTX, AuditInfo("read", type="Patient", id=id_, patient_id=id_), clock.now())]


async def _appenders(db: asyncpg.Pool) -> list[int]:
    async with db.acquire() as conn:
        return [r["pid"] for r in await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'benhan'"
            " AND query LIKE '%INSERT INTO audit_block%' ORDER BY pid")]


async def test_the_flusher_keeps_its_connection_and_replaces_a_closed_one(db: asyncpg.Pool,
                                                                          database_url: str) -> None:
    pool = await create_pool(database_url, 1, 2)
    log = AuditLog(pool)
    try:
        await log.record(_read("p1"))
        await log.record(_read("p2"))
        assert pool.get_idle_size() == pool.get_size() - 1  # held by the flusher between batches
        (pid,) = await _appenders(db)
        async with db.acquire() as conn:  # the server closes it (restart, idle timeout, an operator) ...
            await conn.execute("SELECT pg_terminate_backend($1)", pid)
        await asyncio.sleep(0.2)  # ... while the flusher waits for the next batch
        await log.record(_read("p3"))  # still recorded, on a fresh connection
        assert pid not in await _appenders(db)
    finally:
        await log.close()
    assert pool.get_idle_size() == pool.get_size()  # given back at shutdown
    await pool.close()
    async with db.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM audit_event WHERE action = 'read'") == 3
        assert (await verify(conn)).ok


async def _blocks(conn: asyncpg.Connection, chain: int) -> list[tuple[int, list[str]]]:
    return [(r["seq"], list(r["patients"])) for r in await conn.fetch(
        "SELECT seq, array_agg(patient_id ORDER BY part) AS patients FROM audit_event WHERE chain = $1 GROUP BY seq"
        " ORDER BY seq", chain)]


async def _heads(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:  # the heads a migrated database has (the test fixture truncates them)
        await conn.execute("INSERT INTO audit_head SELECT c, 0, benhan_audit_genesis(c) FROM generate_series(0, 63) c")


async def test_the_flusher_appends_to_its_own_chain_and_follows_other_appends(db: asyncpg.Pool,
                                                                              database_url: str) -> None:
    await _heads(db)
    pool = await create_pool(database_url, 1, 2)
    log = AuditLog(pool)
    (chain,) = log.chains
    assert BLOCK_CHAINS.start <= chain < BLOCK_CHAINS.stop
    try:
        await log.record(_read("p1"))
        await asyncio.gather(log.record(_read("p2")), log.record(_read("p3")))  # one batch of two: one block
        async with db.acquire() as conn:  # another process appends to the same chain (a worker whose pid
            await append_block(conn, chain, _read("x1") + _read("x2"), {})  # falls on it)
        await log.record(_read("p4"))  # its known head is stale: nothing inserted, head read again, appended
        other = AuditLog(pool, flushers=1)
        other.chains = [chain]  # two processes on one chain, at once
        await asyncio.gather(*(lg.record(_read(f"q{i}")) for i in range(6) for lg in (log, other)))
        await other.close()
    finally:
        await log.close()
    await pool.close()
    async with db.acquire() as conn:
        blocks = await _blocks(conn, chain)
        assert [seq for seq, _p in blocks] == list(range(1, len(blocks) + 1))  # no gap, no duplicate
        assert [p for _s, p in blocks[:4]] == [["p1"], ["p2", "p3"], ["x1", "x2"], ["p4"]]
        assert sorted(x for _s, p in blocks[4:] for x in p) == sorted(f"q{i}" for i in range(6) for _ in (1, 2))
        assert await conn.fetchval("SELECT count(*) FROM audit_event WHERE chain <> $1", chain) == 0
        assert await conn.fetchval("SELECT seq FROM audit_head WHERE chain = $1", chain) == len(blocks)
        assert (await verify(conn)).ok


async def test_the_flusher_without_its_head_row_starts_its_chain(db: asyncpg.Pool, database_url: str) -> None:
    """A database whose heads 64-95 are missing (the fixture's truncation; a restore of 0-63 only): the first
    block starts the chain at its genesis, the next goes the short way."""
    pool = await create_pool(database_url, 1, 2)
    log = AuditLog(pool)
    try:
        await log.record(_read("p1"))
        await log.record(_read("p2"))
    finally:
        await log.close()
    await pool.close()
    async with db.acquire() as conn:
        assert await _blocks(conn, log.chains[0]) == [(1, ["p1"]), (2, ["p2"])]
        assert (await verify(conn)).ok


async def test_a_block_holds_its_events_columns_and_a_big_batch_is_cut(db: asyncpg.Pool) -> None:
    now = clock.now()
    records = [*_quoted(now), *_read("p2")]
    async with db.acquire() as conn:
        await append_block(conn, BLOCK_CHAINS[0], records, {})
        row = await conn.fetchrow("SELECT * FROM audit_block")
        events = await conn.fetch("SELECT * FROM audit_event ORDER BY part")
        assert (await verify(conn)).ok
        assert (row["recorded_from"], row["recorded_to"], row["patients"], row["users"], row["any_glass"]) == (
            now, records[2].recorded, ["p1", "p2"], ["bs. Nguyễn \"An\"", "c"], True)
        for event, rec in zip(events, records, strict=True):
            assert _columns(event) == tuple(rec[1:])
        assert [e["entity"] for e in events] == [["Patient/p1"], [], ["Patient/p2"]]
        many = [r for i in range(BLOCK_EVENTS + 1) for r in _read(f"m{i}")]
        await append_block(conn, BLOCK_CHAINS[1], many, {})  # one transaction, two blocks
        assert [(s, len(p)) for s, p in await _blocks(conn, BLOCK_CHAINS[1])] == [(1, BLOCK_EVENTS), (2, 1)]
        assert (await verify(conn)).checked == 3 + BLOCK_EVENTS + 1


async def test_append_starts_a_missing_chain_head_and_chains_the_batches(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        await conn.execute("DELETE FROM audit_head WHERE chain = 5")  # as after a reset: no head row
        await append(conn, _read("a") + _read("b") + _read("c"), chain=5)
        await append(conn, _read("d"), chain=5)
        await append(conn, _read("e") + _read("f"), chain=6)
        rows = await conn.fetch("SELECT chain, seq FROM audit_log ORDER BY chain, seq")
        assert [(r["chain"], r["seq"]) for r in rows] == [(5, 1), (5, 2), (5, 3), (5, 4), (6, 1), (6, 2)]
        assert await conn.fetchval("SELECT seq FROM audit_head WHERE chain = 5") == 4
        assert (await verify(conn)).ok


async def test_the_columns_arrive_as_recorded(db: asyncpg.Pool) -> None:
    records = _quoted(clock.now())
    async with db.acquire() as conn:
        await append(conn, records, chain=2)
        rows = await conn.fetch("SELECT * FROM audit_log WHERE chain = 2 ORDER BY seq")
        assert (await verify(conn)).ok
    for row, rec in zip(rows, records, strict=True):
        assert _columns(row) == tuple(rec[1:])
    assert [r["entity"] for r in rows] == [["Patient/p1"], []]


async def test_rows_and_contents_must_agree(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        with pytest.raises(asyncpg.RaiseError, match="0 rows for 1 contents"):
            await conn.execute("SELECT benhan_audit_append_rows(1, '[]'::json, $1)", [b"{}"])


async def test_an_append_takes_a_free_chain_when_its_own_is_held(db: asyncpg.Pool) -> None:
    """Migration 0015: a writer whose chain head another transaction holds (until its commit) appends to the
    next free chain instead of waiting; only when every head is held does it wait for its own."""
    async with db.acquire() as holder, db.acquire() as other:
        await _heads(db)
        async with holder.transaction():
            await append(holder, _read("a"), chain=3)
            # without 0015 this waits for the holder's commit
            await asyncio.wait_for(append(other, _read("b"), chain=3), timeout=5)
        async with holder.transaction():  # the last writers' chain held: the next free one is 0, not 32
            await append(holder, _read("a2"), chain=31)  # (migration 0017: 32-63 are the flushers')
            await asyncio.wait_for(append(other, _read("b2"), chain=31), timeout=5)
        async with holder.transaction():
            await holder.execute("SELECT * FROM audit_head FOR UPDATE")  # every head held
            waiting = asyncio.ensure_future(append(other, _read("c"), chain=7))
            await asyncio.sleep(0.3)
            assert not waiting.done()
        await asyncio.wait_for(waiting, timeout=5)
        rows = await holder.fetch("SELECT chain, seq, patient_id FROM audit_log ORDER BY patient_id")
        assert [tuple(r) for r in rows] == [(3, 1, "a"), (31, 1, "a2"), (4, 1, "b"), (0, 1, "b2"), (7, 1, "c")]
        assert await holder.fetchval("SELECT count(*) FROM audit_head") == 64
        assert (await verify(holder)).ok


async def test_a_text_array_literal_reads_back_as_its_values(db: asyncpg.Pool) -> None:
    """The block's ``patients`` and ``users`` travel as array literals (migration 0019): quotes, backslashes,
    braces, commas, an empty string and the word NULL stay what they were."""
    values = ['bs. "An"', "f\\1", "{x,y}", "", "NULL", "Nguyễn Văn A", " padded "]
    async with db.acquire() as conn:
        assert await conn.fetchval("SELECT $1::text::text[]", text_array(values)) == values
        assert await conn.fetchval("SELECT $1::text::text[]", text_array([])) == []
