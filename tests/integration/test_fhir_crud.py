"""FHIR R4 REST interactions through the ASGI app against real PostgreSQL (FHIR R4 http.html)."""

from __future__ import annotations

import re

import asyncpg
import httpx
import orjson
import pytest

FJ = {"content-type": "application/fhir+json"}


def patient(family: str = "Nguyễn", given: str = "Văn An", mrn: str | None = None) -> dict[str, object]:
    body: dict[str, object] = {
        "resourceType": "Patient",
        "name": [{"family": family, "given": given.split()}],
        "gender": "male",
        "birthDate": "1980-04-30",
    }
    if mrn:
        body["identifier"] = [{"system": "https://benhan.vn/sid/ma-bn", "value": mrn}]
    return body


async def create(client: httpx.AsyncClient, body: dict[str, object]) -> httpx.Response:
    resp = await client.post(f"/fhir/{body['resourceType']}", json=body, headers=FJ)
    assert resp.status_code == 201, resp.text
    return resp


async def test_create_read_vread(client: httpx.AsyncClient) -> None:
    resp = await create(client, patient())
    data = resp.json()
    pid = data["id"]
    assert re.fullmatch(r"[0-9A-Za-z]{20}", pid)  # 119 random bits (kernel/ids.py), never a sequence
    assert resp.headers["etag"] == 'W/"1"'
    assert resp.headers["location"].endswith(f"/fhir/Patient/{pid}/_history/1")
    assert data["meta"]["versionId"] == "1"
    read = await client.get(f"/fhir/Patient/{pid}")
    assert read.status_code == 200
    assert read.json() == data
    assert read.headers["content-type"].startswith("application/fhir+json")
    vread = await client.get(f"/fhir/Patient/{pid}/_history/1")
    assert vread.json() == data
    missing = await client.get(f"/fhir/Patient/{pid}/_history/9")
    assert missing.status_code == 404


async def test_create_ignores_client_id(client: httpx.AsyncClient) -> None:
    body = patient()
    body["id"] = "chosen-by-client"
    data = (await create(client, body)).json()
    assert data["id"] != "chosen-by-client"


async def test_update_versions_and_if_match(client: httpx.AsyncClient) -> None:
    data = (await create(client, patient())).json()
    pid = data["id"]
    data["gender"] = "female"
    ok = await client.put(f"/fhir/Patient/{pid}", json=data, headers={**FJ, "if-match": 'W/"1"'})
    assert ok.status_code == 200, ok.text
    assert ok.headers["etag"] == 'W/"2"'
    stale = await client.put(f"/fhir/Patient/{pid}", json=data, headers={**FJ, "if-match": 'W/"1"'})
    assert stale.status_code == 412
    assert stale.json()["issue"][0]["details"]["coding"][0]["code"] == "BH-3001"
    old = await client.get(f"/fhir/Patient/{pid}/_history/1")
    assert old.json()["gender"] == "male"
    assert (await client.get(f"/fhir/Patient/{pid}")).json()["gender"] == "female"


async def test_update_as_create_with_client_id(client: httpx.AsyncClient) -> None:
    body = patient()
    body["id"] = "bn-0001"
    resp = await client.put("/fhir/Patient/bn-0001", json=body, headers=FJ)
    assert resp.status_code == 201
    assert (await client.get("/fhir/Patient/bn-0001")).json()["name"][0]["family"] == "Nguyễn"


async def test_delete_is_logical_and_history_keeps_everything(client: httpx.AsyncClient) -> None:
    data = (await create(client, patient())).json()
    pid = data["id"]
    data["active"] = True
    await client.put(f"/fhir/Patient/{pid}", json=data, headers=FJ)
    deleted = await client.delete(f"/fhir/Patient/{pid}")
    assert deleted.status_code == 200
    gone = await client.get(f"/fhir/Patient/{pid}")
    assert gone.status_code == 410
    assert gone.json()["issue"][0]["code"] == "deleted"
    hist = (await client.get(f"/fhir/Patient/{pid}/_history")).json()
    assert hist["type"] == "history"
    assert [e["response"]["status"] for e in hist["entry"]] == ["410 Gone", "200 OK", "201 Created"]
    assert (await client.get(f"/fhir/Patient/{pid}/_history/2")).json()["active"] is True
    again = await client.put(f"/fhir/Patient/{pid}", json=data, headers=FJ)
    assert again.status_code == 201  # re-created after deletion
    assert again.headers["etag"] == 'W/"4"'


async def test_history_type_system_since_and_paging(client: httpx.AsyncClient) -> None:
    first = (await create(client, patient())).json()
    for i in range(4):
        await create(client, patient(given=f"Số {i}"))
    await create(client, {"resourceType": "Organization", "name": "Bệnh viện Đa khoa Cà Mau"})
    t = (await client.get("/fhir/Patient/_history")).json()
    assert len(t["entry"]) == 5
    s = (await client.get("/fhir/_history", params={"_count": "4"})).json()
    assert len(s["entry"]) == 4
    nxt = next(link["url"] for link in s["link"] if link["relation"] == "next")
    await create(client, patient(given="Sau"))  # a write between pages must not shift page 2
    page2 = (await client.get(nxt.replace("http://testserver", ""))).json()
    ids1 = {e["resource"]["id"] for e in s["entry"]}
    ids2 = {e["resource"]["id"] for e in page2["entry"]}
    assert not ids1 & ids2
    assert len(ids1 | ids2) == 6
    since = first["meta"]["lastUpdated"]
    recent = (await client.get("/fhir/Patient/_history", params={"_since": since})).json()
    assert len(recent["entry"]) == 6


async def test_history_at(client: httpx.AsyncClient) -> None:
    data = (await create(client, patient())).json()
    stamp = data["meta"]["lastUpdated"]
    data["gender"] = "female"
    await client.put(f"/fhir/Patient/{data['id']}", json=data, headers=FJ)
    at = (await client.get(f"/fhir/Patient/{data['id']}/_history", params={"_at": stamp})).json()
    assert [e["resource"]["gender"] for e in at["entry"]] == ["male"]


async def test_json_patch(client: httpx.AsyncClient) -> None:
    pid = (await create(client, patient())).json()["id"]
    ops = [{"op": "replace", "path": "/gender", "value": "female"}, {"op": "add", "path": "/active", "value": True}]
    resp = await client.patch(f"/fhir/Patient/{pid}", json=ops,
                              headers={"content-type": "application/json-patch+json", "if-match": 'W/"1"'})
    assert resp.status_code == 200, resp.text
    assert resp.json()["gender"] == "female"
    bad = await client.patch(f"/fhir/Patient/{pid}", json=[{"op": "replace", "path": "/gender", "value": "robot"}],
                             headers={"content-type": "application/json-patch+json"})
    # http.html#patch: a patch whose result is not a valid resource is unprocessable (422), nothing written.
    assert bad.status_code == 422
    assert bad.json()["issue"][0]["details"]["coding"][0]["code"] == "BH-1047"
    assert (await client.get(f"/fhir/Patient/{pid}")).json()["meta"]["versionId"] == "2"


async def test_prefer_return(client: httpx.AsyncClient) -> None:
    minimal = await client.post("/fhir/Patient", json=patient(), headers={**FJ, "prefer": "return=minimal"})
    assert minimal.status_code == 201
    assert minimal.content == b""
    assert "location" in minimal.headers
    oo = await client.post("/fhir/Patient", json=patient(), headers={**FJ, "prefer": "return=OperationOutcome"})
    assert oo.json()["resourceType"] == "OperationOutcome"


async def test_pretty_summary_elements(client: httpx.AsyncClient) -> None:
    pid = (await create(client, patient())).json()["id"]
    pretty = await client.get(f"/fhir/Patient/{pid}", params={"_pretty": "true"})
    assert b"\n  " in pretty.content
    elements = (await client.get(f"/fhir/Patient/{pid}", params={"_elements": "gender"})).json()
    assert "gender" in elements
    assert "name" not in elements
    assert any(t["code"] == "SUBSETTED" for t in elements["meta"]["tag"])
    summary = (await client.get(f"/fhir/Patient/{pid}", params={"_summary": "true"})).json()
    assert "name" in summary


@pytest.mark.parametrize(("accept", "fmt"), [("application/fhir+xml", None), (None, "xml"), ("text/turtle", None)])
async def test_unsupported_format_406(client: httpx.AsyncClient, accept: str | None, fmt: str | None) -> None:
    headers = {"accept": accept} if accept else {}
    params = {"_format": fmt} if fmt else {}
    resp = await client.get("/fhir/metadata", headers=headers, params=params)
    assert resp.status_code == 406
    assert resp.json()["resourceType"] == "OperationOutcome"


async def test_metadata(client: httpx.AsyncClient) -> None:
    cs = (await client.get("/fhir/metadata")).json()
    assert cs["fhirVersion"] == "4.0.1"
    types = {r["type"] for r in cs["rest"][0]["resource"]}
    assert {"Patient", "Observation", "ImagingStudy", "Claim"} <= types
    assert len(types) >= 140


async def test_conditional_create_update_delete(client: httpx.AsyncClient) -> None:
    body = patient(mrn="BN001")
    first = await client.post("/fhir/Patient", json=body,
                              headers={**FJ, "if-none-exist": "identifier=https://benhan.vn/sid/ma-bn|BN001"})
    assert first.status_code == 201
    second = await client.post("/fhir/Patient", json=body,
                               headers={**FJ, "if-none-exist": "identifier=https://benhan.vn/sid/ma-bn|BN001"})
    assert second.status_code == 200
    assert second.json()["id"] == first.json()["id"]
    body["gender"] = "female"
    upd = await client.put("/fhir/Patient", params={"identifier": "https://benhan.vn/sid/ma-bn|BN001"}, json=body,
                           headers=FJ)
    assert upd.status_code == 200
    assert upd.json()["id"] == first.json()["id"]
    assert upd.json()["meta"]["versionId"] == "2"
    dele = await client.delete("/fhir/Patient", params={"identifier": "https://benhan.vn/sid/ma-bn|BN001"})
    assert dele.status_code == 200
    assert (await client.get(f"/fhir/Patient/{first.json()['id']}")).status_code == 410


async def test_versions_are_stored_compressed_and_plain_rows_still_read(
    client: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    """storage/content.py: every version is one zstd frame in the database; a row written as plain JSON
    (before compression existed) reads, updates and keeps its history like any other."""
    first = (await create(client, patient(mrn="BN-ZSTD"))).json()
    first["gender"] = "female"
    assert (await client.put(f"/fhir/Patient/{first['id']}", json=first, headers=FJ)).status_code == 200
    async with db.acquire() as conn:
        current = await conn.fetchval("SELECT content FROM resource WHERE id = $1", first["id"])
        old = await conn.fetchval("SELECT h.content FROM resource_history h JOIN resource r USING (rid) "
                                  "WHERE r.id = $1", first["id"])
        for stored in (current, old):
            assert stored[:4] == b"\x28\xb5\x2f\xfd"
            assert len(stored) < len(orjson.dumps(first))
        legacy = orjson.dumps({**patient("Trần", "Thị Bình"), "id": "legacy-1",
                               "meta": {"versionId": "1", "lastUpdated": "2024-01-02T03:04:05.000Z"}})
        await conn.execute("INSERT INTO resource (type, id, version, last_updated, patient_id, content) "
                           "VALUES ('Patient', 'legacy-1', 1, '2024-01-02T03:04:05Z', 'legacy-1', $1)", legacy)
    read = await client.get("/fhir/Patient/legacy-1")
    assert read.status_code == 200
    assert read.content == legacy
    updated = {**read.json(), "gender": "female"}
    assert (await client.put("/fhir/Patient/legacy-1", json=updated, headers=FJ)).status_code == 200
    assert (await client.get("/fhir/Patient/legacy-1/_history/1")).content == legacy
    assert (await client.get("/fhir/Patient/legacy-1")).json()["gender"] == "female"
