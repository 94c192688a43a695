"""FHIR Bulk Data export (Bulk Data Access IG v2.0.0 export.html) through the HTTP API: kick-off → status →
manifest → NDJSON files, filtered by the access policy like search, de-identified for DoH officers,
owned by who started it, cancellable, audited (issue 4)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from tests.integration.access_support import (
    SYSTEM,
    Province,
    add_user,
    audit_rows,
    build_province,
    encounter,
    observation,
    session_client,
    system_token,
)

from benhan.access.roles import Grant
from benhan.fhir.search import systems
from benhan.kernel import clock

ASYNC = {"Prefer": "respond-async", "Accept": "application/fhir+json"}
CCCD_A, CCCD_B = "001080012345", "002090054321"


@dataclass
class World:
    p: Province
    pat_a: str  # under the care of facility A
    pat_b: str  # under the care of facility B only
    obs: dict[str, str]


def _patient(name: str, cccd: str) -> dict[str, Any]:
    return {"resourceType": "Patient", "name": [{"text": name}], "gender": "female", "birthDate": "1975-06-07",
            "identifier": [{"system": systems.CCCD, "value": cccd}, {"system": systems.MA_BN, "value": "BN-" + cccd}],
            "telecom": [{"system": "phone", "value": "0912" + cccd[-6:]}],
            "address": [{"use": "home", "text": "12 Lý Thường Kiệt", "district": "Hà Đông", "state": "Hà Nội"}]}


@pytest.fixture
async def world(app: Any, db: asyncpg.Pool) -> World:
    repo = app.state.repo
    p = await build_province(repo)
    await add_user(db, repo, p, "bs.noi", [Grant("doctor", p.fac_a, p.dep_a1)])
    await add_user(db, repo, p, "cb.soyte", [Grant("doh_officer", p.province)])
    pats, obs = {}, {}
    for key, name, cccd, org_id in (("a", "Nguyễn Thị Hoa", CCCD_A, p.dep_a1), ("b", "Lê Văn Bình", CCCD_B, p.dep_b1)):
        pats[key] = (await repo.create(SYSTEM, _patient(name, cccd))).resource.id
        await repo.create(SYSTEM, encounter(pats[key], org_id) | {"text": {"status": "generated",
                                                                         "div": f"<div>{name}</div>"}})
        obs[key] = (await repo.create(SYSTEM, observation(pats[key]))).resource.id
    return World(p, pats["a"], pats["b"], obs)


async def _kick_off(c: httpx.AsyncClient, path: str = "/fhir/$export", **params: str) -> str:
    r = await c.get(path, params=params, headers=ASYNC)
    assert r.status_code == 202, r.text
    return r.headers["content-location"]


async def _manifest(c: httpx.AsyncClient, status_url: str) -> dict[str, Any]:
    for _ in range(400):
        r = await c.get(status_url, headers={"Accept": "application/json"})
        if r.status_code != 202:
            assert r.status_code == 200, r.text
            return dict(r.json())
        assert r.headers["x-progress"]
        await asyncio.sleep(0.02)
    raise AssertionError("the export did not finish")


async def _export(c: httpx.AsyncClient, path: str = "/fhir/$export", **params: str) -> dict[str, list[Any]]:
    """Run an export to the end; the resources of each type, from the downloaded NDJSON files."""
    manifest = await _manifest(c, await _kick_off(c, path, **params))
    assert manifest["requiresAccessToken"] is True
    assert manifest["error"] == []
    out: dict[str, list[Any]] = {}
    for item in manifest["output"]:
        r = await c.get(item["url"], headers={"Accept": "application/fhir+ndjson"})
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("application/fhir+ndjson")
        lines = [orjson.loads(line) for line in r.content.splitlines()]
        assert len(lines) == item["count"]
        out.setdefault(item["type"], []).extend(lines)
    return out


async def _token_client(app: Any, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver",
                             headers={"Authorization": f"Bearer {token}"})


async def test_system_client_exports_types_since_and_is_audited(
    world: World, client: httpx.AsyncClient, app: Any, db: asyncpg.Pool
) -> None:
    status_url = await _kick_off(client, _type="Patient,Observation")
    assert status_url.startswith("http://testserver/fhir/$export-status/")
    manifest = await _manifest(client, status_url)
    assert manifest["request"].endswith("/fhir/$export?_type=Patient,Observation")
    assert {o["type"]: o["count"] for o in manifest["output"]} == {"Patient": 2, "Observation": 2}
    got = await _export(client, _type="Patient,Observation")
    assert {r["id"] for r in got["Patient"]} == {world.pat_a, world.pat_b}
    assert CCCD_A in orjson.dumps(got["Patient"]).decode()  # a system client's export is not de-identified

    since = clock.now()
    await asyncio.sleep(0.01)
    new_obs = (await app.state.repo.create(SYSTEM, observation(world.pat_a, 40.1))).resource.id
    later = await _export(client, _type="Observation,Encounter", _since=since.isoformat())
    assert [r["id"] for r in later["Observation"]] == [new_obs]
    assert "Encounter" not in later

    exports = await audit_rows(db, action="export")
    assert len(exports) == 3  # one per job
    event = orjson.loads(exports[0]["content"])
    assert [s["code"] for s in event["subtype"]] == ["export", "110106"]
    assert {e["what"]["reference"] for e in event["entity"] if "what" in e} == {
        f"Patient/{world.pat_a}", f"Patient/{world.pat_b}"}
    kick_offs = [r for r in await audit_rows(db, action="operation") if b"$export" in r["content"]]
    assert len(kick_offs) == 3
    capability = (await client.get("/fhir/metadata")).json()
    assert {"name": "export", "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export"} in \
        capability["rest"][0]["operation"]


async def test_clinician_export_holds_what_search_gives(world: World, app: Any) -> None:
    c, _csrf = await session_client(app, "bs.noi", facility_id=world.p.fac_a, department_id=world.p.dep_a1)
    try:
        got = await _export(c, "/fhir/Patient/$export")
        searched = (await c.get("/fhir/Observation", params={"_count": "100"})).json()
    finally:
        await c.aclose()
    assert {r["id"] for r in got["Observation"]} == {e["resource"]["id"] for e in searched["entry"]} == {
        world.obs["a"]}
    assert [r["id"] for r in got["Patient"]] == [world.pat_a]  # facility B's patient is not under A's care
    assert "Organization" not in got  # Patient/$export: the Patient compartment only


async def test_doh_officer_export_is_deidentified(world: World, app: Any, db: asyncpg.Pool) -> None:
    c, _csrf = await session_client(app, "cb.soyte", facility_id=world.p.province)
    try:
        # still no identified patient data directly
        assert (await c.get(f"/fhir/Observation/{world.obs['a']}")).status_code == 403
        assert (await c.get("/fhir/Patient", params={"identifier": CCCD_A})).status_code == 403
        got = await _export(c)
    finally:
        await c.aclose()
    assert set(got) == {"Patient", "Encounter", "Observation"}  # patient-level data only
    text = orjson.dumps(got).decode()
    for secret in (CCCD_A, CCCD_B, "Nguyễn Thị Hoa", "Lê Văn Bình", "BN-", "Lý Thường Kiệt", world.pat_a,
                   world.pat_b, "0912"):
        assert secret not in text, secret
    pseudonyms = {r["id"] for r in got["Patient"]}
    assert len(pseudonyms) == 2
    assert all(r["birthDate"] == "1975" for r in got["Patient"])
    assert all(r["address"] == [{"use": "home", "district": "Hà Đông", "state": "Hà Nội"}] for r in got["Patient"])
    by_obs = {r["id"]: r["subject"]["reference"] for r in got["Observation"]}
    by_enc = {r["subject"]["reference"] for r in got["Encounter"]}
    assert set(by_obs.values()) == by_enc == {f"Patient/{p}" for p in pseudonyms}  # one pseudonym per patient
    assert all(any(s["code"] == "PSEUDED" for s in r["meta"]["security"]) for rs in got.values() for r in rs)
    event = orjson.loads((await audit_rows(db, action="export"))[0]["content"])
    assert "de-identified" in event["outcomeDesc"]


async def test_only_the_owner_sees_status_and_files_and_may_cancel(world: World, app: Any, db: asyncpg.Pool) -> None:
    owner = await _token_client(app, await system_token(db, "system/*.rs", client_id="bulk-owner"))
    other = await _token_client(app, await system_token(db, "system/*.rs", client_id="bulk-other"))
    async with owner, other:
        status_url = await _kick_off(owner, _type="Patient")
        file_url = (await _manifest(owner, status_url))["output"][0]["url"]
        for url in (status_url, file_url):
            r = await other.get(url)
            assert r.status_code == 404
            assert r.json()["issue"][0]["details"]["coding"][0]["code"] == "BH-2002"
        assert (await other.delete(status_url)).status_code == 404
        assert (await owner.delete(status_url)).status_code == 202
        assert (await owner.get(status_url)).status_code == 404
        assert (await owner.get(file_url)).status_code == 404
        # a job whose process died (its heartbeat stopped) is failed with a clear error on the next poll
        await db.execute("INSERT INTO bulk_export_job (id, owner, state, request, params, transaction_time,"
                         " heartbeat) VALUES ('dead', 'client:bulk-owner', 'running', 'x', '{}', now(),"
                         " now() - interval '1 hour')")
        r = await owner.get("/fhir/$export-status/dead")
        assert r.status_code == 500
        assert "stopped" in r.text
        assert r.json()["issue"][0]["details"]["coding"][0]["code"] == "BH-5002"


BAD_KICK_OFFS = [
    ("/fhir/$export", {"_outputFormat": "application/fhir+xml"}, ASYNC),
    ("/fhir/$export", {"_type": "Patient,Foo"}, ASYNC),
    ("/fhir/$export", {"_typeFilter": "Patient?active=true"}, ASYNC),
    ("/fhir/$export", {"_since": "yesterday"}, ASYNC),
    ("/fhir/Patient/$export", {"_type": "Organization"}, ASYNC),
    ("/fhir/$export", {}, {"Accept": "application/fhir+json"}),  # no Prefer: respond-async
]


async def test_bad_kick_off_is_a_400_with_bh_1060(client: httpx.AsyncClient) -> None:
    for path, params, headers in BAD_KICK_OFFS:
        r = await client.get(path, params=params, headers=headers)
        assert r.status_code == 400, (params, r.text)
        assert r.json()["resourceType"] == "OperationOutcome"
        assert r.json()["issue"][0]["details"]["coding"][0]["code"] == "BH-1060", params
