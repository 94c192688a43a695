"""``resource.sort_date`` (migration 0014, search/sortdate.py): every write path keeps it equal to the sort key
the index rows give, ``_sort=-date`` reads it, and a patient's first page stops after one page."""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson
import pytest

from benhan.fhir.search.parse import parse, parse_query_string
from benhan.fhir.search.sortdate import pids_of
from benhan.fhir.storage.pg.bulk import write_batch
from benhan.fhir.storage.pg.repository import PgRepository
from benhan.fhir.storage.pg.search import search
from benhan.fhir.storage.pg.sortdates import sync_sql
from benhan.kernel.context import RequestContext
from benhan.kernel.ids import new_id

pytestmark = pytest.mark.db
SYSTEM = RequestContext.system("test")
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"


def _obs(pid: str, effective: dict[str, Any], category: str = "vital-signs") -> dict[str, Any]:
    return {"resourceType": "Observation", "status": "final",
            "category": [{"coding": [{"system": CATEGORY, "code": category}]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
            "subject": {"reference": f"Patient/{pid}"}, **effective}


# Precisions, zones, periods (open-ended too), timings with several events, and none at all.
EFFECTIVE: list[dict[str, Any]] = [
    {"effectiveDateTime": "2025-03-01T08:00:00+07:00"},
    {"effectiveDateTime": "2025-03-01"},  # the whole day: ends after the 08:00 reading
    {"effectiveDateTime": "2024"},
    {"effectivePeriod": {"start": "2025-02-27T10:00:00Z", "end": "2025-02-28T10:00:00Z"}},
    {"effectivePeriod": {"start": "2023-01-01T00:00:00Z"}},  # still going: latest of all
    {"effectiveInstant": "2025-03-02T01:02:03.456Z"},
    {"effectiveTiming": {"event": ["2021-05-01T08:00:00Z", "2025-03-02T09:00:00Z"]}},
    {},
]


async def _expected_order(conn: asyncpg.Connection, pid: str, category: str | None = None) -> list[str]:
    """The order of ``_sort=-date`` computed from the index rows, as before the column existed."""
    where = ("AND EXISTS (SELECT 1 FROM sp_token t WHERE t.rid = r.rid AND t.code = $3)" if category else "")
    rows = await conn.fetch(
        "SELECT r.id FROM resource r WHERE r.type = 'Observation' AND r.patient_id = $1 AND NOT r.deleted "
        f"{where} ORDER BY (SELECT max(x.high) FROM sp_date x WHERE x.rid = r.rid AND x.param = ANY($2::int4[])) "
        "DESC NULLS LAST, r.rid", pid, sorted(pids_of("Observation")), *([category] if category else []))
    return [r["id"] for r in rows]


async def _searched(conn: asyncpg.Connection, qs: str) -> list[str]:
    found = await search(conn, parse("Observation", parse_query_string(qs)))
    return [m[1] for m in found.matches]


async def _mismatches(conn: asyncpg.Connection) -> list[str]:
    """Current resources whose column differs from ``max(high)`` of their type's ``date`` rows."""
    pairs = {t: sorted(pids_of(t)) for t in ("Observation", "Encounter", "Patient")}
    rows = await conn.fetch(
        "SELECT r.type, r.id FROM resource r JOIN unnest($1::text[], $2::text[]) AS p(type, pids) ON p.type = r.type "
        "WHERE NOT r.deleted AND r.sort_date IS DISTINCT FROM (SELECT max(x.high) FROM sp_date x "
        "WHERE x.rid = r.rid AND x.param = ANY(p.pids::int4[]))",
        list(pairs), ["{" + ",".join(map(str, v)) + "}" for v in pairs.values()])
    return [f"{r['type']}/{r['id']}" for r in rows]


async def test_every_write_path_keeps_the_sort_date(db: asyncpg.Pool, repo: PgRepository) -> None:
    pid = (await repo.create(SYSTEM, {"resourceType": "Patient", "gender": "female"})).resource.id
    made = [(await repo.create(SYSTEM, _obs(pid, e))).resource.id for e in EFFECTIVE]  # single creates
    # a transaction Bundle's POSTs (create_many: insert_new of many)
    await repo.create_many(SYSTEM, [(_obs(pid, e, "laboratory"), new_id()) for e in EFFECTIVE[:4]],
                           [f"entry {i}" for i in range(4)])
    # the bulk loader (COPY)
    async with db.acquire() as conn, conn.transaction():
        await write_batch(conn, [{**_obs(pid, e), "id": f"bulk{i}"} for i, e in enumerate(EFFECTIVE)])
    # an Encounter has a `date` too; a Patient has none (NULL)
    await repo.create(SYSTEM, {"resourceType": "Encounter", "status": "finished",
                               "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
                               "subject": {"reference": f"Patient/{pid}"},
                               "period": {"start": "2025-01-01T08:00:00Z", "end": "2025-01-01T09:00:00Z"}})
    # an update moves a reading to the top; another loses its date; a deletion leaves the list
    await repo.update(SYSTEM, "Observation", made[2], {**_obs(pid, {"effectiveDateTime": "2030-01-01"}), "id": made[2]})
    await repo.update(SYSTEM, "Observation", made[0], {**_obs(pid, {}), "id": made[0]})
    await repo.delete(SYSTEM, "Observation", made[5])
    async with db.acquire() as conn:
        assert await _mismatches(conn) == []
        assert await conn.fetchval("SELECT sort_date IS NULL FROM resource WHERE type = 'Patient'")
        assert await conn.fetchval("SELECT sort_date FROM resource WHERE type = 'Observation' AND id = $1",
                                   made[5]) is None  # the deletion marker has no key
        expected = await _expected_order(conn, pid)
        assert expected[:3] == [made[4], "bulk4", made[2]]  # the open-ended periods (by rid), the moved reading
        assert len(expected) == len(EFFECTIVE) * 2 + 4 - 1
        assert await _searched(conn, f"patient={pid}&_sort=-date&_count=100") == expected
        vitals = await _expected_order(conn, pid, "vital-signs")
        assert await _searched(conn, f"patient={pid}&category=vital-signs&_sort=-date&_count=100") == vitals
        # keyset paging over the column: pages of 3 give the same order, nothing doubled or skipped
        paged: list[str] = []
        query = f"patient={pid}&category=vital-signs&_sort=-date&_count=3"
        while True:
            found = await search(conn, parse("Observation", parse_query_string(query)))
            paged += [m[1] for m in found.matches]
            if not found.next_cursor:
                break
            query = f"patient={pid}&category=vital-signs&_sort=-date&_count=3&_cursor={found.next_cursor}"
        assert paged == vitals


async def test_migration_and_reindex_fill_the_column_from_the_index_rows(db: asyncpg.Pool, repo: PgRepository) -> None:
    pid = (await repo.create(SYSTEM, {"resourceType": "Patient", "gender": "male"})).resource.id
    for e in EFFECTIVE:
        await repo.create(SYSTEM, _obs(pid, e))
    async with db.acquire() as conn:
        before = await conn.fetch("SELECT rid, sort_date FROM resource ORDER BY rid")
        await conn.execute("UPDATE resource SET sort_date = NULL")  # rows written before migration 0014
        assert await _mismatches(conn) != []
        await conn.execute(sync_sql())
        assert await conn.fetch("SELECT rid, sort_date FROM resource ORDER BY rid") == before
        assert await _mismatches(conn) == []


async def test_a_patients_first_page_stops_after_one_page(db: asyncpg.Pool, repo: PgRepository) -> None:
    """A long record (600 vital signs among 800 Observations): the first page of newest vital signs probes
    about a page of rows, not all of them (at 5 M resources the old plan probed ~950 per search)."""
    pid = (await repo.create(SYSTEM, {"resourceType": "Patient", "gender": "female"})).resource.id
    others = [f"p{i}" for i in range(40)]
    batch = [{**_obs(p, {"effectiveDateTime": f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}T08:{i % 60:02d}:00Z"},
                     "vital-signs" if i % 4 else "laboratory"), "id": f"o-{p}-{i}"}
             for p in [pid, *others] for i in range(800 if p == pid else 20)]
    async with db.acquire() as conn:
        async with conn.transaction():
            await write_batch(conn, batch)
        await conn.execute("ANALYZE")
        captured: list[tuple[str, tuple[Any, ...]]] = []

        class Capture:
            def __init__(self, inner: asyncpg.Connection) -> None:
                self._inner = inner

            def __getattr__(self, name: str) -> Any:
                return getattr(self._inner, name)

            async def fetch(self, sql: str, *args: Any) -> Any:
                captured.append((sql, args))
                return await self._inner.fetch(sql, *args)

        query = parse("Observation", parse_query_string(f"patient={pid}&category=vital-signs&_sort=-date"))
        found = await search(Capture(conn), query)  # type: ignore[arg-type]
        assert len(found.matches) == 20
        assert [m[1] for m in found.matches] == (await _expected_order(conn, pid, "vital-signs"))[:20]
        sql, args = next((s, a) for s, a in captured if "ORDER BY" in s)
        plan = orjson.loads(await conn.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", *args))[0]["Plan"]

    def probes(node: dict[str, Any]) -> int:
        here = node["Actual Loops"] if node.get("Relation Name") in ("sp_token", "sp_date") else 0
        return here + sum(probes(child) for child in node.get("Plans", ()))

    assert "sort_date" in sql
    assert probes(plan) < 100, orjson.dumps(plan, option=orjson.OPT_INDENT_2).decode()
