"""Directory and ward resources belong to a facility (issue 4): a facility administrator manages their own
facility's departments, Locations and PractitionerRoles, not another's; a nurse sets the status of her own
facility's beds, not another facility's.  Over the FHIR API with web sessions; denials are audited."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pyotp
import pytest
from tests.integration.access_support import FJ, Province, add_user, audit_rows, build_province, session_client

from benhan.access import org
from benhan.access.roles import Grant
from benhan.fhir.storage.pg.identity import IdentityStore
from benhan.kernel.context import RequestContext


@pytest.fixture
async def world(app: Any, db: asyncpg.Pool) -> dict[str, Any]:
    repo = app.state.repo
    p: Province = await build_province(repo)
    system = RequestContext.system()
    beds = {}
    for key, dep in (("a", p.dep_a1), ("b", p.dep_b1)):
        made = await repo.create(system, org.location("bed", f"Giường {key}", department_id=dep))
        beds[key] = made.resource.id
    await add_user(db, repo, p, "dd.a", [Grant("nurse", p.fac_a, p.dep_a1)])
    await add_user(db, repo, p, "qt.a", [Grant("facility_admin", p.fac_a)])
    secret = pyotp.random_base32()
    await IdentityStore(db).set_totp(p.users["qt.a"], secret)
    return {"p": p, "beds": beds, "totp": secret}


async def _bed(client: httpx.AsyncClient, csrf: str, bed_id: str, status: str) -> httpx.Response:
    current = (await client.get(f"/fhir/Location/{bed_id}")).json()
    current["operationalStatus"] = {"system": "http://terminology.hl7.org/CodeSystem/v2-0116", "code": status}
    return await client.put(f"/fhir/Location/{bed_id}", json=current, headers={**FJ, "X-CSRF-Token": csrf})


async def test_a_nurse_sets_her_facility_beds_only(app: Any, db: asyncpg.Pool, world: dict[str, Any]) -> None:
    client, csrf = await session_client(app, "dd.a")
    try:
        assert (await _bed(client, csrf, world["beds"]["a"], "O")).status_code == 200
        denied = await _bed(client, csrf, world["beds"]["b"], "O")
        assert denied.status_code == 403
        assert denied.json()["resourceType"] == "OperationOutcome"
        # Nor may she move a bed of her facility under another facility's department.
        bed = (await client.get(f"/fhir/Location/{world['beds']['a']}")).json()
        bed["managingOrganization"] = {"reference": f"Organization/{world['p'].dep_b1}"}
        moved = await client.put(f"/fhir/Location/{bed['id']}", json=bed, headers={**FJ, "X-CSRF-Token": csrf})
        assert moved.status_code == 403
    finally:
        await client.aclose()
    denials = [r for r in await audit_rows(db, outcome="denied") if r["user_name"] == "dd.a"]
    assert len(denials) == 2
    versions = await db.fetchval("SELECT version FROM resource WHERE type = 'Location' AND id = $1", world["beds"]["b"])
    assert versions == 1


async def test_a_facility_admin_manages_their_own_facility(app: Any, world: dict[str, Any]) -> None:
    p: Province = world["p"]
    client, csrf = await session_client(app, "qt.a", totp=pyotp.TOTP(world["totp"]).now())
    headers = {**FJ, "X-CSRF-Token": csrf}
    try:
        own = await client.post("/fhir/Organization", headers=headers,
                                json=org.organization("department", "Khoa Hồi sức", parent_id=p.fac_a))
        assert own.status_code == 201, own.text
        other = await client.post("/fhir/Organization", headers=headers,
                                  json=org.organization("department", "Khoa Nhi", parent_id=p.fac_b))
        assert other.status_code == 403
        facility = await client.post("/fhir/Organization", headers=headers,
                                     json=org.organization("facility", "Trạm Y tế xã", parent_id=p.province))
        assert facility.status_code == 403  # new facilities are the province's to create
        ward = await client.post("/fhir/Location", headers=headers,
                                 json=org.location("ward", "Buồng 3", department_id=p.dep_a2))
        assert ward.status_code == 201
        foreign = await client.post("/fhir/Location", headers=headers,
                                    json=org.location("ward", "Buồng 1", department_id=p.dep_b1))
        assert foreign.status_code == 403
        dep_b = (await client.get(f"/fhir/Organization/{p.dep_b1}")).json()
        dep_b["name"] = "Khoa Khám bệnh (đổi tên)"
        renamed = await client.put(f"/fhir/Organization/{p.dep_b1}", json=dep_b, headers=headers)
        assert renamed.status_code == 403
    finally:
        await client.aclose()
