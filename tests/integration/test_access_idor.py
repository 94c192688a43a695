"""Insecure direct object references (issue 4): guessed ids, _include/_revinclude/chains into forbidden
data, history of a forbidden resource, transaction bundles touching forbidden data."""

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
from benhan.kernel.ids import new_id


@pytest.fixture
async def idor(app: Any, db: asyncpg.Pool) -> Any:
    repo = app.state.repo
    p = await build_province(repo)
    await add_user(db, repo, p, "bs.noi", [Grant("doctor", p.fac_a, p.dep_a1)])
    mine = (await repo.create(SYSTEM, patient("Trần Thị Mình"))).resource.id
    hidden = (await repo.create(SYSTEM, patient("Lê Văn Ẩn"))).resource.id
    await repo.create(SYSTEM, encounter(mine, p.dep_a1))
    await repo.create(SYSTEM, encounter(hidden, p.dep_b1))
    my_obs = (await repo.create(SYSTEM, observation(mine))).resource.id
    hidden_obs = (await repo.create(SYSTEM, observation(hidden, 39.0))).resource.id
    await repo.update(SYSTEM, "Observation", hidden_obs, observation(hidden, 39.5) | {"id": hidden_obs})
    c, csrf = await session_client(app, "bs.noi")
    yield {"c": c, "csrf": csrf, "mine": mine, "hidden": hidden, "my_obs": my_obs, "hidden_obs": hidden_obs}
    await c.aclose()


def _strip(outcome: dict[str, Any], *ids: str) -> bytes:
    text = str(outcome)
    for i in ids:
        text = text.replace(i, "ID")
    return text.encode()


async def test_a_forbidden_id_answers_exactly_like_a_missing_one(idor: dict[str, Any]) -> None:
    c: httpx.AsyncClient = idor["c"]
    guessed = new_id()
    for url in ("/fhir/Observation/{}", "/fhir/Observation/{}/_history", "/fhir/Observation/{}/_history/1"):
        forbidden = await c.get(url.format(idor["hidden_obs"]))
        missing = await c.get(url.format(guessed))
        assert forbidden.status_code == missing.status_code == 404, url
        assert _strip(forbidden.json(), idor["hidden_obs"]) == _strip(missing.json(), guessed), url
    assert (await c.get(f"/fhir/Observation/{idor['my_obs']}")).status_code == 200
    # Deleting a hidden resource answers like deleting a missing one, and deletes nothing.
    d = await c.delete(f"/fhir/Observation/{idor['hidden_obs']}", headers={"X-CSRF-Token": idor["csrf"]})
    assert d.status_code == 200
    assert "did not exist" in d.text


async def test_search_never_leaks_through_total_include_or_chains(idor: dict[str, Any]) -> None:
    c: httpx.AsyncClient = idor["c"]
    hidden, mine = idor["hidden"], idor["mine"]
    direct = (await c.get("/fhir/Observation", params={"subject": f"Patient/{hidden}", "_total": "accurate"})).json()
    assert direct["total"] == 0
    assert not direct.get("entry")
    chained = (await c.get("/fhir/Observation", params={"subject:Patient.name": "Ẩn", "_total": "accurate"})).json()
    assert chained["total"] == 0
    assert not chained.get("entry")
    has = (await c.get("/fhir/Patient", params={"_has:Observation:subject:value-quantity": "gt39"})).json()
    assert not has.get("entry")
    inc = (await c.get("/fhir/Encounter", params={"_include": "Encounter:subject", "_count": "50"})).json()
    ids = {e["resource"]["id"] for e in inc.get("entry", [])}
    assert mine in ids
    assert hidden not in ids
    rev = (await c.get("/fhir/Patient", params={"_id": mine, "_revinclude": "Observation:subject"})).json()
    assert {e["resource"]["id"] for e in rev["entry"]} == {mine, idor["my_obs"]}
    count = (await c.get("/fhir/Observation", params={"_summary": "count"})).json()
    assert count["total"] == 1
    everything = await c.get(f"/fhir/Patient/{hidden}/$everything")
    assert everything.status_code == 404


async def test_history_of_type_and_system_hides_forbidden_versions(idor: dict[str, Any]) -> None:
    c: httpx.AsyncClient = idor["c"]
    for url in ("/fhir/Observation/_history", "/fhir/_history"):
        bundle = (await c.get(url, params={"_count": "100"})).json()
        seen = {e["resource"]["id"] for e in bundle.get("entry", []) if "resource" in e}
        assert idor["hidden_obs"] not in seen, url
        assert idor["hidden"] not in seen, url
        assert idor["my_obs"] in seen, url


async def test_transactions_touching_forbidden_data_fail_whole(idor: dict[str, Any], db: asyncpg.Pool) -> None:
    c: httpx.AsyncClient = idor["c"]
    hidden_obs = idor["hidden_obs"]
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:1", "resource": observation(idor["mine"], 36.6),
         "request": {"method": "POST", "url": "Observation"}},
        {"resource": observation(idor["hidden"], 40.0) | {"id": hidden_obs},
         "request": {"method": "PUT", "url": f"Observation/{hidden_obs}"}},
    ]}
    async with db.acquire() as conn:
        before = await conn.fetchval("SELECT count(*) FROM resource WHERE type = 'Observation'")
    r = await c.post("/fhir", json=bundle, headers={**FJ, "X-CSRF-Token": idor["csrf"]})
    assert r.status_code == 404, r.text
    async with db.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM resource WHERE type = 'Observation'") == before
        version = await conn.fetchval("SELECT version FROM resource WHERE id = $1", hidden_obs)
    assert version == 2
    read_in_batch = {"resourceType": "Bundle", "type": "batch", "entry": [
        {"request": {"method": "GET", "url": f"Observation/{hidden_obs}"}},
        {"request": {"method": "GET", "url": f"Observation/{idor['my_obs']}"}},
    ]}
    out = (await c.post("/fhir", json=read_in_batch, headers={**FJ, "X-CSRF-Token": idor["csrf"]})).json()
    assert [e["response"]["status"] for e in out["entry"]] == ["404", "200 OK"]
    # a new resource for a patient not under my care is refused (403: nothing about existence is revealed)
    cross = await c.post("/fhir/Observation", json=observation(idor["hidden"]),
                         headers={**FJ, "X-CSRF-Token": idor["csrf"]})
    assert cross.status_code == 403
