"""The machine's limit: the same work done by raw PostgreSQL through the same driver (asyncpg), in the same
run, at the same concurrency levels.  ``python -m bench.rawpg SPEC.json`` prints one JSON result.

- ``insert``: single-row autocommit INSERT of the same stored JSON into a copy of the ``resource`` table
  (same columns, constraints and indexes, no search index) — the floor for "create".
- ``select``: primary-key select of the stored bytes of the same ids the read workload uses — "read by id".
- ``indexed``: the patient-compartment query on the ``resource_patient_date`` index — "patient-scoped search".
- ``crud``: the 36 statements of one CRUD iteration (insert, select, supersede into history, delete mark).
- ``copy``: COPY of 100-row batches (one bundle's worth), and one large single-stream COPY — "bundle import".
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import orjson

from bench import data
from bench.loadgen import CpuMeter, cpu_delta, mark_cpu, summarise
from bench.workloads import Recorder

SETUP = """
DROP TABLE IF EXISTS bench_raw, bench_raw_history, bench_raw_copy;
CREATE TABLE bench_raw (LIKE resource INCLUDING ALL);
CREATE TABLE bench_raw_history (LIKE resource_history INCLUDING ALL);
CREATE TABLE bench_raw_copy (LIKE resource INCLUDING ALL);
"""
SUPERSEDE = """
WITH moved AS (
    INSERT INTO bench_raw_history (rid, version, type, id, last_updated, deleted, patient_id, content)
    SELECT rid, version, type, id, last_updated, deleted, patient_id, content FROM bench_raw WHERE rid = $1
)
UPDATE bench_raw SET version = version + 1, last_updated = $2, deleted = $3, content = $4 WHERE rid = $1
"""
INSERT = ("INSERT INTO bench_raw (type, id, version, last_updated, deleted, patient_id, content) "
          "VALUES ($1, $2, 1, $3, false, $4, $5) RETURNING rid")
COPY_COLS = ["type", "id", "version", "last_updated", "deleted", "patient_id", "content"]


def stored_rows(rng: random.Random, count: int) -> list[tuple[str, str, bytes, str | None]]:
    """(type, id, stored JSON, patient id) of realistic bundle resources, stamped as the server stores them."""
    names = data.NameSource(rng)
    out: list[tuple[str, str, bytes, str | None]] = []
    while len(out) < count:
        pid = str(uuid.uuid4())
        for entry in data.patient_bundle(rng, names)["entry"]:
            res = dict(entry["resource"])
            res["id"] = pid if res["resourceType"] == "Patient" else str(uuid.uuid4())
            res["meta"] = {"versionId": "1", "lastUpdated": "2025-06-01T08:00:00.000Z"}
            out.append((res["resourceType"], res["id"], orjson.dumps(res), pid))
    return out[:count]


Conn = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy
Op = Callable[[Conn, random.Random, Recorder], Awaitable[None]]


def make_ops(spec: dict[str, Any], rows: list[tuple[str, str, bytes, str | None]]) -> dict[str, Op]:
    ids = [tuple(i.split("/", 1)) for i in spec["ids"]]
    patients = spec["patients"] or ["none"]
    now = datetime.now(UTC)

    async def timed(rec: Recorder, label: str, call: Awaitable[Any], units: int = 1) -> Any:
        t0 = time.perf_counter()
        result = await call
        rec.add(label, t0, time.perf_counter(), True, units=units)
        return result

    async def insert(conn: Conn, rng: random.Random, rec: Recorder) -> None:
        kind, _id, content, pid = rng.choice(rows)
        await timed(rec, "insert", conn.fetchval(INSERT, kind, str(uuid.uuid4()), now, pid, content))

    async def select(conn: Conn, rng: random.Random, rec: Recorder) -> None:
        kind, id_ = rng.choice(ids)
        await timed(rec, "select", conn.fetchval(
            "SELECT content FROM resource WHERE type = $1 AND id = $2", kind, id_))

    async def indexed(conn: Conn, rng: random.Random, rec: Recorder) -> None:
        await timed(rec, "indexed", conn.fetch(
            "SELECT content FROM resource WHERE patient_id = $1 AND type = 'Observation' LIMIT 20",
            rng.choice(patients)))

    async def crud(conn: Conn, rng: random.Random, rec: Recorder) -> None:
        made = []
        for kind, _id, content, pid in rng.sample(rows, 9):
            rid = await timed(rec, "create", conn.fetchval(INSERT, kind, str(uuid.uuid4()), now, pid, content))
            made.append((rid, content))
        for rid, _ in made:
            await timed(rec, "read", conn.fetchval("SELECT content FROM bench_raw WHERE rid = $1", rid))
        for rid, content in made:
            await timed(rec, "update", conn.execute(SUPERSEDE, rid, now, False, content))
        for rid, _ in reversed(made):
            await timed(rec, "delete", conn.execute(SUPERSEDE, rid, now, True, b""))

    async def copy(conn: Conn, rng: random.Random, rec: Recorder) -> None:
        start = rng.randrange(max(1, len(rows) - 100))
        batch = [(k, str(uuid.uuid4()), 1, now, False, p, c) for k, _i, c, p in rows[start:start + 100]]
        await timed(rec, "copy100", conn.copy_records_to_table("bench_raw_copy", records=batch, columns=COPY_COLS),
                    units=len(batch))

    return {"insert": insert, "select": select, "indexed": indexed, "crud": crud, "copy": copy}


async def run_level(url: str, op: Op, concurrency: int, spec: dict[str, Any], meter: CpuMeter) -> dict[str, Any]:
    warmup, duration = float(spec.get("warmup", 1.0)), float(spec["duration"])
    pool = await asyncpg.create_pool(url, min_size=concurrency, max_size=concurrency,
                                     server_settings={"application_name": "bench-raw", "jit": "off"})
    assert pool is not None
    now = time.perf_counter()
    rec = Recorder(window_start=now + warmup, window_end=now + warmup + duration)
    cpu_start: dict[str, float] = {}
    cpu_end: dict[str, float] = {}

    async def user(n: int) -> None:
        rng = random.Random(n)
        async with pool.acquire() as conn:
            while time.perf_counter() < rec.window_end:
                await op(conn, rng, rec)

    await asyncio.gather(mark_cpu(rec, meter, cpu_start, cpu_end), *(user(i) for i in range(concurrency)))
    await pool.close()
    return summarise(rec, concurrency, duration, cpu_delta(cpu_start, cpu_end))


async def bulk_copy(url: str, rows: list[tuple[str, str, bytes, str | None]]) -> dict[str, Any]:
    """One large COPY stream (the bulk-import limit), rows/s and MB/s."""
    conn = await asyncpg.connect(url)
    now = datetime.now(UTC)
    records = [(k, str(uuid.uuid4()), 1, now, False, p, c) for k, _i, c, p in rows]
    try:
        t0 = time.perf_counter()
        await conn.copy_records_to_table("bench_raw_copy", records=records, columns=COPY_COLS)
        elapsed = time.perf_counter() - t0
    finally:
        await conn.close()
    size = sum(len(r[6]) for r in records)
    return {"rows": len(records), "seconds": round(elapsed, 3), "rows_per_s": round(len(records) / elapsed),
            "mb_per_s": round(size / elapsed / 1e6, 1), "mean_json_bytes": round(size / len(records))}


async def main(spec: dict[str, Any]) -> dict[str, Any]:
    url = spec["database_url"]
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(SETUP)
    finally:
        await conn.close()
    rows = stored_rows(random.Random(7), int(spec.get("rows", 5000)))
    ops = make_ops(spec, rows)
    meter = CpuMeter([], spec.get("postmaster"))
    out: dict[str, Any] = {}
    for name in spec["ops"]:
        out[name] = {"levels": [await run_level(url, ops[name], c, spec, meter) for c in spec["levels"]]}
    out["bulk_copy"] = await bulk_copy(url, rows)
    return out


if __name__ == "__main__":
    import uvloop

    spec_in = orjson.loads(Path(sys.argv[1]).read_bytes())
    sys.stdout.buffer.write(orjson.dumps(uvloop.run(main(spec_in))))
