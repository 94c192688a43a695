"""Migration 0018 (in a database of its own): the read audit's blocks, their chains' heads (64-95) and the
``audit_event`` view, which shows the rows written before it as they were; the downgrade takes them away."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest
from alembic import command
from tests.integration.migration_support import database_at

from benhan import migrate
from benhan.fhir.storage.access_types import AuditRecord
from benhan.fhir.storage.pg.audit import BLOCK_CHAINS, append, append_block
from benhan.fhir.storage.pg.audit_trail import event_contents, verify
from benhan.kernel import clock

pytestmark = pytest.mark.db


@pytest.fixture
async def at_0017(database_url: str) -> AsyncIterator[str]:
    async with database_at(database_url, "0017", "m0018") as url:
        yield url


def _read(patient: str) -> AuditRecord:
    content = b'{"action":"R","entity":[{"role":{"code":"1"},"what":{"reference":"Patient/' + patient.encode() \
        + b'"}}],"recorded":"' + clock.fhir_instant(clock.now()).encode() + b'"}'
    return AuditRecord(content, clock.now(), "read", "success", "bs.a", patient_id=patient)


async def test_blocks_come_beside_the_rows_and_go_on_downgrade(at_0017: str) -> None:
    conn = await asyncpg.connect(at_0017)
    try:
        await append(conn, [_read("p-old")], chain=3)  # a read audited as a row before 0018
        await asyncio.to_thread(migrate.upgrade, at_0017)
        heads = await conn.fetch("SELECT chain, seq, hash = benhan_audit_genesis(chain) AS genesis FROM audit_head"
                                 " WHERE chain >= $1 ORDER BY chain", BLOCK_CHAINS.start)
        assert [(r["chain"], r["seq"], r["genesis"]) for r in heads] == [(c, 0, True) for c in BLOCK_CHAINS]
        await append_block(conn, BLOCK_CHAINS[0], [_read("p-new"), _read("p-other")], {})
        events = await conn.fetch("SELECT chain, seq, part, patient_id, content FROM audit_event ORDER BY part")
        assert [(e["chain"], e["part"], e["patient_id"]) for e in events] == [
            (3, 0, "p-old"), (BLOCK_CHAINS[0], 1, "p-new"), (BLOCK_CHAINS[0], 2, "p-other")]
        contents = await event_contents(conn, events)
        assert [b"Patient/p-old" in contents[0], b"Patient/p-new" in contents[1], b"p-other" in contents[2]] == [
            True] * 3
        assert (await verify(conn)).checked == 3
        await asyncio.to_thread(command.downgrade, migrate.alembic_config(at_0017), "0017")
        assert await conn.fetchval("SELECT to_regclass('audit_block') IS NULL AND to_regclass('audit_event') IS NULL")
        assert await conn.fetchval("SELECT max(chain) FROM audit_head") == BLOCK_CHAINS.start - 1
        assert await conn.fetchval("SELECT patient_id FROM audit_log") == "p-old"  # the rows stay
    finally:
        await conn.close()
