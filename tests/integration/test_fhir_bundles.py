"""batch and transaction Bundles (FHIR R4 http.html#transaction)."""

from __future__ import annotations

import asyncpg
import httpx

FJ = {"content-type": "application/fhir+json"}


async def count(db: asyncpg.Pool) -> int:
    async with db.acquire() as conn:
        return int(await conn.fetchval("SELECT count(*) FROM resource"))


def txn(*entries: dict[str, object], kind: str = "transaction") -> dict[str, object]:
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries)}


PATIENT = {"fullUrl": "urn:uuid:11111111-1111-4111-8111-111111111111",
           "resource": {"resourceType": "Patient", "name": [{"family": "Phạm", "given": ["Thu"]}],
                        "identifier": [{"system": "https://benhan.vn/sid/ma-bn", "value": "TX1"}]},
           "request": {"method": "POST", "url": "Patient", "ifNoneExist": "identifier=https://benhan.vn/sid/ma-bn|TX1"}}
ENCOUNTER = {"fullUrl": "urn:uuid:22222222-2222-4222-8222-222222222222",
             "resource": {"resourceType": "Encounter", "status": "in-progress",
                          "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
                          "subject": {"reference": "urn:uuid:11111111-1111-4111-8111-111111111111"}},
             "request": {"method": "POST", "url": "Encounter"}}
OBSERVATION = {"resource": {"resourceType": "Observation", "status": "final",
                            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
                            "subject": {"reference": "urn:uuid:11111111-1111-4111-8111-111111111111"},
                            "encounter": {"reference": "urn:uuid:22222222-2222-4222-8222-222222222222"},
                            "hasMember": [{"reference": "urn:uuid:22222222-2222-4222-8222-222222222222"}],
                            "valueQuantity": {"value": 88, "unit": "/min", "system": "http://unitsofmeasure.org",
                                              "code": "/min"}},
               "request": {"method": "POST", "url": "Observation"}}


async def test_transaction_resolves_urn_uuid_everywhere(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    resp = await client.post("/fhir", json=txn(PATIENT, ENCOUNTER, OBSERVATION), headers=FJ)
    assert resp.status_code == 200, resp.text
    out = resp.json()
    assert out["type"] == "transaction-response"
    assert [e["response"]["status"] for e in out["entry"]] == ["201 Created"] * 3
    pid = out["entry"][0]["resource"]["id"]
    eid = out["entry"][1]["resource"]["id"]
    obs = out["entry"][2]["resource"]
    assert obs["subject"]["reference"] == f"Patient/{pid}"
    assert obs["encounter"]["reference"] == f"Encounter/{eid}"
    assert obs["hasMember"][0]["reference"] == f"Encounter/{eid}"
    assert await count(db) == 3
    # conditional entry: the same bundle again creates no second patient
    again = (await client.post("/fhir", json=txn(PATIENT, ENCOUNTER), headers=FJ)).json()
    assert again["entry"][0]["response"]["status"] == "200 OK"
    assert again["entry"][1]["resource"]["subject"]["reference"] == f"Patient/{pid}"
    assert await count(db) == 4  # one new Encounter; the Patient matched


async def test_failing_transaction_writes_nothing(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    existing = (await client.post("/fhir/Patient", json={"resourceType": "Patient"}, headers=FJ)).json()
    bad_update = {"resource": {"resourceType": "Patient", "id": existing["id"], "gender": "female"},
                  "request": {"method": "PUT", "url": f"Patient/{existing['id']}", "ifMatch": 'W/"7"'}}
    before = await count(db)
    resp = await client.post("/fhir", json=txn(PATIENT, ENCOUNTER, bad_update), headers=FJ)
    assert resp.status_code == 412
    assert "entry[2]" in resp.json()["issue"][0]["diagnostics"]
    assert await count(db) == before
    invalid = {"resource": {"resourceType": "Observation", "status": "not-a-status"},
               "request": {"method": "POST", "url": "Observation"}}
    resp = await client.post("/fhir", json=txn(PATIENT, invalid), headers=FJ)
    assert resp.status_code == 400
    assert await count(db) == before
    assert (await client.get(f"/fhir/Patient/{existing['id']}")).json()["meta"]["versionId"] == "1"


async def test_transaction_processing_order(client: httpx.AsyncClient) -> None:
    # Bundle order is PUT then DELETE; the spec processes DELETE first, so the resource survives.
    bundle = txn(
        {"resource": {"resourceType": "Patient", "id": "ord-1"}, "request": {"method": "PUT", "url": "Patient/ord-1"}},
        {"request": {"method": "DELETE", "url": "Patient/ord-1"}},
    )
    resp = await client.post("/fhir", json=bundle, headers=FJ)
    assert resp.status_code == 200, resp.text
    assert [e["response"]["status"] for e in resp.json()["entry"]] == ["201 Created", "200 OK"]
    assert (await client.get("/fhir/Patient/ord-1")).status_code == 200


async def test_batch_entries_are_independent(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    ok = {"resource": {"resourceType": "Patient"}, "request": {"method": "POST", "url": "Patient"}}
    bad = {"resource": {"resourceType": "Patient", "gender": "robot"}, "request": {"method": "POST", "url": "Patient"}}
    missing = {"request": {"method": "GET", "url": "Patient/nope"}}
    resp = await client.post("/fhir", json=txn(ok, bad, missing, kind="batch"), headers=FJ)
    assert resp.status_code == 200
    statuses = [e["response"]["status"] for e in resp.json()["entry"]]
    assert statuses == ["201 Created", "400", "404"]
    assert resp.json()["entry"][1]["response"]["outcome"]["resourceType"] == "OperationOutcome"
    assert await count(db) == 1


async def test_not_a_transaction(client: httpx.AsyncClient) -> None:
    resp = await client.post("/fhir", json={"resourceType": "Bundle", "type": "collection"}, headers=FJ)
    assert resp.status_code == 400
    assert resp.json()["issue"][0]["details"]["coding"][0]["code"] == "BH-1012"
