"""FHIRPath Patch over HTTP against real PostgreSQL (FHIR R4 http.html#patch, fhirpatch.html)."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import orjson
from tests.integration.access_support import audit_rows, system_token

FJ = {"content-type": "application/fhir+json"}
CCCD = "https://benhan.vn/sid/cccd"


def operation(kind: str, path: str, *extra: dict[str, Any]) -> dict[str, Any]:
    return {"name": "operation", "part": [{"name": "type", "valueCode": kind},
                                          {"name": "path", "valueString": path}, *extra]}


def parameters(*ops: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Parameters", "parameter": list(ops)}


async def new_patient(client: httpx.AsyncClient) -> str:
    body = {"resourceType": "Patient", "gender": "male", "name": [{"family": "Nguyễn", "given": ["Văn", "An"]}],
            "identifier": [{"system": CCCD, "value": "096080001234"}]}
    resp = await client.post("/fhir/Patient", json=body, headers=FJ)
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"])


async def history_size(client: httpx.AsyncClient, pid: str) -> int:
    return len((await client.get(f"/fhir/Patient/{pid}/_history")).json().get("entry", []))


async def test_fhirpath_patch_writes_a_new_version(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    pid = await new_patient(client)
    body = parameters(
        operation("replace", "Patient.gender", {"name": "value", "valueCode": "female"}),
        operation("add", "Patient", {"name": "name", "valueString": "birthDate"},
                  {"name": "value", "valueDate": "1980-04-30"}),
        operation("insert", "Patient.name[0].given", {"name": "index", "valueInteger": 0},
                  {"name": "value", "valueString": "Lê"}),
    )
    resp = await client.patch(f"/fhir/Patient/{pid}", json=body, headers={**FJ, "if-match": 'W/"1"'})
    assert resp.status_code == 200, resp.text
    assert resp.headers["etag"] == 'W/"2"'
    data = (await client.get(f"/fhir/Patient/{pid}")).json()
    assert (data["gender"], data["birthDate"], data["name"][0]["given"]) == ("female", "1980-04-30",
                                                                            ["Lê", "Văn", "An"])
    assert data["meta"]["versionId"] == "2"
    found = (await client.get("/fhir/Patient", params={"_id": pid, "gender": "female"})).json()
    assert found["entry"][0]["resource"]["id"] == pid  # the index follows the patch in the same transaction
    audited = await audit_rows(db, action="patch")  # audited like an update (BALP subtype "patch")
    assert len(audited) == 1
    assert orjson.loads(audited[0]["content"])["subtype"][0]["code"] == "patch"
    assert audited[0]["patient_id"] == pid


async def test_fhirpath_patch_if_match_mismatch_is_412(client: httpx.AsyncClient) -> None:
    pid = await new_patient(client)
    body = parameters(operation("replace", "Patient.gender", {"name": "value", "valueCode": "female"}))
    resp = await client.patch(f"/fhir/Patient/{pid}", json=body, headers={**FJ, "if-match": 'W/"7"'})
    assert resp.status_code == 412
    assert resp.json()["issue"][0]["details"]["coding"][0]["code"] == "BH-3001"
    assert await history_size(client, pid) == 1


async def test_invalid_result_is_422_and_nothing_is_written(client: httpx.AsyncClient) -> None:
    pid = await new_patient(client)
    before = (await client.get(f"/fhir/Patient/{pid}")).json()
    body = parameters(operation("replace", "Patient.gender", {"name": "value", "valueCode": "robot"}))
    resp = await client.patch(f"/fhir/Patient/{pid}", json=body, headers=FJ)
    assert resp.status_code == 422, resp.text
    issues = resp.json()["issue"]
    assert issues[0]["details"]["coding"][0]["code"] == "BH-1047"
    assert any("Patient.gender" in e for i in issues[1:] for e in i.get("expression", []))
    assert (await client.get(f"/fhir/Patient/{pid}")).json() == before
    assert await history_size(client, pid) == 1


async def test_path_errors_are_422_with_the_operation_expression(client: httpx.AsyncClient) -> None:
    pid = await new_patient(client)
    body = parameters(
        operation("replace", "Patient.gender", {"name": "value", "valueCode": "female"}),
        operation("replace", "Patient.birthDate", {"name": "value", "valueDate": "2000"}),
    )
    resp = await client.patch(f"/fhir/Patient/{pid}", json=body, headers=FJ)
    assert resp.status_code == 422
    outcome = resp.json()
    assert outcome["issue"][0]["details"]["coding"][0]["code"] == "BH-1042"
    assert outcome["issue"][1]["expression"] == ["Parameters.parameter[1]"]
    assert (await client.get(f"/fhir/Patient/{pid}")).json()["gender"] == "male"  # the first op is undone too
    bad = await client.patch(f"/fhir/Patient/{pid}", json={"resourceType": "Parameters"}, headers=FJ)
    assert bad.status_code == 400
    assert bad.json()["issue"][0]["details"]["coding"][0]["code"] == "BH-1040"
    xml = await client.patch(f"/fhir/Patient/{pid}", content=b"<Parameters/>",
                             headers={"content-type": "application/fhir+xml"})
    assert xml.status_code == 415
    assert xml.json()["issue"][0]["details"]["coding"][0]["code"] == "BH-2007"


async def test_fhirpath_patch_in_a_transaction(client: httpx.AsyncClient) -> None:
    pid = await new_patient(client)
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [{
        "resource": parameters(operation("delete", f"Patient.identifier.where(system = '{CCCD}')")),
        "request": {"method": "PATCH", "url": f"Patient/{pid}", "ifMatch": 'W/"1"'},
    }]}
    resp = await client.post("/fhir", json=bundle, headers=FJ)
    assert resp.status_code == 200, resp.text
    assert resp.json()["entry"][0]["response"]["status"].startswith("200")
    assert "identifier" not in (await client.get(f"/fhir/Patient/{pid}")).json()


async def test_capability_lists_both_patch_formats(client: httpx.AsyncClient) -> None:
    cap = (await client.get("/fhir/metadata")).json()
    assert cap["patchFormat"] == ["application/json-patch+json", "application/fhir+json"]
    patient = next(r for r in cap["rest"][0]["resource"] if r["type"] == "Patient")
    assert {"code": "patch"} in patient["interaction"]


async def test_fhirpath_patch_needs_write_access(client: httpx.AsyncClient, anon_client: httpx.AsyncClient,
                                                 db: asyncpg.Pool) -> None:
    pid = await new_patient(client)
    read_only = {"Authorization": f"Bearer {await system_token(db, scope='system/Patient.rs')}"}
    body = parameters(operation("replace", "Patient.gender", {"name": "value", "valueCode": "female"}))
    resp = await anon_client.patch(f"/fhir/Patient/{pid}", json=body, headers={**FJ, **read_only})
    assert resp.status_code == 403  # patch is an update (scope "u"), refused like one
    assert await history_size(client, pid) == 1
