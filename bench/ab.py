"""Does a change make audited reads cheaper?  An interleaved A/B of servers that differ in code or settings.

    .venv/bin/python -m bench.ab --tree /path/to/other/checkout [--rounds 12] [--seconds 3] [--concurrency 32]
    .venv/bin/python -m bench.ab --workers 2 --arm off:BENHAN_AUDIT_ENABLED=false \\
        --arm wait: --arm commit:BENHAN_AUDIT_READS=commit --arm other:PYTHONPATH=/path/to/other/checkout/src

Loads a small database once (as ``bench.profile`` does), starts one server per arm (uvicorn with ``--workers``
processes, one by default), and then, round after round, drives reads by id (``--workload crud``: the CRUD mix;
``create``: single creates) at each of them in turn for a few seconds from the separate load process (the order
rotates every round).  The virtual machines this runs on
change speed by a third within minutes; short bursts, interleaved, let each round compare the arms under the
same conditions.  Prints each burst (reads/s, the server's and PostgreSQL's CPU per read, PostgreSQL's split by
kind of process — the requests' backends, the audit's (``application_name`` ``benhan-audit``), the WAL writer,
autovacuum — and the read audit's events and WAL flushes per block written during it) and, per arm, the
medians over the rounds and the cost against the first arm (1 − its reads/s over the first arm's in the same
round: median and range).

Without ``--arm`` the arms are this checkout (A) and the other tree (B, ``PYTHONPATH=<tree>/src``), each with
the audit off and on, and each tree's audit cost is against its own unaudited arm; without ``--tree`` both
trees are this checkout: their difference is the noise to judge a change by.  An ``--arm NAME:KEY=VAL,…``
sets the server's environment (every arm runs in test mode, which allows ``BENHAN_AUDIT_ENABLED=false``);
``{url}`` in a value is the bench database's URL (e.g. ``DATABASE_URL={url}&commit_delay=100``).

All arms share the database's schema (the servers start with ``--no-migrate``, and ``/readyz`` wants the
newest migration: give another tree a copy of any newer migration file); a change of the migrations alone is
measured with ``bench.sql_costs``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
from pathlib import Path
from typing import Any

import asyncpg

from bench import pg
from bench.loadgen import children
from bench.run import ROOT, Bench, Mode
from bench.server import BenhanServer, ServerConfig, cpu_seconds

WHAT = {"get": "reads by id", "crud": "CRUD mix requests", "create": "creates"}
TEST_MODE = {"BENHAN_MODE": "test"}  # as bench.run's audit on/off phase: production refuses audit off
AUDIT_OFF = {"BENHAN_AUDIT_ENABLED": "false"}


def parse_arm(text: str) -> tuple[str, dict[str, str]]:
    """``NAME:KEY=VAL,KEY=VAL`` → (NAME, {KEY: VAL}); ``NAME:`` is the default settings."""
    name, sep, settings = text.partition(":")
    if not name or not sep:
        raise ValueError(f"an arm is NAME:KEY=VAL,… (got {text!r})")
    env = {}
    for item in filter(None, settings.split(",")):
        key, eq, value = item.partition("=")
        if not key or not eq:
            raise ValueError(f"arm {name}: {item!r} is not KEY=VAL")
        env[key] = value
    return name, env


def default_arms(tree: Path) -> list[tuple[str, dict[str, str], str]]:
    """(name, environment, baseline arm) of the four arms of a two-tree A/B."""
    arms = []
    for name, path in (("A", ROOT), ("B", tree)):
        src = {"PYTHONPATH": str(path / "src")}
        arms += [(f"{name} off", {**src, **AUDIT_OFF}, f"{name} off"), (f"{name} on", src, f"{name} off")]
    return arms


def rotation(names: list[str], round_: int) -> list[str]:
    """The arms in round ``round_``'s order: each round starts one arm later."""
    k = round_ % len(names)
    return names[k:] + names[:k]


#: PostgreSQL's processes by kind (their titles, postgres.c ``set_ps_display``; backends by ``application_name``)
PG_KINDS = ("requests", "audit", "walwriter", "autovacuum", "checkpointer", "other")


def _pg_kind(title: str, app: str | None) -> str:
    if app is not None:
        return "audit" if app == "benhan-audit" else "requests"
    for kind in ("walwriter", "autovacuum", "checkpointer"):
        if kind in title:
            return kind
    return "other"


async def _db_facts(url: str) -> tuple[int, int, int, dict[int, str]]:
    """(blocks, events) of the read audit written so far (migrations 0018, 0019), the WAL flushes so far (a
    block's commit waits for one unless another commit's flush covered it: ``pg_stat_wal.wal_sync``, from
    PostgreSQL 18 ``pg_stat_io``; each process reports it at most once a second, so approximate over a few
    seconds), and the client backends' ``application_name`` by process id."""
    conn = await asyncpg.connect(url)
    try:
        row = await conn.fetchrow("SELECT count(*), coalesce(sum(jsonb_array_length(events->'action')), 0)"
                                  " FROM audit_block")
        if conn.get_server_version() >= (18, 0):  # PostgreSQL 18 moved the WAL's I/O counts to pg_stat_io
            syncs = await conn.fetchval("SELECT sum(fsyncs) FROM pg_stat_io WHERE object = 'wal'")
        else:
            syncs = await conn.fetchval("SELECT wal_sync FROM pg_stat_wal")
        apps = {r["pid"]: r["application_name"] for r in await conn.fetch(
            "SELECT pid, application_name FROM pg_stat_activity WHERE backend_type = 'client backend'"
            " AND pid <> pg_backend_pid()")}
    finally:
        await conn.close()
    assert row is not None
    return int(row[0]), int(row[1]), int(syncs), apps


def _snapshot(url: str, postmaster: int | None) -> tuple[int, int, int, dict[str, float]]:
    """:func:`_db_facts`' counts and PostgreSQL's CPU seconds so far by kind (:data:`PG_KINDS`; an exited
    process's CPU, as the postmaster reaped it, is "other")."""
    blocks, events, syncs, apps = asyncio.run(_db_facts(url))
    kinds = dict.fromkeys(PG_KINDS, 0.0)
    if postmaster is not None:
        kinds["other"] += cpu_seconds([postmaster], reaped=postmaster)
        for pid in children(postmaster):
            try:
                title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            kinds[_pg_kind(title, apps.get(pid))] += cpu_seconds([pid])
    return blocks, events, syncs, kinds


def measure(bench: Bench, srv: BenhanServer, concurrency: int, seconds: float, workload: str = "get") -> dict[str, Any]:
    before = _snapshot(bench.url, bench.postmaster)
    params = bench.read_params() if workload == "get" else None
    res = bench.load(srv, workload, (concurrency,), seconds, params=params, warmup=0.5)
    after = _snapshot(bench.url, bench.postmaster)
    level = res["levels"][0]
    cpu, n = level["cpu_seconds"], level["requests"]
    if level["errors"] or not n:
        raise RuntimeError(f"{srv.config.env}: {level['errors']} errors: {level.get('error_samples')}")
    blocks, events, syncs = after[0] - before[0], after[1] - before[1], after[2] - before[2]
    # each of the server's processes, busiest first (a worker and any helper process it starts)
    per = sorted((1e6 * v / n for k, v in cpu.items() if k.startswith("pid ")), reverse=True)
    # PostgreSQL's CPU by kind over the whole burst (warm-up and drain too: read around the load process),
    # per request of its window: the shares, not the total, are the point
    kinds = {k: 1e6 * (after[3][k] - before[3][k]) / n for k in PG_KINDS}
    return {"rps": level["req_per_s"], "server_us": 1e6 * cpu["server"] / n, "pg_us": 1e6 * cpu["postgres"] / n,
            "processes": per, "events_per_block": events / blocks if blocks else 0.0,
            "flushes_per_block": syncs / blocks if blocks else 0.0, "pg_kinds": kinds}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", type=Path, default=ROOT, help="the other checkout (B); A is this one")
    parser.add_argument("--arm", action="append", default=[], metavar="NAME:KEY=VAL,…",
                        help="a server to compare (repeatable; the first is the baseline); default: A/B × audit")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes per server")
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workload", choices=["get", "crud", "create"], default="get",
                        help="reads by id (default), the CRUD mix, or single creates (bench/workloads.py)")
    args = parser.parse_args()
    if args.arm:
        parsed = [parse_arm(a) for a in args.arm]
        arms = [(name, env, parsed[0][0]) for name, env in parsed]
    else:
        arms = default_arms(args.tree.resolve())
    names = [a[0] for a in arms]
    if len(set(names)) != len(names):
        parser.error("arm names must differ")
    mode = Mode("ab", (args.concurrency,), (args.concurrency,), args.seconds, 0.5, 20, (), 0, (), 0, 0)
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    with pg.bench_database() as url, contextlib.ExitStack() as stack:
        bench = Bench(mode, url, pg.default_dir())
        with BenhanServer(ServerConfig("uvicorn", 1), url) as srv:
            bench.preload(srv)
        servers = {}
        for name, env, _base in arms:
            env = {**TEST_MODE, **{k: v.replace("{url}", url) for k, v in env.items()}}
            srv = BenhanServer(ServerConfig("uvicorn", args.workers, env=env), url)
            srv.log = srv.log.with_name(f"server-ab-{name.replace(' ', '-')}.log")
            servers[name] = stack.enter_context(srv)
        for r in range(args.rounds):
            for name in rotation(names, r):
                m = measure(bench, servers[name], args.concurrency, args.seconds, args.workload)
                runs[name].append(m)
                print(f"round {r + 1:2d} {name:>12s}: {m['rps']:7.0f}/s  server {m['server_us']:6.1f} µs  postgres "
                      f"{m['pg_us']:6.1f} µs  {m['events_per_block']:5.1f} events/block"
                      f" ({m['flushes_per_block']:.2f} WAL flushes)"
                      + (f"  (processes: {', '.join(f'{p:.1f}' for p in m['processes'])} µs)"
                         if len(m["processes"]) > 1 else "")
                      + "  [postgres by kind: " + ", ".join(f"{k} {v:.1f}" for k, v in m["pg_kinds"].items()) + "]",
                      flush=True)
    print(f"\nmedians of {args.rounds} rounds, {WHAT[args.workload]} @{args.concurrency}, {args.seconds:g}-s bursts, "
          f"uvicorn×{args.workers}")
    for name, env, base in arms:
        med = {k: statistics.median(m[k] for m in runs[name])
               for k in ("rps", "server_us", "pg_us", "events_per_block")}
        kinds = {k: statistics.median(m["pg_kinds"][k] for m in runs[name]) for k in PG_KINDS}
        line = (f"{name:>12s}: {med['rps']:6.0f}/s, server {med['server_us']:6.1f} µs, postgres "
                f"{med['pg_us']:6.1f} µs ({', '.join(f'{k} {v:.1f}' for k, v in kinds.items())}), "
                f"{med['events_per_block']:5.1f} events/block")
        if name != base:
            costs = [100 * (1 - m["rps"] / b["rps"]) for m, b in zip(runs[name], runs[base], strict=True)]
            line += (f" | cost against {base}: {statistics.median(costs):.1f} % "
                     f"({min(costs):.1f} … {max(costs):.1f})")
        print(line + f"   [{', '.join(f'{k}={v}' for k, v in env.items())}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
