"""After a create and any sequence of updates, through either write path (one unlocked statement, or the
locked transaction), the index rows of a resource are exactly what its current version extracts to: none
missing, none left over from an earlier version (storage/pg/index.py)."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from benhan.access import AccessControl
from benhan.fhir.search.extract import extract
from benhan.fhir.storage.pg import index
from benhan.fhir.storage.pg.audit import AuditLog
from benhan.fhir.storage.pg.repository import PgRepository
from benhan.kernel.context import RequestContext

pytestmark = pytest.mark.db
SYSTEM = RequestContext.system("test")
CLIENT = RequestContext(client_id="it", username="it", scopes=frozenset({"system/*.cruds"}))


@pytest.fixture
async def audited(db: asyncpg.Pool) -> AsyncIterator[PgRepository]:
    log = AuditLog(db)
    yield PgRepository(db, access=AccessControl(), audit=log)
    await log.close()


async def _stored(db: asyncpg.Pool, rid: int) -> dict[str, set[tuple[Any, ...]]]:
    """The index rows of ``rid`` per table, without ``rid``, as sets (sp_text: its two vectors as text)."""
    out: dict[str, set[tuple[Any, ...]]] = {}
    async with db.acquire() as conn:
        for table, cols, _types in index._LAYOUT:
            out[table] = {tuple(r) for r in await conn.fetch(f"SELECT {cols} FROM {table} WHERE rid = $1", rid)}
        out["sp_text"] = {tuple(r) for r in await conn.fetch(
            "SELECT narrative::text, content::text FROM sp_text WHERE rid = $1", rid)}
    return out


async def _expected(db: asyncpg.Pool, type_: str, resource: dict[str, Any]) -> dict[str, set[tuple[Any, ...]]]:
    rows = extract(type_, resource)
    out = {table: set(group) for (table, _c, _t), group in zip(index._LAYOUT, index._groups(rows), strict=True)}
    async with db.acquire() as conn:
        text = await conn.fetchrow(
            f"SELECT {index._TSV.format('$1::text')}::text, {index._TSV.format('$2::text')}::text",
            rows.narrative, rows.content[: index._CONTENT_LIMIT])
    out["sp_text"] = {tuple(text)} if rows.narrative or rows.content else set()
    return out



def _patient() -> dict[str, Any]:
    return {
        "resourceType": "Patient", "active": True, "gender": "female", "birthDate": "1980-02-03",
        "identifier": [{"system": "https://benhan.vn/cccd", "value": "001180000001"}],
        "name": [{"family": "Nguyễn", "given": ["Thị", "Lan"]}],
        "telecom": [{"system": "phone", "value": "0912345678"}],
        "address": [{"city": "Huế", "line": ["12 Lê Lợi"]}],
        "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">Nguyễn Thị Lan</div>"},
    }


@pytest.mark.parametrize("ctx", [CLIENT, SYSTEM], ids=["unlocked-one-statement", "locked-transaction"])
async def test_updates_leave_exactly_the_current_versions_index(
    db: asyncpg.Pool, audited: PgRepository, ctx: RequestContext,
) -> None:
    repo = audited
    body = _patient()
    pid = (await repo.create(ctx, body)).resource.id
    async with db.acquire() as conn:
        rid = await conn.fetchval("SELECT rid FROM resource WHERE type = 'Patient' AND id = $1", pid)

    def change_name(r: dict[str, Any]) -> None:
        r["name"][0]["family"] = "Trần"

    def add_identifier(r: dict[str, Any]) -> None:
        r["identifier"].append({"system": "https://benhan.vn/bhyt", "value": "DN4010012345678"})

    def drop_everything_optional(r: dict[str, Any]) -> None:
        for key in ("identifier", "telecom", "address", "text", "birthDate"):
            r.pop(key, None)

    def restore(r: dict[str, Any]) -> None:
        r.update({k: v for k, v in _patient().items() if k not in r})

    for step in (change_name, add_identifier, drop_everything_optional, restore, lambda r: None):
        step(body)
        written = await repo.update(ctx, "Patient", pid, {**copy.deepcopy(body), "id": pid})
        current = (await repo.read(SYSTEM, "Patient", pid)).json()
        assert current["meta"]["versionId"] == str(written.resource.version)
        assert await _stored(db, rid) == await _expected(db, "Patient", current), step
    await repo.delete(ctx, "Patient", pid)
    assert all(not rows for rows in (await _stored(db, rid)).values())  # a deletion leaves no index row


async def test_an_observation_and_a_bundle_index_every_table_they_fill(db: asyncpg.Pool, audited: PgRepository) -> None:
    """A create names only the tables its resources fill (index._create_sql); a Bundle's resources of several
    shapes are each indexed whole, and an update that fills a table the first version left empty writes it."""
    repo = audited
    obs = {"resourceType": "Observation", "status": "final",
           "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]}}
    oid = (await repo.create(CLIENT, obs)).resource.id
    obs = {**obs, "id": oid, "valueQuantity": {"value": 61.5, "unit": "kg", "system": "http://unitsofmeasure.org",
                                               "code": "kg"}, "effectiveDateTime": "2026-11-27T08:00:00+07:00"}
    await repo.update(CLIENT, "Observation", oid, obs)
    stored = (await repo.read(SYSTEM, "Observation", oid)).json()
    async with db.acquire() as conn:
        rid = await conn.fetchval("SELECT rid FROM resource WHERE type = 'Observation' AND id = $1", oid)
    now = await _stored(db, rid)
    assert now["sp_quantity"]
    assert now["sp_date"]
    assert now == await _expected(db, "Observation", stored)
    items = [(_patient(), "b-pat"), ({k: v for k, v in obs.items() if k != "id"}, "b-obs"),
             ({"resourceType": "Organization", "name": "Bệnh viện A"}, "b-org")]
    written = await repo.create_many(SYSTEM, items, ["entry 0", "entry 1", "entry 2"])
    for w in written:
        async with db.acquire() as conn:
            rid = await conn.fetchval("SELECT rid FROM resource WHERE type = $1 AND id = $2", w.resource.type,
                                      w.resource.id)
        assert await _stored(db, rid) == await _expected(db, w.resource.type, w.resource.json())
