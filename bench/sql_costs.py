"""PostgreSQL's own cost of the statements a read pays for: ``python -m bench.sql_costs [--calls 4000]``.

The suite measures whole requests; this asks what one statement costs PostgreSQL, apart from the server.  It
loads a small dataset (20 patient bundles through the API, as ``bench.profile`` does), then times each
statement on one connection, alone on the machine: wall time per call and the backend's CPU per call
(``/proc/<pid>/stat``, user + system; the clock tick is 10 ms, so each figure rests on thousands of calls).
Three rounds, the lowest of each kept (the machine's noise only ever adds).

- ``select 1``: the protocol's floor (Bind/Execute/Sync of a prepared statement, one round trip);
- ``read, bare`` / ``read with access facts``: the current row by (type, id), without (``rows.fetch_current``)
  and with the care relations, Consent blocks and origin facility the policy decides on
  (``access_sql.fetch_current_with_facts``);
- ``audit append, 1 / 4 records``: ``audit.append`` as the read audit's flusher calls it, each
  call its own transaction, committed with a WAL flush (``synchronous_commit = on``, the default);
- the same with ``synchronous_commit = off`` on the session: what the WAL flush itself costs;
- ``audit append, 10 records``: a batch as the read audit's flusher meets at 32 clients, through
  ``benhan_audit_append_rows`` (PL/pgSQL: locks the head, hashes, parses, inserts, updates the head: ten rows)
  and as the flusher stores it (``audit.append_block``: one block, hashed by the caller against the head it
  knows; migrations 0018-0020).

``--writes N`` then times the CRUD mix's writes as the server makes them: N iterations of its nine resources
(bench/workloads.py) created, updated and deleted through ``PgRepository`` with the access policy and the
audit on, as an integration client, on one pooled connection (benhan's own pool settings); the backend's CPU
per create, update and delete from ``/proc/<pid>/schedstat`` (nanoseconds: the clock tick of ``stat``
made two runs of the same code differ by ±9 % over a thousand writes).  Compare two trees by running it
from each in turn, a few times.

``--audit-trail N`` then asks what the size of the audit trail does to an append: it fills ``audit_log`` with N
rows of a chain of their own (a full run's 5 M resources leave ~1.6 GB of audit trail), takes a checkpoint,
and times appends of 10 records of random patients (a batch at 32 clients): right after the checkpoint (each
index page touched for the first time since is written whole to the WAL), again, and without the
``audit_log_patient`` index ("who viewed my record"), whose insert lands on a random page.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import asyncpg

from bench import pg
from bench.run import Bench, Mode
from bench.server import ServerConfig, cpu_seconds
from benhan.fhir.storage.access_types import AuditRecord
from benhan.fhir.storage.pg import access_sql, audit, rows
from benhan.kernel import clock


def records(n: int) -> list[AuditRecord]:
    """Read records of the size a read's is (a ~600-byte AuditEvent)."""
    now = clock.now()
    return [AuditRecord(parts=b'{"resourceType":"AuditEvent","text":"' + b"a" * 600 + b'"}', recorded=now,
                        action="read", outcome="success", user_name="bench", user_id="u1", client_id="c1",
                        facility_id="f1", department_id=None, patient_id=f"p{i}", break_glass=False,
                        entity=(f"Observation/o{i}",)) for i in range(n)]


def patient_records(n: int) -> list[AuditRecord]:
    """Read records of random patients, each with a compressed-size content (~160 bytes)."""
    now = clock.now()
    return [AuditRecord(parts=b"\x28\xb5\x2f\xfd" + bytes(156), recorded=now, action="read", outcome="success",
                        user_name="bench", client_id="c1", patient_id=str(uuid.uuid4()),
                        entity=(f"Observation/{uuid.uuid4()}",)) for _ in range(n)]


async def _timed(pid: int, call: Callable[[int], Awaitable[Any]], calls: int) -> tuple[float, float]:
    """(wall µs, PostgreSQL CPU µs) per call of ``call(0 .. calls-1)`` on the backend ``pid``."""
    cpu, started = cpu_seconds([pid]), time.perf_counter()
    for k in range(calls):
        await call(k)
    return 1e6 * (time.perf_counter() - started) / calls, 1e6 * (cpu_seconds([pid]) - cpu) / calls


async def _append_cost(conn: asyncpg.Connection, pid: int, calls: int) -> tuple[float, float]:
    """(wall µs, PostgreSQL CPU µs) per append of 10 records, lowest of three rounds."""
    best = (float("inf"), float("inf"))
    for _round in range(3):
        batches = [patient_records(10) for _ in range(calls)]

        def append(k: int, b: list[list[AuditRecord]] = batches) -> Awaitable[None]:
            return audit.append(conn, b[k], 5)

        wall, used = await _timed(pid, append, calls)
        best = (min(best[0], wall), min(best[1], used))
    return best


async def audit_trail(url: str, extra: int, calls: int) -> list[tuple[str, float, float]]:
    conn = await asyncpg.connect(url)
    pid = await conn.fetchval("SELECT pg_backend_pid()")
    out = [("append of 10 records, audit trail as loaded", *await _append_cost(conn, pid, calls))]
    await conn.execute(
        "INSERT INTO audit_log (chain, seq, hash, recorded, action, outcome, user_name, client_id, patient_id,"
        " entity, content) SELECT 31, g, '\\x00'::bytea, now() - g * interval '1 ms', 'read', 'success', 'bench',"
        " 'c1', md5(g::text)::uuid::text, ARRAY['Observation/' || md5((g + 1)::text)::uuid::text],"
        " decode(repeat('ab', 160), 'hex') FROM generate_series(1, $1::bigint) g", extra)
    await conn.execute("CHECKPOINT")
    size = await conn.fetchval("SELECT pg_size_pretty(pg_total_relation_size('audit_log'))")
    out.append((f"the same, {extra:,} rows more ({size}), after a checkpoint", *await _append_cost(conn, pid, calls)))
    out.append(("the same, again", *await _append_cost(conn, pid, calls)))
    await conn.execute("DROP INDEX audit_log_patient")  # a scratch database, dropped at exit
    out.append(("the same, without audit_log_patient", *await _append_cost(conn, pid, calls)))
    await conn.close()
    return out


async def measure(url: str, ids: Sequence[tuple[str, str]], calls: int) -> list[tuple[str, float, float]]:
    """benhan's own functions (the statements it sends, prepared and cached as in the server), each call timed."""
    conn = await asyncpg.connect(url)
    pid = await conn.fetchval("SELECT pg_backend_pid()")
    one, four = records(1), records(4)
    tens = [patient_records(10) for _ in range(64)]
    heads: dict[int, tuple[int, bytes]] = {}
    cases: list[tuple[str, Callable[[int], Awaitable[Any]], str]] = [
        ("select 1", lambda k: conn.fetchval("SELECT 1"), "on"),
        ("read, bare", lambda k: rows.fetch_current(conn, *ids[k % len(ids)]), "on"),
        ("read with access facts", lambda k: access_sql.fetch_current_with_facts(conn, *ids[k % len(ids)]), "on"),
        ("audit append, 1 record", lambda k: audit.append(conn, one, 5), "on"),
        ("audit append, 4 records", lambda k: audit.append(conn, four, 5), "on"),
        ("audit append, 1 record, synchronous_commit off", lambda k: audit.append(conn, one, 5), "off"),
        ("audit append, 4 records, synchronous_commit off", lambda k: audit.append(conn, four, 5), "off"),
        ("audit append, 10 records, benhan_audit_append_rows", lambda k: audit.append(conn, tens[k % 64], 5), "on"),
        ("audit append, 10 records, the flusher's block",
         lambda k: audit.append_block(conn, audit.BLOCK_CHAINS[0], tens[k % 64], heads), "on"),
    ]
    best: dict[str, tuple[float, float]] = {}
    try:
        for _round in range(3):
            for name, call, sync in cases:
                await conn.execute(f"SET synchronous_commit = {sync}")
                for k in range(200):  # warm: statement cache, plan, buffers
                    await call(k)
                wall, used = await _timed(pid, call, calls)
                old = best.get(name, (float("inf"), float("inf")))
                best[name] = (min(old[0], wall), min(old[1], used))
    finally:
        await conn.close()
    return [(name, *best[name]) for name, *_ in cases]


def _schedstat_seconds(pid: int) -> float:
    """The CPU time ``pid`` has run, in seconds, at nanosecond resolution (``/proc/<pid>/schedstat``, field 1)."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9


async def writes(url: str, iterations: int, by_type: bool = False) -> list[tuple[str, float, float]]:
    """(name, wall µs, PostgreSQL CPU µs) per create, update and delete of the CRUD mix's resources through
    the repository, after 20 warm-up iterations (statement cache, generic plans); ``by_type``: also per
    operation and resource type (a change to some types' writes compares with the others' in the same run,
    which the VM's drift between runs does not touch)."""
    import random

    from bench import data
    from bench.workloads import _change, _crud_resources
    from benhan.access import AccessControl
    from benhan.fhir.storage.pg.repository import PgRepository
    from benhan.kernel.context import RequestContext
    from benhan.kernel.db import create_pool

    client = RequestContext(client_id="bench", username="bench", scopes=frozenset({"system/*.cruds"}))
    pool = await create_pool(url, 1, 1)
    log = audit.AuditLog(pool)
    repo = PgRepository(pool, access=AccessControl(), audit=log)
    async with pool.acquire() as conn:
        pid = await conn.fetchval("SELECT pg_backend_pid()")
    rng = random.Random(8)
    names = data.NameSource(rng)
    totals: dict[str, list[float]] = {op: [0.0, 0.0, 0] for op in ("create", "update", "delete")}

    async def timed(op: str, kind: str, call: Awaitable[Any], counted: bool) -> Any:
        cpu, started = _schedstat_seconds(pid), time.perf_counter()
        result = await call
        if counted:
            wall, used = time.perf_counter() - started, _schedstat_seconds(pid) - cpu
            for key in (op, f"{op} {kind}") if by_type else (op,):
                total = totals.setdefault(key, [0.0, 0.0, 0])
                total[0] += wall
                total[1] += used
                total[2] += 1
        return result

    try:
        for it in range(20 + iterations):
            counted = it >= 20
            made: dict[str, dict[str, Any]] = {}
            for kind, make in _crud_resources(rng, names, made):
                made[kind] = (await timed("create", kind, repo.create(client, make()), counted)).resource.json()
            for kind, res in made.items():
                _change(res)
                await timed("update", kind, repo.update(client, kind, res["id"], res), counted)
            for kind, res in reversed(list(made.items())):
                await timed("delete", kind, repo.delete(client, kind, res["id"]), counted)
    finally:
        await log.close()
        await pool.close()
    return [(f"{op} through PgRepository" + ("" if " " in op else " (CRUD-mix resources)"), 1e6 * wall / n,
             1e6 * cpu / n) for op, (wall, cpu, n) in totals.items()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=4000)
    parser.add_argument("--writes", type=int, default=0, metavar="N",
                        help="then N iterations of the CRUD mix's creates, updates and deletes through the repository")
    parser.add_argument("--by-type", action="store_true", help="with --writes: also per resource type")
    parser.add_argument("--audit-trail", type=int, default=0, metavar="ROWS",
                        help="then fill audit_log with ROWS rows and time appends against it")
    args = parser.parse_args()
    mode = Mode("sql", (8,), (8,), 5.0, 1.0, 20, (), 0, (), 0, 0)
    with pg.bench_database() as url:
        bench = Bench(mode, url, pg.default_dir())
        with bench.server(ServerConfig("uvicorn", 1)) as srv:
            bench.preload(srv)
        ids = [(t, i) for t, _, i in (x.partition("/") for x in bench.sample["ids"])]
        rows = asyncio.run(measure(url, ids, args.calls))
        if args.writes:
            rows += asyncio.run(writes(url, args.writes, args.by_type))
        if args.audit_trail:
            rows += asyncio.run(audit_trail(url, args.audit_trail, min(args.calls, 3000)))
    print(f"\n{'statement':50s} {'wall µs':>8s} {'PostgreSQL CPU µs':>18s}")
    for name, wall, cpu in rows:
        print(f"{name:50s} {wall:8.1f} {cpu:18.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
