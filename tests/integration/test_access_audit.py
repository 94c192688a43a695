"""Audit (issue 4): every interaction leaves a BALP AuditEvent; the log is append-only and hash-chained;
``benhan audit verify`` finds a tampered row; the application role cannot change the log."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from tests.conftest import make_settings
from tests.integration.access_support import FJ, audit_rows, observation, patient, system_token
from typer.testing import CliRunner

from benhan.app import create_app
from benhan.fhir.storage.content import pack
from benhan.fhir.storage.pg.audit import block_events
from benhan.fhir.storage.pg.audit_trail import verify


def _cli(database_url: str, *args: str) -> Any:
    from benhan.cli import app
    from benhan.settings import get_settings

    get_settings.cache_clear()
    return CliRunner().invoke(app, list(args), env={"DATABASE_URL": database_url, "BENHAN_MODE": "test"})


async def test_every_interaction_is_audited_with_balp_content(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    pid = (await client.post("/fhir/Patient", json=patient(), headers=FJ)).json()["id"]
    oid = (await client.post("/fhir/Observation", json=observation(pid), headers=FJ)).json()["id"]
    await client.get(f"/fhir/Observation/{oid}")
    await client.get(f"/fhir/Observation/{oid}/_history/1")
    await client.get("/fhir/Observation", params={"subject": f"Patient/{pid}"})
    await client.put(f"/fhir/Observation/{oid}", json=observation(pid, 38.1) | {"id": oid}, headers=FJ)
    await client.delete(f"/fhir/Observation/{oid}")
    rows = await audit_rows(db)
    actions = [r["action"] for r in rows]
    for expected in ("create", "read", "vread", "search", "update", "delete"):
        assert expected in actions, expected
    read = next(r for r in rows if r["action"] == "read")
    event = orjson.loads(read["content"])
    assert event["subtype"][0]["code"] == "read"
    assert read["patient_id"] == pid
    assert {"reference": f"Observation/{oid}/_history/1"} in [e.get("what") for e in event["entity"]]
    search = next(orjson.loads(r["content"]) for r in rows if r["action"] == "search")
    assert any(e.get("role", {}).get("code") == "24" for e in search["entity"])  # the query itself
    async with db.acquire() as conn:
        assert (await verify(conn)).ok


async def test_writes_are_audited_in_their_transaction(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    bad = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": patient(), "request": {"method": "POST", "url": "Patient"}},
        {"resource": {"resourceType": "Observation"}, "request": {"method": "POST", "url": "Observation"}},
    ]}
    assert (await client.post("/fhir", json=bad, headers=FJ)).status_code >= 400
    assert not await audit_rows(db, action="create")  # rolled back together with the writes
    ok = {**bad, "entry": bad["entry"][:1]}
    assert (await client.post("/fhir", json=ok, headers=FJ)).status_code == 200
    assert len(await audit_rows(db, action="create")) == 1


async def test_a_create_and_its_audit_record_commit_together(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    """A single create is one statement (resource, index, origin, audit): if the audit append fails, nothing
    of the create is stored."""
    async with db.acquire() as conn:
        await conn.execute("""
            CREATE FUNCTION test_refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'audit store unavailable'; END $$;
            CREATE TRIGGER test_refuse_audit BEFORE INSERT ON audit_log FOR EACH ROW
                EXECUTE FUNCTION test_refuse_audit();""")
    try:
        failed = await client.post("/fhir/Patient", json=patient("Trần Thị Bình"), headers=FJ)
    finally:
        async with db.acquire() as conn:
            await conn.execute("DROP TRIGGER test_refuse_audit ON audit_log; DROP FUNCTION test_refuse_audit()")
    assert failed.status_code == 500
    assert failed.json()["resourceType"] == "OperationOutcome"
    async with db.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM resource WHERE type = 'Patient'") == 0
        assert await conn.fetchval("SELECT count(*) FROM sp_string") == 0
    created = await client.post("/fhir/Patient", json=patient("Trần Thị Bình"), headers=FJ)
    assert created.status_code == 201
    [row] = await audit_rows(db, action="create")
    assert orjson.loads(row["content"])["entity"][0]["what"]["reference"].startswith(
        f"Patient/{created.json()['id']}")


async def test_reads_under_concurrency_are_all_recorded(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    pid = (await client.post("/fhir/Patient", json=patient(), headers=FJ)).json()["id"]
    results = await asyncio.gather(*(client.get(f"/fhir/Patient/{pid}") for _ in range(40)))
    assert all(r.status_code == 200 for r in results)
    assert len(await audit_rows(db, action="read")) == 40
    async with db.acquire() as conn:
        result = await verify(conn)
    assert result.ok
    assert result.checked == 41


async def _forge(conn: asyncpg.Connection, table: str, target: dict[str, Any], column: str, value: Any) -> None:
    """What an attacker with superuser rights does: switch the append-only triggers off and rewrite history."""
    async with conn.transaction():
        await conn.execute("SET LOCAL session_replication_role = replica")
        await conn.execute(f"UPDATE {table} SET {column} = $3 WHERE chain = $1 AND seq = $2",
                           target["chain"], target["seq"], value)


@pytest.mark.parametrize("kind", ["row", "block", "block columns", "block events", "block events shape"])
async def test_tampering_is_detected_and_named(client: httpx.AsyncClient, db: asyncpg.Pool, database_url: str,
                                               kind: str) -> None:
    """A write's row of ``audit_log``, a read's event in its block of ``audit_block`` (migration 0018), a
    block's indexed columns (a patient taken out of ``patients`` would hide the read from "who viewed"), or its
    per-event columns (migration 0019: another patient named in ``events``, or ``events`` that ``audit_event``
    cannot read)."""
    pid = (await client.post("/fhir/Patient", json=patient(), headers=FJ)).json()["id"]
    for _ in range(3):
        await client.get(f"/fhir/Patient/{pid}")
    intact = await asyncio.to_thread(_cli, database_url, "audit", "verify")
    assert intact.exit_code == 0, intact.output
    table = "audit_log" if kind == "row" else "audit_block"
    target = (await audit_rows(db, action="create" if kind == "row" else "read"))[-1]
    assert (target["part"] == 0) == (kind == "row")
    async with db.acquire() as conn:
        with pytest.raises(asyncpg.PostgresError, match="append-only"):
            await conn.execute(f"UPDATE {table} SET content = content WHERE chain = $1 AND seq = $2",
                               target["chain"], target["seq"])
        with pytest.raises(asyncpg.PostgresError, match="append-only"):
            await conn.execute(f"DELETE FROM {table} WHERE chain = $1", target["chain"])
        stored = await conn.fetchrow(f"SELECT content, {'patients, events' if kind != 'row' else 'NULL AS patients'}"
                                     f" FROM {table} WHERE chain = $1 AND seq = $2", target["chain"], target["seq"])
        if kind == "row":
            column, original = "content", stored["content"]
            forged: Any = pack(target["content"].replace(pid.encode(), b"someone-else"), "AuditEvent")
        elif kind == "block":
            column, original = "content", stored["content"]
            events = block_events(original)
            events[target["part"] - 1] = events[target["part"] - 1].replace(pid.encode(), b"someone-else")
            forged = pack(b"\n".join(events), "AuditEvent")
        elif kind == "block columns":
            column, original, forged = "patients", stored["patients"], []
        else:
            column, original = "events", stored["events"]
            columns = orjson.loads(original)
            if kind == "block events":
                columns["patient_id"][target["part"] - 1] = "someone-else"
            else:
                columns["action"] = columns["action"][:-1]  # one element short
            forged = orjson.dumps(columns).decode()
        assert forged != original
        await _forge(conn, table, target, column, forged)
    broken = await asyncio.to_thread(_cli, database_url, "audit", "verify")
    assert broken.exit_code == 1
    assert f"chain {target['chain']} seq {target['seq']}" in broken.output
    if kind == "block columns":
        assert "block columns do not match its events" in broken.output
    if kind == "block events":
        assert f"columns do not match the content (event {target['part']})" in broken.output
    if kind == "block events shape":
        assert "columns do not match the content" in broken.output
    async with db.acquire() as conn:  # put it back so later checks in this database stay meaningful
        await _forge(conn, table, target, column, original)
        assert (await verify(conn)).ok


@pytest.mark.parametrize("table", ["audit_log", "audit_block"])
async def test_deleted_rows_break_the_chain(client: httpx.AsyncClient, db: asyncpg.Pool, table: str) -> None:
    """A write's row, or a block of reads (each read here waits for its own commit: one block each); the last
    of a chain too, which only its head still names."""
    pid = (await client.post("/fhir/Patient", json=patient(), headers=FJ)).json()["id"]
    for _ in range(3):
        await client.get(f"/fhir/Patient/{pid}")
    events = await audit_rows(db, action="create" if table == "audit_log" else "read")
    for victim in (events[0], events[-1]):
        async with db.acquire() as conn:
            async with conn.transaction():
                await conn.execute("SET LOCAL session_replication_role = replica")
                await conn.execute(f"DELETE FROM {table} WHERE chain = $1 AND seq = $2", victim["chain"], victim["seq"])
            result = await verify(conn)
        assert not result.ok
        assert result.broken is not None
        assert result.broken[0] == victim["chain"]


async def test_the_application_role_cannot_change_the_audit_log(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    await client.get("/fhir/metadata")
    pid = (await client.post("/fhir/Patient", json=patient(), headers=FJ)).json()["id"]
    assert pid
    async with db.acquire() as conn:
        async with conn.transaction():
            await conn.execute("SET LOCAL ROLE benhan_app")
            await conn.execute("SELECT 1 FROM audit_log LIMIT 1")  # reading is allowed (reports)
        for sql in ("UPDATE audit_log SET outcome = 'x'", "DELETE FROM audit_log", "TRUNCATE audit_log",
                    "UPDATE audit_block SET content = content", "DELETE FROM audit_block", "TRUNCATE audit_block",
                    "SET LOCAL session_replication_role = replica"):  # nor may it switch the triggers off
            async with conn.transaction():
                await conn.execute("SAVEPOINT before")
                await conn.execute("SET LOCAL ROLE benhan_app")
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await conn.execute(sql)
                await conn.execute("ROLLBACK TO SAVEPOINT before")


async def test_batched_read_audit_is_flushed_on_interval_and_shutdown(db: asyncpg.Pool) -> None:
    from benhan.access.audit import audit_record
    from benhan.fhir.storage.access_types import AuditInfo
    from benhan.fhir.storage.pg.audit import AuditLog
    from benhan.kernel import clock
    from benhan.kernel.context import RequestContext

    log = AuditLog(db, wait=False, interval=0.05)
    ctx = RequestContext(client_id="c", username="c", scopes=frozenset({"system/*.rs"}))
    await log.record([audit_record(ctx, AuditInfo("read", type="Patient", id="p1", patient_id="p1"), clock.now())])
    assert not await audit_rows(db, action="read")  # queued, not yet flushed: the request did not wait
    await asyncio.sleep(0.3)
    assert len(await audit_rows(db, action="read")) == 1
    for i in range(5):
        await log.record([audit_record(ctx, AuditInfo("read", type="Patient", id=f"q{i}"), clock.now())])
    await log.close()  # shutdown flushes what is queued
    assert len(await audit_rows(db, action="read")) == 6
    async with db.acquire() as conn:
        assert (await verify(conn)).ok


async def test_reports_who_viewed_and_auditor_search(client: httpx.AsyncClient, db: asyncpg.Pool) -> None:
    from benhan.fhir.storage.admin_types import AuditFilter
    from benhan.fhir.storage.pg.audit_reports import search_audit

    pid = (await client.post("/fhir/Patient", json=patient(), headers=FJ)).json()["id"]
    await client.get(f"/fhir/Patient/{pid}")
    async with db.acquire() as conn:
        viewed = await search_audit(conn, AuditFilter(patient_id=pid))
        assert [r.action for r in viewed] == ["read", "create"]
        reads = await search_audit(conn, AuditFilter(patient_id=pid, action="read"))
        assert len(reads) == 1
        assert reads[0].client_id is not None
        assert not await search_audit(conn, AuditFilter(patient_id=pid, break_glass=True))


@pytest.mark.parametrize(("mode", "flush"), [("wait", "on"), ("commit", "off")])
async def test_a_read_answers_after_its_audit_commit_flushed_or_not(db: asyncpg.Pool, database_url: str,
                                                                    mode: str, flush: str) -> None:
    """``BENHAN_AUDIT_READS``: in both modes the record is committed before the answer; ``wait`` also waits for
    its WAL flush (the audit's sessions keep ``synchronous_commit = on``), ``commit`` does not (``off``)."""
    application = create_app(make_settings(audit_reads=mode), database_url=database_url)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        headers = {"Authorization": f"Bearer {await system_token(db)}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver", headers=headers) as client:
            pid = (await client.post("/fhir/Patient", json=patient(), headers=FJ)).json()["id"]
            assert (await client.get(f"/fhir/Patient/{pid}")).status_code == 200
            assert [r["patient_id"] for r in await audit_rows(db, action="read")] == [pid]  # no wait, no retry
            audit_pool = application.state.repo.audit.pool
            async with audit_pool.acquire() as conn:
                assert await conn.fetchval("SHOW synchronous_commit") == flush
                assert await conn.fetchval("SHOW application_name") == "benhan-audit"
            async with application.state.pool.acquire() as conn:  # the requests' sessions: durable commits
                assert await conn.fetchval("SHOW synchronous_commit") == "on"
