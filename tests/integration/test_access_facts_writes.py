"""Writes of the types that make access facts (Encounter, EpisodeOfCare, ServiceRequest, CareTeam, Consent,
Organization: guard.FACT_TYPES) keep the facts true through both write paths: a single create, update or
delete puts them in its one write statement (access_sql.facts_ctes), a unit of work (a transaction Bundle)
maintains them after each write (access_sql.maintain).  The oracle is the facts rebuilt from the stored
resources (access_sql.rebuild_facts, what `benhan` does after a COPY load)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from benhan.access import AccessControl
from benhan.access.org import organization
from benhan.fhir.storage.pg.access_sql import rebuild_facts
from benhan.fhir.storage.pg.audit import AuditLog
from benhan.fhir.storage.pg.guard import FACT_TYPES
from benhan.fhir.storage.pg.repository import PgRepository
from benhan.kernel.context import RequestContext

pytestmark = pytest.mark.db
#: an integration with write scopes at a facility: every write decided, audited and given an origin
CLIENT = RequestContext(client_id="it", username="it", scopes=frozenset({"system/*.cruds"}), facility_id="fac-1")
_FACT_QUERIES = {
    "care": "SELECT source_rid, patient_id, facility_id, department_id, practitioner_id FROM care_relation",
    "consent": "SELECT source_rid, patient_id, facility_id FROM consent_block",
    "org": "SELECT id, kind, parent_id, rid FROM org_unit",
}


@pytest.fixture
async def repo(db: asyncpg.Pool, database_url: str) -> AsyncIterator[PgRepository]:
    # the read audit on a pool of its own, as app.py gives it: eight writers that are refused (and so audited)
    # while they hold all of the tests' pool must not wait for a connection of it
    audit_pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    log = AuditLog(audit_pool)
    yield PgRepository(db, access=AccessControl(), audit=log)
    await log.close()
    await audit_pool.close()


async def _facts(db: asyncpg.Pool) -> dict[str, list[tuple[Any, ...]]]:
    async with db.acquire() as conn:
        return {name: sorted((tuple(r) for r in await conn.fetch(sql)), key=repr)
                for name, sql in _FACT_QUERIES.items()}


async def _assert_facts_are_the_rebuilt_ones(db: asyncpg.Pool) -> dict[str, list[tuple[Any, ...]]]:
    written = await _facts(db)
    async with db.acquire() as conn, conn.transaction():
        await conn.execute("TRUNCATE care_relation, consent_block, org_unit")
        await rebuild_facts(conn, AccessControl().derive, FACT_TYPES)
    assert written == await _facts(db)
    return written


def _encounter(practitioner: str, provider: str = "dep-1") -> dict[str, Any]:
    return {"resourceType": "Encounter", "status": "in-progress",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
            "subject": {"reference": "Patient/p1"}, "serviceProvider": {"reference": f"Organization/{provider}"},
            "participant": [{"individual": {"reference": f"Practitioner/{practitioner}"}}]}


def _consent(status: str) -> dict[str, Any]:
    return {"resourceType": "Consent", "status": status,
            "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope",
                                  "code": "patient-privacy"}]},
            "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
            "patient": {"reference": "Patient/p1"},
            "provision": {"type": "deny", "actor": [{
                "role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                                     "code": "PRCP"}]},
                "reference": {"reference": "Organization/fac-2"}}]}}


def _others() -> list[dict[str, Any]]:
    return [
        {"resourceType": "EpisodeOfCare", "status": "active", "patient": {"reference": "Patient/p1"},
         "managingOrganization": {"reference": "Organization/fac-1"},
         "careManager": {"reference": "Practitioner/pr-2"}},
        {"resourceType": "ServiceRequest", "status": "active", "intent": "order",
         "subject": {"reference": "Patient/p1"},
         "performer": [{"reference": "Organization/fac-1"}, {"reference": "Practitioner/pr-3"}]},
        {"resourceType": "CareTeam", "subject": {"reference": "Patient/p1"},
         "managingOrganization": [{"reference": "Organization/dep-1"}],
         "participant": [{"member": {"reference": "Practitioner/pr-4"}}]},
        _consent("active"),
    ]


async def _tree(repo: PgRepository) -> None:
    await repo.update(CLIENT, "Organization", "fac-1", {**organization("facility", "BV tỉnh"), "id": "fac-1"})
    await repo.update(CLIENT, "Organization", "fac-2", {**organization("facility", "TTYT huyện"), "id": "fac-2"})
    await repo.update(CLIENT, "Organization", "dep-1",
                      {**organization("department", "Khoa Nội", parent_id="fac-1"), "id": "dep-1"})
    await repo.update(CLIENT, "Patient", "p1", {"resourceType": "Patient", "id": "p1", "gender": "female"})


async def test_single_writes_keep_the_facts_in_their_statement(db: asyncpg.Pool, repo: PgRepository) -> None:
    await _tree(repo)
    encounter = (await repo.create(CLIENT, _encounter("pr-1"))).resource
    others = [(await repo.create(CLIENT, r)).resource for r in _others()]
    dep2 = (await repo.create(CLIENT, organization("department", "Khoa Ngoại", parent_id="fac-1"))).resource
    facts = await _assert_facts_are_the_rebuilt_ones(db)
    # the department resolves to its facility; the opt-out names the other facility; the new node is in the tree
    assert ("p1", "fac-1", "dep-1", None) in [c[1:] for c in facts["care"]]
    assert [c[1:] for c in facts["consent"]] == [("p1", "fac-2")]
    assert (dep2.id, "department", "fac-1") in [o[:3] for o in facts["org"]]
    async with db.acquire() as conn:  # every create recorded where it was made
        origins = await conn.fetch("SELECT r.type, o.facility_id FROM resource r LEFT JOIN resource_origin o "
                                   "ON o.rid = r.rid WHERE r.type = ANY($1::text[])", sorted(FACT_TYPES))
    assert {o["facility_id"] for o in origins} == {"fac-1"}

    # updates replace the facts: other people, the facility itself, a withdrawn opt-out, a renamed node
    await repo.update(CLIENT, "Encounter", encounter.id, {**_encounter("pr-5", "fac-1"), "id": encounter.id})
    consent = others[-1]
    await repo.update(CLIENT, "Consent", consent.id, {**_consent("inactive"), "id": consent.id})
    await repo.update(CLIENT, "Organization", "dep-1",
                      {**organization("department", "Khoa Nội tổng hợp", parent_id="fac-1"), "id": "dep-1"})
    facts = await _assert_facts_are_the_rebuilt_ones(db)
    assert facts["consent"] == []
    assert ("p1", None, None, "pr-5") in [c[1:] for c in facts["care"]]
    assert ("p1", None, None, "pr-1") not in [c[1:] for c in facts["care"]]

    # a patch takes the locking path, its facts still in its one write statement
    await repo.patch(CLIENT, "Encounter", encounter.id, [
        {"op": "replace", "path": "/participant/0/individual/reference", "value": "Practitioner/pr-6"}],
        "json-patch")
    facts = await _assert_facts_are_the_rebuilt_ones(db)
    assert ("p1", None, None, "pr-6") in [c[1:] for c in facts["care"]]
    assert ("p1", None, None, "pr-5") not in [c[1:] for c in facts["care"]]

    # deletes take their facts away
    service_request = others[1]
    assert await repo.delete(CLIENT, "ServiceRequest", service_request.id) is not None
    assert await repo.delete(CLIENT, "Organization", dep2.id) is not None
    facts = await _assert_facts_are_the_rebuilt_ones(db)
    assert ("p1", None, None, "pr-3") not in [c[1:] for c in facts["care"]]
    assert dep2.id not in [o[0] for o in facts["org"]]
    async with db.acquire() as conn:  # each of those writes left exactly one audit record
        writes = await conn.fetchval(
            "SELECT count(*) FROM audit_log WHERE action IN ('create', 'update', 'patch', 'delete')")
    assert writes == 4 + 1 + len(others) + 1 + 3 + 1 + 2


async def test_a_unit_of_work_keeps_the_same_facts(db: asyncpg.Pool, repo: PgRepository) -> None:
    """The other path (facts after each write, in the transaction): the same facts for the same writes."""
    async with repo.unit_of_work() as bound:
        await _tree(bound)
        encounter = (await bound.create(CLIENT, _encounter("pr-1"))).resource
        others = [(await bound.create(CLIENT, r)).resource for r in _others()]
        await bound.update(CLIENT, "Encounter", encounter.id, {**_encounter("pr-5", "fac-1"), "id": encounter.id})
        await bound.delete(CLIENT, "ServiceRequest", others[1].id)
    facts = await _assert_facts_are_the_rebuilt_ones(db)
    assert ("p1", None, None, "pr-5") in [c[1:] for c in facts["care"]]
    assert [c[1:] for c in facts["consent"]] == [("p1", "fac-2")]


async def test_racing_encounter_updates_leave_the_facts_of_the_winner(db: asyncpg.Pool, repo: PgRepository) -> None:
    """Concurrent single updates of one Encounter (each read unlocked, written only if still current, else
    tried again): every version lands once, and the care links are those of the current version only."""
    await _tree(repo)
    encounter = (await repo.create(CLIENT, _encounter("pr-0"))).resource
    people = [f"pr-{i}" for i in range(1, 9)]
    done = await asyncio.gather(*(repo.update(CLIENT, "Encounter", encounter.id,
                                              {**_encounter(p), "id": encounter.id}) for p in people))
    assert sorted(w.resource.version for w in done) == list(range(2, 2 + len(people)))
    facts = await _assert_facts_are_the_rebuilt_ones(db)
    current = (await repo.read(CLIENT, "Encounter", encounter.id)).json()
    winner = current["participant"][0]["individual"]["reference"].split("/")[1]
    async with db.acquire() as conn:
        rid = await conn.fetchval("SELECT rid FROM resource WHERE type = 'Encounter' AND id = $1", encounter.id)
    assert sorted((c[1:] for c in facts["care"] if c[0] == rid), key=repr) == [("p1", "fac-1", "dep-1", None),
                                                                               ("p1", None, None, winner)]
