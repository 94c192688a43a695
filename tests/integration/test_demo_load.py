"""The demo province: loads twice without duplicates, every demo login works, operations see stored data."""

from __future__ import annotations

from datetime import datetime

import asyncpg
import pytest

from benhan.demo.load import load_demo
from benhan.demo.logins import DEMO_LOGINS, is_demo_login
from benhan.fhir.storage.pg.repository import PgRepository
from benhan.kernel.clock import VN_TZ
from benhan.kernel.context import RequestContext

AS_OF = datetime(2025, 6, 1, 10, 0, tzinfo=VN_TZ)


async def _counts(pool: asyncpg.Pool) -> tuple[int, int, int, int]:
    async with pool.acquire() as conn:
        return (
            await conn.fetchval("SELECT count(*) FROM resource"),
            await conn.fetchval("SELECT count(*) FROM resource_history"),
            await conn.fetchval("SELECT count(*) FROM sp_token"),
            await conn.fetchval("SELECT count(*) FROM app_user"),
        )


async def test_demo_loads_twice_without_duplicates(db: asyncpg.Pool, database_url: str) -> None:
    first = await load_demo(database_url, db, patients=12, as_of=AS_OF, workers=1)
    assert first.loaded
    assert first.written["Patient"] == 12
    assert first.written["Organization"] >= 12
    before = await _counts(db)
    again = await load_demo(database_url, db, patients=12, as_of=AS_OF, workers=1)
    assert not again.loaded  # the marker says it is there
    forced = await load_demo(database_url, db, patients=12, as_of=AS_OF, workers=1, force=True)
    assert sum(forced.written.values()) == 0
    assert forced.skipped == sum(first.written.values())
    assert await _counts(db) == before
    repo, ctx = PgRepository(db), RequestContext.system("test")
    facilities = await repo.search_json(ctx, "Organization", [("partof", "Organization/cm-so-y-te")])
    assert len([f for f in facilities if f["id"] != "cm-bhxh"]) == 11
    patients = await repo.search_json(ctx, "Patient", [("name", "nguyen")])
    assert all("Nguyễn" in p["name"][0]["text"] for p in patients)


async def test_every_demo_login_works(db: asyncpg.Pool, database_url: str) -> None:
    from benhan.access.identity import verify_password
    from benhan.fhir.storage.pg.identity import IdentityStore

    summary = await load_demo(database_url, db, patients=2, as_of=AS_OF, workers=1)
    store = IdentityStore(db)
    assert {x.role for x in summary.logins} == {role for _u, role, _l in DEMO_LOGINS}
    repo, ctx = PgRepository(db), RequestContext.system("test")
    for login in summary.logins:
        user = await store.user_by_name(login.username)
        assert user is not None, login.username
        assert verify_password(user["password_hash"], login.password), login.username
        assert not verify_password(user["password_hash"], login.password + "x")
        assert (login.role, login.facility_id, login.department_id) in await store.grants(user["id"])
        practitioner = (await repo.read(ctx, "Practitioner", login.practitioner_id)).json()
        assert practitioner["name"][0]["text"]
        assert is_demo_login(login.username)
    assert not is_demo_login("nguyenvana")


async def test_terminology_is_stored_and_rules_use_the_patient(db: asyncpg.Pool, database_url: str) -> None:
    import orjson

    from benhan.fhir.operations import operation_handler
    from benhan.fhir.router.types import FhirRequest

    await load_demo(database_url, db, patients=0, as_of=AS_OF, workers=1)
    repo, ctx = PgRepository(db), RequestContext.system("test")
    icd = (await repo.read(ctx, "CodeSystem", "icd10-vn")).json()
    assert icd["url"] == "http://hl7.org/fhir/sid/icd-10"
    assert icd["count"] > 10_000
    male = await repo.create(ctx, {"resourceType": "Patient", "gender": "male", "birthDate": "1980-01-01"})
    handler = operation_handler("CodeSystem", "$validate-code")
    assert handler is not None
    query = [("url", "http://hl7.org/fhir/sid/icd-10"), ("code", "O80"), ("patient", f"Patient/{male.resource.id}")]
    result = await handler(FhirRequest("GET", (), query, {}, b"", "http://t/fhir", ctx), repo, None)
    params = orjson.loads(orjson.dumps(result.resource))
    assert {"name": "result", "valueBoolean": False} in params["parameter"]


@pytest.mark.slow
async def test_full_demo_loads_under_a_minute(db: asyncpg.Pool, database_url: str) -> None:
    summary = await load_demo(database_url, db, as_of=AS_OF)
    assert summary.loaded
    assert summary.written["Patient"] == 300
    assert summary.seconds < 60, summary.seconds
    ctx = RequestContext.system("t")
    in_progress = await PgRepository(db).search_json(ctx, "Encounter", [("status", "in-progress")])
    assert len(in_progress) >= 20


async def test_no_bed_has_two_current_occupants_and_facilities_have_catalogues(
    db: asyncpg.Pool, database_url: str
) -> None:
    from collections import Counter

    from benhan.clinical.facility import current_location
    from benhan.terminology.facility_catalogues import facility_catalogue

    summary = await load_demo(database_url, db, patients=150, as_of=AS_OF, workers=1)
    assert summary.catalogues == {"drug": 11, "service": 11, "supply": 11}
    repo, ctx = PgRepository(db), RequestContext.system("test")
    stays = await repo.search_json(ctx, "Encounter", [("status", "in-progress")])
    beds = Counter(ref for e in stays if (loc := current_location(e)) and (ref := loc["location"]["reference"]))
    assert len(beds) >= 10
    assert beds.most_common(1)[0][1] == 1, beds.most_common(3)
    drugs = await facility_catalogue(repo, ctx, "drug", "cm-bvdk-tinh")
    assert drugs.lookup("DEMO.0001") is not None
