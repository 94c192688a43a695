"""The hot queries of issue 3 use indexes (EXPLAIN on a seeded, analysed database), plus reindex and $everything."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson
import pytest
from tests.integration.search_oracle_data import condition, encounter, medication_request, observation, patient

from benhan.fhir.search.compartment import patient_compartment
from benhan.fhir.search.extract import extract
from benhan.fhir.search.parse import parse, parse_query_string
from benhan.fhir.search.sortdate import sort_date
from benhan.fhir.search.systems import CCCD
from benhan.fhir.storage.content import unpack
from benhan.fhir.storage.pg.everything import everything
from benhan.fhir.storage.pg.reindex import reindex
from benhan.fhir.storage.pg.search_sql import Sql

pytestmark = pytest.mark.db
NPAT = 150
HOT = [
    ("Observation", "patient=Patient/pat7&category=vital-signs&_sort=-date"),
    ("Encounter", "patient=pat7"),
    ("MedicationRequest", "patient=pat7&status=active"),
    ("Condition", "patient=pat7"),
    ("Patient", "name=nguyen"),
    ("Patient", f"identifier={CCCD}|IDENT"),
    ("Observation", f"subject:Patient.identifier={CCCD}|IDENT"),
    # the hierarchy modifiers are index ranges / lists too (search.html#modifiers, search/hierarchy.py)
    ("Condition", "code:below=http://hl7.org/fhir/sid/icd-10|E11"),
    ("Condition", "code:below=http://hl7.org/fhir/sid/icd-10|E10-E14"),
    ("Condition", "code:above=http://hl7.org/fhir/sid/icd-10|E11.65"),
]
# uri :below / :above: a range or a list on sp_uri (param, value). The seeded sp_uri holds only ~100 rows,
# where a sequential scan is the planner's right choice, so these check that the index *can* answer them.
URI_HIERARCHY = [
    ("Patient", "_profile:below=http://fhir.hl7.org.vn/core/"),
    ("Patient", "_profile:above=http://fhir.hl7.org.vn/core/StructureDefinition/vn-core-patient/v2/_history/1"),
]


def _owned(r: dict[str, Any], p: int) -> dict[str, Any]:
    r["subject"] = {"reference": f"Patient/pat{p}"}
    return r


@pytest.fixture
async def seeded(db: asyncpg.Pool) -> asyncpg.Pool:
    rng = random.Random(3)
    now = datetime.now(UTC)
    resources: list[dict[str, Any]] = []
    for p in range(NPAT):
        resources.append(patient(rng, p))
        resources += [_owned(encounter(rng, p * 4 + i, 1), p) for i in range(4)]
        resources += [_owned(observation(rng, p * 40 + i, 1, 1), p) for i in range(40)]
        resources += [_owned(condition(rng, p * 3 + i, 1), p) for i in range(3)]
        resources += [_owned(medication_request(rng, p * 5 + i, 1, 1), p) for i in range(5)]
    # as the bulk loader writes them (with their sort date: reindex then has no row to rewrite)
    records = [(r["resourceType"], r["id"], 1, now, False, patient_compartment(r), orjson.dumps(r),
                sort_date(r["resourceType"], extract(r["resourceType"], r))) for r in resources]
    async with db.acquire() as conn:
        await conn.copy_records_to_table(
            "resource", records=records,
            columns=["type", "id", "version", "last_updated", "deleted", "patient_id", "content", "sort_date"])
    progress: list[tuple[int, int]] = []
    assert await reindex(db, lambda done, total: progress.append((done, total))) == len(resources)
    assert progress[-1] == (len(resources), len(resources))
    async with db.acquire() as conn:
        await conn.execute("ANALYZE")
    return db


def _scans(plan: dict[str, Any]) -> list[tuple[str, str]]:
    out = [(plan["Node Type"], plan.get("Relation Name", ""))]
    for child in plan.get("Plans", ()):
        out += _scans(child)
    return out


async def _plan(conn: asyncpg.Connection, rtype: str, qs: str) -> list[tuple[str, str]]:
    query = parse(rtype, parse_query_string(qs))
    sql = Sql(None, None)
    where = sql.resource_where(query.types, query.tests)
    raw = await conn.fetchval(
        f"EXPLAIN (FORMAT JSON) SELECT r.rid FROM resource r WHERE {where} ORDER BY r.rid LIMIT 21", *sql.args)
    return _scans(orjson.loads(raw)[0]["Plan"])


async def test_hot_queries_use_indexes(seeded: asyncpg.Pool) -> None:
    async with seeded.acquire() as conn:
        stored = await conn.fetchval("SELECT content FROM resource WHERE type='Patient' AND id='pat7'")
        ident = orjson.loads(unpack(stored))
        for rtype, qs in HOT:
            scans = await _plan(conn, rtype, qs.replace("IDENT", ident["identifier"][0]["value"]))
            seq = [rel for node, rel in scans if node == "Seq Scan"]
            assert not seq, f"{rtype}?{qs}: sequential scan on {seq}"
            assert any("Index" in node for node, _ in scans), f"{rtype}?{qs}: no index used: {scans}"


async def test_uri_hierarchy_modifiers_can_use_the_uri_index(seeded: asyncpg.Pool) -> None:
    async with seeded.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL enable_seqscan = off")
        for rtype, qs in URI_HIERARCHY:
            scans = await _plan(conn, rtype, qs)
            uri_scans = [node for node, rel in scans if rel == "sp_uri"]
            assert uri_scans, f"{rtype}?{qs}: {scans}"
            assert all("Index" in node or "Bitmap" in node for node in uri_scans), f"{rtype}?{qs}: {scans}"


def _index_names(plan: dict[str, Any]) -> set[str]:
    return {plan.get("Index Name", ""), *(n for child in plan.get("Plans", ()) for n in _index_names(child))} - {""}


async def test_date_upper_bound_prefixes_use_the_high_index(seeded: asyncpg.Pool) -> None:
    """Migration 0009: ``gt``, ``ge`` and ``eb`` test the end of the range; (param, high) answers them."""
    async with seeded.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL enable_seqscan = off")
        for qs in ("date=gt2024-06-01", "date=ge2024-06-01", "date=eb2024-06-01"):
            query = parse("Observation", parse_query_string(qs))
            sql = Sql(None, None)
            where = sql.resource_where(query.types, query.tests)
            raw = await conn.fetchval(f"EXPLAIN (FORMAT JSON) SELECT r.rid FROM resource r WHERE {where}", *sql.args)
            assert "sp_date_high" in _index_names(orjson.loads(raw)[0]["Plan"]), qs


async def test_name_search_reads_the_index_rows_then_the_resources_by_key(seeded: asyncpg.Pool) -> None:
    """A string search fetches the matching rids first and the resources by primary key, never hashing every
    Patient on a misestimated prefix range (25-70 ms at 5 M resources; search_sql._param_test)."""
    async with seeded.acquire() as conn:
        await conn.execute("VACUUM sp_string")  # an index-only scan needs the visibility map (autovacuum's job)
        for qs in ("name=nguyen", "name=la", "family:exact=Trần"):
            query = parse("Patient", parse_query_string(qs))
            sql = Sql(None, None)
            where = sql.resource_where(query.types, query.tests)
            raw = await conn.fetchval(f"EXPLAIN (FORMAT JSON) SELECT r.rid FROM resource r WHERE {where} "
                                      f"ORDER BY r.rid LIMIT 21", *sql.args)
            plan = orjson.loads(raw)[0]["Plan"]
            names, joins = _index_names(plan), [n for n, _ in _scans(plan) if "Join" in n or "Loop" in n]
            assert "sp_string_people" in names, (qs, names)  # migration 0010: the rids from the index alone
            assert "resource_pkey" in names, (qs, names)
            assert "resource_type_live" not in names, (qs, names)
            assert not joins, f"{qs}: the index rows and the resources are joined ({joins}), not looked up by key"


async def test_token_text_reads_the_token_rows_alone(seeded: asyncpg.Pool) -> None:
    """Migration 0012: ``:text`` is answered from ``sp_token`` alone (displays on the coding rows, other texts
    on text-only rows). Reading the old string rows too (a UNION) made the planner hash every match before the
    first page: 100-300 ms instead of 3 ms for ``code:text=heart`` at 500 k resources."""
    async with seeded.acquire() as conn:
        for qs in ("code:text=chi so", "combo-code:text=Chỉ", "code:text=khong co"):
            scans = await _plan(conn, "Observation", qs)
            tables = {rel for _node, rel in scans if rel.startswith("sp_")}
            assert tables == {"sp_token"}, (qs, scans)
            assert not [node for node, rel in scans if node == "Seq Scan"], (qs, scans)
            assert "HashAggregate" not in {node for node, _rel in scans}, (qs, scans)


async def test_everything_returns_the_compartment_and_pages(seeded: asyncpg.Pool) -> None:
    async with seeded.acquire() as conn:
        page = await everything(conn, "pat7", None, None, None, None, 30, 0)
        assert page.matches[0][:2] == ("Patient", "pat7")
        assert len(page.matches) == 30
        assert page.next_cursor == "30"
        rest = await everything(conn, "pat7", None, None, None, None, 1000, 30)
        assert len(page.matches) + len(rest.matches) == 1 + 4 + 40 + 3 + 5
        only = await everything(conn, "pat7", None, None, None, ["Condition"], 100, 0)
        assert {m[0] for m in only.matches} == {"Condition"}
        assert len(only.matches) == 3


async def test_planner_knows_which_values_go_with_which_parameter(db: asyncpg.Pool) -> None:
    """Migration 0008: a family name frequent among Patient.name rows but rare among all strings is
    estimated near its real count (the plan then hashes the matches instead of a row-by-row loop)."""
    rng = random.Random(8)
    name, other = 11, 22
    rows = [(i, name, "nguyen " + rng.choice("abcdefgh")) for i in range(2000)]
    rows += [(i, name, f"{rng.choice(['tran', 'le', 'pham', 'vo'])} {i}") for i in range(2000, 3000)]
    rows += [(i, other, f"{i:06d} {rng.random()}") for i in range(3000, 60_000)]
    async with db.acquire() as conn:
        await conn.copy_records_to_table("sp_string", records=rows, columns=["rid", "param", "value"])
        await conn.execute("ANALYZE sp_string")
        plan = orjson.loads(await conn.fetchval(
            "EXPLAIN (FORMAT JSON) SELECT rid FROM sp_string WHERE param = $1 AND value >= $2 AND value < $3",
            name, "nguyen", "nguyen~"))
    estimate = plan[0]["Plan"]["Plan Rows"]
    assert 700 <= estimate <= 6000, estimate  # actual 2,000; about 100 without the extended statistics


async def test_reindex_keeps_statistics_and_table_settings(seeded: asyncpg.Pool) -> None:
    """`benhan reindex` (run by the fixture) swaps in new index tables: they keep migration 0008's extended
    statistics (names and targets) and the autovacuum settings of 0004 (analyse) and 0011 (vacuum)."""
    async with seeded.acquire() as conn:
        stats = {r["stxname"]: r["stxstattarget"] for r in await conn.fetch(
            "SELECT stxname, stxstattarget FROM pg_statistic_ext WHERE stxname LIKE 'sp_%'")}
        options = await conn.fetchval("SELECT reloptions FROM pg_class WHERE oid = 'sp_token'::regclass")
    assert set(stats) == {"sp_string_param_value", "sp_token_param_code", "sp_token_param_text"}
    assert stats["sp_string_param_value"] == 100  # migration 0016 (1,000 in 0008: decoded at every planning)
    assert stats["sp_token_param_text"] == 1000  # migration 0012
    assert "autovacuum_analyze_scale_factor=0.01" in options
    assert "autovacuum_vacuum_insert_scale_factor=0.01" in options
    assert "autovacuum_vacuum_scale_factor=0.05" in options


async def test_tables_are_vacuumed_after_one_percent_new_rows(db: asyncpg.Pool) -> None:
    """Migration 0011: index-only scans (names, counts) need the visibility map that only VACUUM sets, so
    the resource and index tables are vacuumed after 1 % new rows, not PostgreSQL's default 20 %."""
    async with db.acquire() as conn:
        rows = {r["relname"]: r["reloptions"] or [] for r in await conn.fetch(
            "SELECT relname, reloptions FROM pg_class WHERE relname = ANY($1::text[]) AND relkind = 'r'",
            ["resource", "sp_string", "sp_token", "sp_date", "sp_reference", "sp_quantity"])}
    assert len(rows) == 6
    for table, options in rows.items():
        assert "autovacuum_vacuum_insert_scale_factor=0.01" in options, table
        assert "autovacuum_vacuum_insert_threshold=1000" in options, table
