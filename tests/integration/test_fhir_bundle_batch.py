"""Transaction bundles store their POSTs in batches (PgRepository.create_many): the per-entry semantics of
one-by-one processing still hold — validation and access checks in entry order, the error naming its
entry, all or nothing, and a check sees the care links written by the entries before it."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest
from tests.integration.access_support import (
    FJ,
    SYSTEM,
    add_user,
    build_province,
    encounter,
    observation,
    patient,
    session_client,
)

from benhan.access.roles import Grant


def _post(resource: dict[str, Any], n: int) -> dict[str, Any]:
    return {"fullUrl": f"urn:uuid:00000000-0000-0000-0000-{n:012d}", "resource": resource,
            "request": {"method": "POST", "url": resource["resourceType"]}}


async def _count(db: asyncpg.Pool, type_: str) -> int:
    async with db.acquire() as conn:
        return int(await conn.fetchval("SELECT count(*) FROM resource WHERE type = $1", type_))


async def test_many_posts_are_stored_with_their_index_and_answered_in_entry_order(
    client: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    pat = {"resourceType": "Patient", "name": [{"family": "Phạm", "given": ["Thu"]}], "gender": "female"}
    entries = [_post(pat, 0)] + [
        _post(observation("x", 36.0 + i) | {"subject": {"reference": "urn:uuid:00000000-0000-0000-0000-000000000000"}},
              i + 1)
        for i in range(30)
    ]
    r = await client.post("/fhir", json={"resourceType": "Bundle", "type": "transaction", "entry": entries})
    assert r.status_code == 200, r.text
    out = r.json()["entry"]
    assert [e["response"]["status"] for e in out] == ["201 Created"] * 31
    pid = out[0]["resource"]["id"]
    assert [e["resource"]["subject"]["reference"] for e in out[1:]] == [f"Patient/{pid}"] * 30
    assert [e["resource"]["valueQuantity"]["value"] for e in out[1:]] == [36.0 + i for i in range(30)]
    # every resource is searchable (index rows written with the right rid) and in the patient's compartment
    found = await client.get("/fhir/Observation", params={"patient": pid, "value-quantity": "gt50", "_count": "100"})
    assert sorted(e["resource"]["valueQuantity"]["value"] for e in found.json().get("entry", [])) == \
        [36.0 + i for i in range(15, 30)]
    assert (await client.get("/fhir/Patient", params={"name": "pham thu"})).json()["total"] == 1
    async with db.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM resource WHERE patient_id = $1", pid) == 31


async def test_an_invalid_entry_is_named_and_nothing_is_stored(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    before = await _count(db, "Observation")
    bad = observation("x") | {"status": 42}
    entries = [_post(observation("x"), 1), _post(bad, 2), _post(observation("x"), 3)]
    r = await client.post("/fhir", json={"resourceType": "Bundle", "type": "transaction", "entry": entries})
    assert r.status_code == 400, r.text
    assert "Bundle.entry[1] (POST Observation)" in r.text
    assert await _count(db, "Observation") == before


@pytest.fixture
async def doctor(app: Any, db: asyncpg.Pool) -> Any:
    repo = app.state.repo
    p = await build_province(repo)
    await add_user(db, repo, p, "bs.lan", [Grant("doctor", p.fac_a, p.dep_a1)])
    newcomer = (await repo.create(SYSTEM, patient("Đỗ Văn Mới"))).resource.id
    c, csrf = await session_client(app, "bs.lan")
    yield {"c": c, "csrf": csrf, "p": p, "newcomer": newcomer}
    await c.aclose()


async def test_a_check_sees_the_care_link_of_an_earlier_entry_only(doctor: dict[str, Any], db: asyncpg.Pool) -> None:
    c: httpx.AsyncClient = doctor["c"]
    pid, dep = doctor["newcomer"], doctor["p"].dep_a1
    headers = {**FJ, "X-CSRF-Token": doctor["csrf"]}
    before = await _count(db, "Observation")
    # The observation comes before the encounter that puts the patient under my care: refused, as it would
    # be one entry at a time, and nothing of the bundle is stored.
    late = [_post(observation(pid), 1), _post(encounter(pid, dep), 2)]
    r = await c.post("/fhir", json={"resourceType": "Bundle", "type": "transaction", "entry": late}, headers=headers)
    assert r.status_code == 403, r.text
    assert "Bundle.entry[0]" in r.text
    assert await _count(db, "Observation") == before
    # Encounter first: the observation's check sees the care link the encounter just wrote.
    early = [_post(encounter(pid, dep), 1), _post(observation(pid), 2), _post(observation(pid, 38.0), 3)]
    r = await c.post("/fhir", json={"resourceType": "Bundle", "type": "transaction", "entry": early}, headers=headers)
    assert r.status_code == 200, r.text
    assert await _count(db, "Observation") == before + 2
    async with db.acquire() as conn:
        audited = await conn.fetch(
            "SELECT outcome, count(*) FROM audit_event WHERE action = 'create' AND patient_id = $1"
            " AND user_name = 'bs.lan' GROUP BY outcome", pid)
    # every write audited in its transaction; the refused entry durably as a denial
    assert dict(audited) == {"success": 3, "denied": 1}
