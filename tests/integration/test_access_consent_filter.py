"""The search predicate names Consent opt-outs only when one could apply to the viewer (issue 3 at 5 M
resources: the opt-out test references the resource row, which kept counts from being index-only scans)."""

from __future__ import annotations

import asyncpg
import pytest

from benhan.access import AccessControl, load_config
from benhan.fhir.search.parse import parse
from benhan.fhir.storage.pg.guard import Guard
from benhan.fhir.storage.pg.search_sql import Sql
from benhan.kernel import clock
from benhan.kernel.context import RequestContext

pytestmark = pytest.mark.db

DOCTOR = RequestContext(user_id="u-bs", username="bs.consent", roles=frozenset({"doctor"}),
                        facility_id="fac-a", department_id="dep-a1")
CLIENT = RequestContext(client_id="c", username="c", scopes=frozenset({"system/*.rs"}))


async def _predicate(db: asyncpg.Pool, ctx: RequestContext) -> str:
    guard = Guard(AccessControl(load_config(None)), None)
    async with db.acquire() as conn:
        sql, _args = await guard.filter(conn, ctx, "search", ("Observation",))
    assert sql is not None
    return sql


async def test_opt_outs_enter_the_predicate_only_where_they_apply(db: asyncpg.Pool) -> None:
    assert "consent_block" not in await _predicate(db, DOCTOR)
    assert "consent_block" not in await _predicate(db, CLIENT)
    async with db.acquire() as conn:  # an opt-out from another facility: nothing changes for fac-a
        await conn.execute("INSERT INTO consent_block VALUES (1, 'pat-1', 'fac-b')")
    assert "consent_block" not in await _predicate(db, DOCTOR)
    async with db.acquire() as conn:  # one that names fac-a
        await conn.execute("INSERT INTO consent_block VALUES (2, 'pat-2', 'fac-a')")
    assert "consent_block" in await _predicate(db, DOCTOR)
    assert "consent_block" not in await _predicate(db, CLIENT)
    async with db.acquire() as conn:  # one that applies everywhere
        await conn.execute("INSERT INTO consent_block VALUES (3, 'pat-3', NULL)")
    assert "consent_block" in await _predicate(db, CLIENT)


async def test_count_without_opt_outs_can_be_answered_from_the_index(db: asyncpg.Pool) -> None:
    """A province-wide client's ``Observation?_summary=count`` names no column outside ``resource_type_live``,
    so it can be an index-only scan (with the opt-out test it had to visit every row)."""
    async with db.acquire() as conn:
        await conn.copy_records_to_table(
            "resource", columns=["type", "id", "version", "last_updated", "deleted", "patient_id", "content"],
            records=[("Observation", f"o{i}", 1, clock.now(), False, f"p{i % 7}", b"{}") for i in range(300)])
        await conn.execute("VACUUM (ANALYZE) resource")
    async with db.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL enable_seqscan = off")
        assert "Index Only Scan using resource_type_live" in await _count_plan(conn), "no opt-out"
        await conn.execute("INSERT INTO consent_block VALUES (3, 'p1', NULL)")
        assert "Index Only Scan using resource_type_live" not in await _count_plan(conn), "an opt-out"


async def _count_plan(conn: asyncpg.Connection) -> str:
    access, args = await Guard(AccessControl(load_config(None)), None).filter(conn, CLIENT, "search", ("Observation",))
    query = parse("Observation", [("_summary", "count")])
    sql = Sql(access, args)
    where = sql.resource_where(query.types, query.tests, query.compartment)
    rows = await conn.fetch(f"EXPLAIN SELECT count(*) FROM resource r WHERE {where}", *sql.args)
    return "\n".join(r[0] for r in rows)
