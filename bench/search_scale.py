"""Search at scale (issue 3): load ≥ 1 million resources fast, then time the hot searches against raw PostgreSQL.

    python -m bench.search_scale --resources 1000000 [--url URL] [--reindex] [--runs 200]

Loading: ``--templates`` synthetic patients (``benhan.synth``, full histories) are generated, stamped and
index-extracted once; the rest of the population are *clones* of them — every patient-owned id gets a
per-clone suffix (in the stored JSON and in the index rows), Patients get unique CCCD/BHYT/MA_BN numbers
and are re-extracted. Rows go in by ``COPY`` with the secondary indexes dropped and rebuilt afterwards.
So names, codes and dates repeat across clones (realistic enough for plans and timings), ids do not.

Timing: each search runs through benhan's search path (``parse`` → ``storage.pg.search`` →
``build_searchset``, no HTTP) and, in the same run, as the *same SQL* sent directly with asyncpg
("raw PostgreSQL"): the ratio is benhan's own overhead. p50/p95 over ``--runs`` random patients.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import orjson

from benhan import migrate
from benhan.fhir.search.bundle import build_searchset
from benhan.fhir.search.compartment import patient_compartment
from benhan.fhir.search.extract import extract
from benhan.fhir.search.parse import parse, parse_query_string
from benhan.fhir.search.systems import BHYT, CCCD, MA_BN
from benhan.fhir.storage.content import unpack
from benhan.fhir.storage.pg.everything import everything
from benhan.fhir.storage.pg.index import INDEX_TABLES, TableRows, copy_index, table_rows
from benhan.fhir.storage.pg.search import search
from benhan.fhir.storage.prepare import stamp

# Generated ids: 20 base-62 characters (kernel/ids.py; UUIDs before 2026-11-26), as a JSON value or after
# "Type/" in a reference.
_ID = r"(?:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9A-Za-z]{20})"
UUID = re.compile(rb'(?<=["/])' + _ID.encode() + rb'(?=")')
UUID_S = re.compile(f"^{_ID}$")
RESOURCE_COLS = ["rid", "type", "id", "version", "last_updated", "deleted", "patient_id", "content"]


# -- loading --------------------------------------------------------------------------------------------
class Template:
    """One generated patient: stored bytes, parsed JSON (Patients only) and index rows per resource."""

    def __init__(self, resources: list[dict[str, Any]], when: datetime) -> None:
        self.rows: list[tuple[str, str, str | None, bytes, dict[str, Any] | None, TableRows]] = []
        for res in resources:
            content = stamp(res, res["resourceType"], res["id"], 1, when)
            stored = orjson.loads(content)
            keep = stored if res["resourceType"] == "Patient" else None
            self.rows.append((res["resourceType"], res["id"], patient_compartment(stored), content, keep,
                              table_rows([(0, extract(res["resourceType"], stored))])))


def _suffix(value: Any, sfx: str) -> Any:
    return value + sfx if isinstance(value, str) and UUID_S.match(value) else value


def _clone_patient(stored: dict[str, Any], clone: int, sfx: str) -> dict[str, Any]:
    pat = orjson.loads(UUID.sub(b"\\g<0>" + sfx.encode(), orjson.dumps(stored)))
    for ident in pat.get("identifier", ()):
        if ident.get("system") in (CCCD, BHYT, MA_BN) and isinstance(ident.get("value"), str):
            ident["value"] = f"{ident['value'][:-7]}{clone:07d}"
    return dict(pat)


def clone_rows(t: Template, clone: int, first_rid: int, when: datetime) -> tuple[list[tuple[Any, ...]], TableRows]:
    sfx = "" if clone == 0 else f"-{clone:x}"
    resources: list[tuple[Any, ...]] = []
    index: TableRows = {table: [] for table in INDEX_TABLES}
    for i, (type_, id_, patient, content, stored, rows) in enumerate(t.rows):
        rid = first_rid + i
        if stored is not None and clone:
            pat = _clone_patient(stored, clone, sfx)
            content, rows = orjson.dumps(pat), table_rows([(0, extract("Patient", pat))])
        elif clone:
            content = UUID.sub(b"\\g<0>" + sfx.encode(), content)
        resources.append((rid, type_, _suffix(id_, sfx), 1, when, False, _suffix(patient, sfx), content))
        for table, got in rows.items():
            index[table].extend((rid, *(_suffix(v, sfx) for v in row[1:])) for row in got)
    return resources, index


async def _secondary_indexes(conn: asyncpg.Connection) -> list[str]:
    rows = await conn.fetch(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = ANY($1::text[]) "
        "AND indexname NOT IN (SELECT conname FROM pg_constraint)", ["resource", *INDEX_TABLES])
    for r in rows:
        await conn.execute(f"DROP INDEX {r['indexname']}")
    return [r["indexdef"] for r in rows]


async def load(url: str, target: int, templates: int, seed: int) -> int:
    from benhan.demo.province import build_province
    from benhan.kernel import clock
    from benhan.synth.generator import generate
    from benhan.synth.load import load_resources

    province = build_province()
    await load_resources(url, province.resources)
    when = clock.now()
    started = time.perf_counter()
    temps = [Template(g, when) for g in generate(seed, templates, province.world, when)]
    per_round = sum(len(t.rows) for t in temps)
    seconds = time.perf_counter() - started
    print(f"  {templates} template patients, {per_round:,} resources, prepared in {seconds:.1f} s")
    conn = await asyncpg.connect(url, server_settings={"synchronous_commit": "off"})
    try:
        defs = await _secondary_indexes(conn)
        rid = int(await conn.fetchval("SELECT coalesce(max(rid), 0) FROM resource")) + 1
        done, clone, started = 0, 0, time.perf_counter()
        while done < target:
            for t in temps:
                resources, index = clone_rows(t, clone, rid, when)
                async with conn.transaction():
                    await conn.copy_records_to_table("resource", records=resources, columns=RESOURCE_COLS)
                    await copy_index(conn, index)
                rid += len(resources)
                done += len(resources)
            clone += 1
            rate = done / (time.perf_counter() - started)
            print(f"\r  loaded {done:,} resources ({rate:,.0f}/s)", end="", flush=True)
        await conn.execute("SELECT setval(pg_get_serial_sequence('resource', 'rid'), $1)", rid)
        print(f"\n  COPY done in {time.perf_counter() - started:.1f} s; building {len(defs)} indexes …")
        started = time.perf_counter()
        await conn.execute("SET maintenance_work_mem = '512MB'")
        for ddl in defs:
            await conn.execute(ddl)
        await conn.execute("VACUUM ANALYZE")
        print(f"  indexes + VACUUM ANALYZE in {time.perf_counter() - started:.1f} s")
        return done
    finally:
        await conn.close()


# -- measuring ------------------------------------------------------------------------------------------
async def storage(conn: asyncpg.Connection) -> None:
    n = int(await conn.fetchval("SELECT count(*) FROM resource"))
    rows = await conn.fetch(
        "SELECT relname, pg_total_relation_size(oid) AS total FROM pg_class WHERE relname = ANY($1::text[])",
        ["resource", *INDEX_TABLES])
    sizes = {r["relname"]: int(r["total"]) for r in rows}
    index = sum(v for k, v in sizes.items() if k != "resource")
    print(f"\nstorage, {n:,} resources (bytes per resource, tables + their indexes):")
    for name, size in sorted(sizes.items(), key=lambda kv: -kv[1]):
        print(f"  {name:14} {size / n:8.0f}")
    print(f"  search index {index / n:8.0f}   resource table {sizes['resource'] / n:6.0f}   "
          f"all {(index + sizes['resource']) / n:6.0f}")


class Recording:
    """Wraps a connection: records every statement benhan sends, so the raw run can send the same SQL."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.sent: list[tuple[str, tuple[Any, ...]]] = []

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        self.sent.append((sql, args))
        return await self.conn.fetch(sql, *args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        self.sent.append((sql, args))
        return await self.conn.fetchval(sql, *args)

    async def execute(self, sql: str, *args: Any) -> str:
        # the SET LOCAL of kernel.db.custom_plans: the raw run gets the same plans
        self.sent.append((sql, args))
        return await self.conn.execute(sql, *args)

    def transaction(self) -> Any:
        return self.conn.transaction()


def pct(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))]


async def timed(fn: Callable[[], Awaitable[Any]], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        await fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


async def compare(conn: asyncpg.Connection, label: str, rtype: str, queries: list[str], limit: float) -> None:
    """benhan search (parse + SQL + bundle) vs the same SQL sent raw, one query string per run."""
    ours, raw = [], []
    for qs in queries:
        rec = Recording(conn)

        async def benhan(qs: str = qs, rec: Recording = rec) -> None:
            rec.sent.clear()
            query = parse(rtype, parse_query_string(qs))
            build_searchset("http://bench/fhir", query, await search(rec, query))  # type: ignore[arg-type]

        ours += await timed(benhan, 1)
        sent = list(rec.sent)

        async def direct(sent: list[tuple[str, tuple[Any, ...]]] = sent) -> None:
            async with conn.transaction():  # as benhan sent them (custom_plans: SET LOCAL)
                for sql, args in sent:
                    await conn.fetch(sql, *args)

        raw += await timed(direct, 1)
    _report(label, ours, raw, limit)


def _report(label: str, ours: list[float], raw: list[float], limit: float) -> None:
    p50, p95, r50, r95 = pct(ours, .5), pct(ours, .95), pct(raw, .5), pct(raw, .95)
    ok = "ok " if p95 <= limit else "SLOW"
    print(f"  {ok} {label:58} p50 {p50:7.2f} p95 {p95:7.2f} ms | raw p50 {r50:7.2f} p95 {r95:7.2f} | "
          f"ratio p95 {p95 / max(r95, 1e-6):4.2f} (limit {limit:g} ms)")


async def measure(url: str, runs: int) -> None:
    conn = await asyncpg.connect(url, server_settings={"jit": "off"})
    try:
        await storage(conn)
        rng = random.Random(11)
        pats = [r["id"] for r in await conn.fetch("SELECT id FROM resource WHERE type = 'Patient' ORDER BY random() "
                                                   "LIMIT $1", runs)]
        idents = [orjson.loads(unpack(r["content"]))["identifier"][0] for r in await conn.fetch(
            "SELECT content FROM resource WHERE type = 'Patient' AND id = ANY($1::text[])", pats)]
        families = [orjson.loads(unpack(r["content"]))["name"][0]["family"] for r in await conn.fetch(
            "SELECT content FROM resource WHERE type = 'Patient' AND id = ANY($1::text[])", pats[:50])]
        print(f"\nsearches ({runs} runs each, first page of 20):")
        await compare(conn, "Observation?patient=X&category=vital-signs&_sort=-date", "Observation",
                      [f"patient=Patient/{p}&category=vital-signs&_sort=-date" for p in pats], 20)
        await compare(conn, "Encounter?patient=X", "Encounter", [f"patient={p}" for p in pats], 20)
        await compare(conn, "MedicationRequest?patient=X&status=active", "MedicationRequest",
                      [f"patient={p}&status=active" for p in pats], 20)
        await compare(conn, "Condition?patient=X", "Condition", [f"patient={p}" for p in pats], 20)
        await compare(conn, "Patient?name=<family>", "Patient", [f"name={rng.choice(families)}" for _ in pats], 30)
        await compare(conn, "Patient?identifier=<system>|<CCCD>", "Patient",
                      [f"identifier={i['system']}|{i['value']}" for i in idents], 30)
        await compare(conn, "Observation?subject:Patient.identifier=<system>|<CCCD>", "Observation",
                      [f"subject:Patient.identifier={i['system']}|{i['value']}" for i in idents], 50)
        n_obs = int(await conn.fetchval("SELECT count(*) FROM resource WHERE type = 'Observation' AND NOT deleted"))
        await compare(conn, f"Observation?_summary=count ({n_obs:,} Observations)", "Observation",
                      ["_summary=count"] * 10, 500)
        await _everything(conn, min(runs, 50))
    finally:
        await conn.close()


async def _everything(conn: asyncpg.Connection, runs: int) -> None:
    big = await conn.fetch("SELECT patient_id, count(*) AS n FROM resource WHERE patient_id IS NOT NULL "
                           "GROUP BY patient_id ORDER BY abs(count(*) - 1000) LIMIT $1", runs)
    ours, raw = [], []
    for row in big:
        rec = Recording(conn)

        async def benhan(pid: str = row["patient_id"], rec: Recording = rec) -> None:
            rec.sent.clear()
            result = await everything(rec, pid, count=1000)  # type: ignore[arg-type]
            build_searchset("http://bench/fhir", parse("Patient", []), result)

        ours += await timed(benhan, 1)
        sent = list(rec.sent)

        async def direct(sent: list[tuple[str, tuple[Any, ...]]] = sent) -> None:
            async with conn.transaction():  # as benhan sent them (custom_plans: SET LOCAL)
                for sql, args in sent:
                    await conn.fetch(sql, *args)

        raw += await timed(direct, 1)
    sizes = [r["n"] for r in big]
    label = f"Patient/$everything (_count=1000; {min(sizes)}–{max(sizes)} resources)"
    p50 = pct(ours, .5)
    _report(label, ours, raw, 30)
    print(f"       $everything p50 {p50:.2f} ms (limit: p50 ≤ 30 ms)")


async def _reindex(url: str) -> None:
    from benhan.fhir.storage.pg.reindex import reindex

    pool = await asyncpg.create_pool(url, min_size=2, max_size=6)
    try:
        started, last = time.perf_counter(), [0.0]

        def progress(done: int, total: int) -> None:
            if time.perf_counter() - last[0] > 5:
                last[0] = time.perf_counter()
                print(f"\r  reindex {done:,}/{total:,} ({done / (last[0] - started):,.0f}/s)", end="", flush=True)

        n = await reindex(pool, progress)
        seconds = time.perf_counter() - started
        print(f"\n  reindex of {n:,} resources: {seconds:.1f} s, {n / seconds:,.0f} resources/s (incl. index builds)")
    finally:
        await pool.close()


async def _fresh(url: str) -> None:
    from benhan.kernel.db import database_name, ensure_database, with_database

    admin = await asyncpg.connect(with_database(url, "postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database_name(url)}" WITH (FORCE)')
    finally:
        await admin.close()
    await ensure_database(url)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--resources", type=int, default=1_000_000)
    ap.add_argument("--templates", type=int, default=40)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--url", help="PostgreSQL URL of a scratch database (dropped and recreated)")
    ap.add_argument("--keep", action="store_true", help="measure an already loaded database")
    ap.add_argument("--reindex", action="store_true", help="also time `benhan reindex` on the loaded data")
    args = ap.parse_args()
    from benhan.kernel.db import start_embedded, with_database

    embedded = None
    url = args.url
    if url is None:
        embedded = start_embedded(Path("var/search-scale-pg"), db_name="postgres")
        url = with_database(embedded.url, "search_scale")
    print(f"search scale bench, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    if not args.keep:
        asyncio.run(_fresh(url))
        migrate.upgrade(url)
        asyncio.run(load(url, args.resources, args.templates, seed=5))
    if args.reindex:
        asyncio.run(_reindex(url))
    asyncio.run(measure(url, args.runs))
    if embedded is not None:
        embedded.stop()


if __name__ == "__main__":
    main()
