"""Helpers for access-control tests (issue 4), reusable by the web UI tests: a small province with two
facilities, users with roles, login over HTTP, bearer tokens, and audit queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pyotp

from benhan.access import identity as ident
from benhan.access import org
from benhan.access.roles import Grant, practitioner_role
from benhan.fhir.storage.pg.audit_trail import event_contents
from benhan.fhir.storage.pg.identity import IdentityStore
from benhan.fhir.storage.pg.repository import PgRepository
from benhan.kernel import clock
from benhan.kernel.context import RequestContext
from benhan.kernel.ids import new_id

SYSTEM = RequestContext.system("test-setup")
PASSWORD = "mat-khau-rat-dai-123"
FJ = {"Content-Type": "application/fhir+json"}


async def system_token(pool: asyncpg.Pool, scope: str = "system/*.cruds", facility_id: str | None = None,
                       client_id: str | None = None, user_id: str | None = None, seconds: int = 300,
                       patient_id: str | None = None) -> str:
    """A bearer token stored directly (what /oauth2/token would issue), for tests that are not about OAuth."""
    store = IdentityStore(pool)
    client_id = client_id or f"test-{new_id()[:8]}"
    if await store.client(client_id) is None:
        await store.add_client(client_id, "test client", None, None, "client_secret_basic", [],
                               ["client_credentials"], scope, facility_id)
    token, now = ident.new_secret(), clock.now()
    await store.save_token({
        "access_hash": ident.secret_hash(token), "client_id": client_id, "user_id": user_id, "scope": scope,
        "facility_id": facility_id, "department_id": None, "patient_id": patient_id, "issued": now,
        "expires": now + timedelta(seconds=seconds),
    })
    return token


@dataclass
class Province:
    """Province → facilities A and B; A has departments A1 (khoa nội) and A2 (khoa ngoại); B has B1."""

    province: str
    fac_a: str
    fac_b: str
    dep_a1: str
    dep_a2: str
    dep_b1: str
    users: dict[str, str] = field(default_factory=dict)  # username → user id
    practitioners: dict[str, str] = field(default_factory=dict)  # username → Practitioner id


async def _create(repo: PgRepository, resource: dict[str, Any]) -> str:
    return (await repo.create(SYSTEM, resource)).resource.id


async def build_province(repo: PgRepository) -> Province:
    prov = await _create(repo, org.organization("province", "Sở Y tế Hà Giang"))
    fac_a = await _create(repo, org.organization("facility", "Bệnh viện Đa khoa tỉnh", code="02001", parent_id=prov))
    fac_b = await _create(repo, org.organization("facility", "Trung tâm Y tế huyện", code="02002", parent_id=prov))
    dep_a1 = await _create(repo, org.organization("department", "Khoa Nội", parent_id=fac_a))
    dep_a2 = await _create(repo, org.organization("department", "Khoa Ngoại", parent_id=fac_a))
    dep_b1 = await _create(repo, org.organization("department", "Khoa Khám bệnh", parent_id=fac_b))
    return Province(prov, fac_a, fac_b, dep_a1, dep_a2, dep_b1)


async def add_user(
    pool: asyncpg.Pool, repo: PgRepository, p: Province, username: str, grants: list[Grant], *,
    totp_secret: str | None = None,
) -> str:
    store = IdentityStore(pool)
    practitioner = await _create(repo, {"resourceType": "Practitioner", "name": [{"text": username}]})
    user_id = new_id()
    await store.add_user(user_id, username, ident.hash_password(PASSWORD), username, practitioner)
    for g in grants:
        await store.add_grant(user_id, g.role, g.facility_id, g.department_id)
        await _create(repo, practitioner_role(practitioner, g))
    if totp_secret:
        await store.set_totp(user_id, totp_secret)
    p.users[username] = user_id
    p.practitioners[username] = practitioner
    return user_id


async def login(client: httpx.AsyncClient, username: str, *, facility_id: str | None = None,
                department_id: str | None = None, totp: str | None = None,
                password: str = PASSWORD) -> httpx.Response:
    body = {"username": username, "password": password, "facility_id": facility_id,
            "department_id": department_id, "totp": totp}
    return await client.post("/login", json=body)


async def sign_in(client: httpx.AsyncClient, username: str, *, totp_secret: str | None = None, **kw: Any) -> str:
    """Sign ``client`` in as ``username`` (session cookie) and return the session's CSRF token; with
    ``totp_secret`` the current one-time code is sent too (administrators enrol TOTP), or pass ``totp=`` as is."""
    if totp_secret:
        kw["totp"] = pyotp.TOTP(totp_secret).now()
    r = await login(client, username, **kw)
    assert r.status_code == 200, r.text
    return str(r.json()["csrf_token"])


async def session_client(app: object, username: str, **kw: Any) -> tuple[httpx.AsyncClient, str]:
    """A new httpx client signed in as ``username`` (see ``sign_in``) and its CSRF token; close it after use."""
    c = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")  # type: ignore[arg-type]
    return c, await sign_in(c, username, **kw)


async def audit_rows(pool: asyncpg.Pool, **where: Any) -> list[dict[str, Any]]:
    """The audit events matching ``where`` (``audit_event``: the audit log's rows and the read audit's blocks'
    events, migration 0018), oldest first, with ``content`` as the AuditEvent's JSON bytes (``stored``: the
    bytes as stored and hashed, storage/content.py, for a row; None for an event of a block)."""
    clauses = " AND ".join(f"{k} = ${i + 1}" for i, k in enumerate(where)) or "true"
    async with pool.acquire() as conn:
        rows = await conn.fetch(f"SELECT * FROM audit_event WHERE {clauses} ORDER BY recorded, chain, seq, part",
                                *where.values())
        contents = await event_contents(conn, rows)
    return [{**row, "content": content, "stored": bytes(row["content"]) if row["content"] is not None else None}
            for row, content in zip(rows, contents, strict=True)]


def patient(name: str = "Nguyễn Văn An") -> dict[str, Any]:
    return {"resourceType": "Patient", "name": [{"text": name}], "gender": "male", "birthDate": "1980-01-02"}


def encounter(patient_id: str, org_id: str, practitioner_id: str | None = None) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "Encounter", "status": "in-progress",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
        "subject": {"reference": f"Patient/{patient_id}"}, "serviceProvider": {"reference": f"Organization/{org_id}"},
    }
    if practitioner_id:
        res["participant"] = [{"individual": {"reference": f"Practitioner/{practitioner_id}"}}]
    return res


def observation(patient_id: str, value: float = 37.5) -> dict[str, Any]:
    return {
        "resourceType": "Observation", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8310-5"}]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "valueQuantity": {"value": value, "unit": "Cel", "system": "http://unitsofmeasure.org", "code": "Cel"},
    }


def consent_opt_out(patient_id: str, facility_id: str | None) -> dict[str, Any]:
    """The patient refuses to share their record with ``facility_id`` (None: with every other facility)."""
    provision: dict[str, Any] = {"type": "deny"}
    if facility_id:
        provision["actor"] = [{"role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleClass",
                                                    "code": "PROV"}]},
                               "reference": {"reference": f"Organization/{facility_id}"}}]
    return {
        "resourceType": "Consent", "status": "active",
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope",
                              "code": "patient-privacy"}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": f"Patient/{patient_id}"}, "policyRule": {"text": "opt-out"}, "provision": provision,
    }
