"""Migrations 0019 and 0020: a block's per-event columns move from eleven arrays into one JSON value
(``audit_event`` shows every event as before, ``audit verify`` still holds, and the downgrade turns the JSON
back into the arrays), and a block of 10 events stays whole in its heap page."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from alembic import command
from tests.integration.migration_support import database_at

from benhan import migrate
from benhan.access.audit import audit_record
from benhan.fhir.storage.access_types import AuditInfo, AuditRecord
from benhan.fhir.storage.pg.audit import BLOCK_CHAINS, append_block, block_content, link
from benhan.fhir.storage.pg.audit_trail import genesis, verify
from benhan.kernel import clock
from benhan.kernel.context import RequestContext

pytestmark = pytest.mark.db

#: a caller whose names need escaping, with a column left empty
CALLER = RequestContext(user_id="u'1", username='bs. "An" \\ Lan', facility_id="f1", department_id=None,
                        scopes=frozenset({"system/*.rs"}))
#: 0018's statement, as the flusher sent it before 0019
_APPEND_0018 = """
WITH head AS (UPDATE audit_head SET seq = 1, hash = $2 WHERE chain = $1 AND seq = 0 RETURNING chain)
INSERT INTO audit_block (chain, seq, hash, recorded_from, recorded_to, patients, users, any_glass, recorded, action,
                         outcome, user_name, user_id, client_id, facility_id, department_id, patient_id,
                         break_glass, entity, content)
SELECT head.chain, 1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19 FROM head
"""


@pytest.fixture
async def at_0018(database_url: str) -> AsyncIterator[str]:
    async with database_at(database_url, "0018", "m0019") as url:
        yield url


def _records() -> list[AuditRecord]:
    now = clock.now()
    return [audit_record(CALLER, AuditInfo("read", type="Patient", id="p1", patient_id="p1", break_glass=True), now),
            audit_record(CALLER, AuditInfo("search", type="Encounter", query="patient=p1"), now),
            audit_record(CALLER, AuditInfo("read", type="Observation", id="o1", patient_id="p2"), clock.now())]


async def _events(conn: asyncpg.Connection) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in await conn.fetch(
        "SELECT chain, seq, part, recorded, action, outcome, user_name, user_id, client_id, facility_id,"
        " department_id, patient_id, break_glass, entity, patients, users, recorded_from, recorded_to, any_glass"
        " FROM audit_event ORDER BY chain, seq, part")]


async def test_block_columns_become_json_and_come_back(at_0018: str) -> None:
    chain, records = BLOCK_CHAINS[0], _records()
    content = block_content(records)
    (_c, recorded, action, outcome, user_name, user_id, client_id, facility_id, department_id, patient_id,
     break_glass, entity) = zip(*records, strict=True)
    conn = await asyncpg.connect(at_0018)
    try:
        await conn.execute(_APPEND_0018, chain, link(genesis(chain), 1, content), min(recorded), max(recorded),
                           ["p1", "p2"], [CALLER.username], True, recorded, action, outcome, user_name, user_id,
                           client_id, facility_id, department_id, patient_id, break_glass,
                           [" ".join(e) for e in entity], content)
        before = await _events(conn)
        assert [(e[2], e[11], e[13]) for e in before] == [(1, "p1", ["Patient/p1"]), (2, None, []),
                                                          (3, "p2", ["Observation/o1"])]
        await asyncio.to_thread(migrate.upgrade, at_0018)
        assert await conn.fetchval("SELECT count(*) FROM information_schema.columns"
                                   " WHERE table_name = 'audit_block' AND column_name = 'patient_id'") == 0
        assert await _events(conn) == before
        assert (await verify(conn)).checked == 3
        await append_block(conn, chain, _records(), {})  # a block as 0019 stores it
        both = await _events(conn)
        assert len(both) == 6
        assert (await verify(conn)).ok
        await asyncio.to_thread(command.downgrade, migrate.alembic_config(at_0018), "0018")
        assert await _events(conn) == both
        assert await conn.fetchval("SELECT user_name FROM audit_block WHERE seq = 2") == [CALLER.username] * 3
        with pytest.raises(asyncpg.PostgresError, match="append-only"):  # the triggers are back on
            await conn.execute("UPDATE audit_block SET content = content")
    finally:
        await conn.close()


async def test_a_ten_event_block_stays_in_its_heap_page(db: asyncpg.Pool) -> None:
    """Migration 0020: a group commit of 10 reads (as at 32 clients) is compressed but not moved out of line
    into the TOAST table; its zstd content is never offered to pglz; the downgrade restores the defaults."""
    ids = [str(uuid.uuid4()) for _ in range(23)]  # as benhan's ids and a province's users and places look
    caller = RequestContext(user_id=ids[20], username="bs.lan", practitioner_id=ids[21], roles=frozenset({"doctor"}),
                            facility_id=ids[22], department_id=ids[0], client_id="benhan-web")
    records = [audit_record(caller, AuditInfo("read", type="Observation", id=ids[i], patient_id=ids[10 + i]),
                            clock.now()) for i in range(10)]
    async with db.acquire() as conn:
        await append_block(conn, BLOCK_CHAINS[0], records, {})
        toast = await conn.fetchval("SELECT reltoastrelid::regclass::text FROM pg_class WHERE relname = 'audit_block'")
        assert await conn.fetchval(f"SELECT count(*) FROM {toast}") == 0
        assert await conn.fetchval("SELECT pg_column_size(events) < octet_length(events::text) FROM audit_block")
        assert await conn.fetchval("SELECT attstorage::text FROM pg_attribute WHERE attrelid = 'audit_block'::regclass"
                                   " AND attname = 'content'") == "e"


async def test_0020_downgrade_restores_the_defaults(at_0018: str) -> None:
    await asyncio.to_thread(migrate.upgrade, at_0018)
    conn = await asyncpg.connect(at_0018)
    try:
        assert await conn.fetchval("SELECT reloptions FROM pg_class WHERE relname = 'audit_block'") == [
            "toast_tuple_target=4000"]
        await asyncio.to_thread(command.downgrade, migrate.alembic_config(at_0018), "0019")
        assert await conn.fetchval("SELECT reloptions FROM pg_class WHERE relname = 'audit_block'") is None
        assert await conn.fetchval("SELECT attstorage::text FROM pg_attribute WHERE attrelid = 'audit_block'::regclass"
                                   " AND attname = 'content'") == "x"
    finally:
        await conn.close()
