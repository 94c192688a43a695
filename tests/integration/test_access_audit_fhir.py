"""The audit log over FHIR (issue 4): ``GET /fhir/AuditEvent`` read and search as BALP-shaped AuditEvents,
for auditors and ``system/AuditEvent.rs`` only, read-only, and reading the audit is itself audited."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
import httpx
import pytest
from tests.integration.access_support import (
    FJ,
    SYSTEM,
    Province,
    add_user,
    audit_rows,
    build_province,
    encounter,
    patient,
    session_client,
    system_token,
)

from benhan.access.roles import Grant
from benhan.kernel.clock import VN_TZ


@pytest.fixture
async def seen(app: Any, db: asyncpg.Pool) -> tuple[Province, str]:
    """A province, a doctor who opened one patient's record (and tried another's), and an auditor."""
    repo = app.state.repo
    p = await build_province(repo)
    await add_user(db, repo, p, "bs.an", [Grant("doctor", p.fac_a, p.dep_a1)])
    await add_user(db, repo, p, "kt.vien", [Grant("auditor", p.fac_a)])
    pid = (await repo.create(SYSTEM, patient("Đỗ Thị Hoa"))).resource.id
    await repo.create(SYSTEM, encounter(pid, p.dep_a1))
    far = (await repo.create(SYSTEM, patient("Ngô Văn Xa"))).resource.id
    await repo.create(SYSTEM, encounter(far, p.dep_b1))
    doctor, _csrf = await session_client(app, "bs.an")
    try:
        assert (await doctor.get(f"/fhir/Patient/{pid}")).status_code == 200
        assert (await doctor.get(f"/fhir/Patient/{far}")).status_code == 404
    finally:
        await doctor.aclose()
    return p, pid


def _entries(r: httpx.Response) -> list[dict[str, Any]]:
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["resourceType"] == "Bundle"
    assert body["type"] == "searchset"
    return [e["resource"] for e in body.get("entry", [])]


async def test_auditor_searches_and_reads_the_audit(app: Any, db: asyncpg.Pool, seen: tuple[Province, str]) -> None:
    prov, pid = seen
    auditor, csrf = await session_client(app, "kt.vien")
    try:
        about = _entries(await auditor.get("/fhir/AuditEvent", params={"patient": f"Patient/{pid}"}))
        assert about
        for event in about:
            assert event["resourceType"] == "AuditEvent"
            assert {"reference": f"Patient/{pid}"} in [e.get("what") for e in event["entity"]]
        reads = _entries(await auditor.get("/fhir/AuditEvent", params={"patient": pid, "subtype": "read",
                                                                       "agent-name": "bs.an"}))
        assert len(reads) == 1
        event = reads[0]
        assert event["action"] == "R"
        assert event["outcome"] == "0"
        assert event["agent"][0]["who"]["reference"] == f"Practitioner/{prov.practitioners['bs.an']}"
        by_agent = _entries(await auditor.get("/fhir/AuditEvent", params={
            "agent": f"Practitioner/{prov.practitioners['bs.an']}", "action": "R"}))
        assert event["id"] in {e["id"] for e in by_agent}
        assert all(e["action"] == "R" for e in by_agent)
        denied = _entries(await auditor.get("/fhir/AuditEvent", params={"outcome": "4", "agent-name": "bs.an"}))
        assert denied
        assert all(e["outcome"] == "4" for e in denied)
        # a date without a zone is a day in Vietnam time, as everywhere in the FHIR search
        day = datetime.fromisoformat(event["recorded"]).astimezone(VN_TZ).date().isoformat()
        assert _entries(await auditor.get("/fhir/AuditEvent", params={"patient": pid, "date": day}))
        assert _entries(await auditor.get("/fhir/AuditEvent", params={"patient": pid, "date": "lt2000"})) == []
        logins = _entries(await auditor.get("/fhir/AuditEvent", params={"type": "110114"}))
        assert logins
        assert all(e["type"]["code"] == "110114" for e in logins)
        one = await auditor.get(f"/fhir/AuditEvent/{event['id']}")
        assert one.status_code == 200
        assert one.json() == event
        assert (await auditor.get("/fhir/AuditEvent/9-999999")).status_code == 404
        chain, seq, part = event["id"].split("-")  # a read's event, in its block (migration 0018)
        assert int(part) >= 1
        for other in (f"{chain}-{seq}", f"{chain}-{seq}-0", f"{chain}-{seq}-{int(part) + 99}"):
            assert (await auditor.get(f"/fhir/AuditEvent/{other}")).status_code == 404, other
        page = (await auditor.get("/fhir/AuditEvent", params={"_count": "1"})).json()
        assert len(page["entry"]) == 1
        assert any(link["relation"] == "next" for link in page["link"])
        assert (await auditor.get("/fhir", params={"_type": "Patient,AuditEvent"})).status_code == 400
        compartment = _entries(await auditor.get(f"/fhir/Patient/{pid}/AuditEvent"))
        assert {e["id"] for e in compartment} >= {event["id"]}
        # read-only: every change is refused with an OperationOutcome
        h = {**FJ, "X-CSRF-Token": csrf}
        for method, path in (("POST", "/fhir/AuditEvent"), ("PUT", f"/fhir/AuditEvent/{event['id']}"),
                             ("DELETE", f"/fhir/AuditEvent/{event['id']}"),
                             ("PATCH", f"/fhir/AuditEvent/{event['id']}")):
            r = await auditor.request(method, path, json={"resourceType": "AuditEvent"}, headers=h)
            assert r.status_code == 405, (method, r.text)
            assert r.json()["resourceType"] == "OperationOutcome"
            assert "BH-2005" in r.text
    finally:
        await auditor.aclose()
    # reading the audit is audited too
    own = await audit_rows(db, user_name="kt.vien", action="search")
    assert any(b"AuditEvent?" in bytes(r["content"]) and r["outcome"] == "success" for r in own)
    assert await audit_rows(db, user_name="kt.vien", action="read", entity=[f"AuditEvent/{event['id']}"])


async def test_audit_is_refused_to_others_and_the_refusal_audited(app: Any, anon_client: httpx.AsyncClient,
                                                                   db: asyncpg.Pool,
                                                                   seen: tuple[Province, str]) -> None:
    doctor, _csrf = await session_client(app, "bs.an")
    try:
        assert (await doctor.get("/fhir/AuditEvent")).status_code == 403
        assert (await doctor.get("/fhir/AuditEvent/0-1")).status_code == 403
    finally:
        await doctor.aclose()
    refused = await audit_rows(db, user_name="bs.an", outcome="denied", action="search")
    assert refused
    wildcard = await system_token(db, scope="system/*.rs")
    h = {"Authorization": f"Bearer {wildcard}"}
    assert (await anon_client.get("/fhir/AuditEvent", headers=h)).status_code == 403  # * does not reach the audit
    named = await system_token(db, scope="system/AuditEvent.rs")
    assert _entries(await anon_client.get("/fhir/AuditEvent", headers={"Authorization": f"Bearer {named}"}))
    meta = (await anon_client.get("/fhir/metadata")).json()
    audit = next(r for r in meta["rest"][0]["resource"] if r["type"] == "AuditEvent")
    assert [i["code"] for i in audit["interaction"]] == ["read", "search-type"]
