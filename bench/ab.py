"""Does a change make audited reads cheaper?  An interleaved A/B of two source trees on one database.

    .venv/bin/python -m bench.ab --tree /path/to/other/checkout [--rounds 12] [--seconds 3] [--concurrency 32]

Loads a small database once (as ``bench.profile`` does), starts four servers of one uvicorn worker each —
this checkout (A) and the other tree (B, ``PYTHONPATH=<tree>/src``), each with the audit off and on — and then,
round after round, drives reads by id at each of them in turn for a few seconds from the separate load
process (the order rotates every round).  The virtual machines this runs on change speed by a third within
minutes; short bursts, interleaved, let each round compare the four under the same conditions.  Prints, per
tree and audit mode, the medians over the rounds of reads/s and the server's and PostgreSQL's CPU per read
(µs), and the audit's cost per round (1 − audited / unaudited reads/s of the same round) as median and range.
Without ``--tree`` both arms run this checkout: their difference is the noise to judge a change by.

Both trees must share the database's schema (the servers start with ``--no-migrate``, and ``/readyz`` wants
the newest migration: give the other tree a copy of any newer migration file); a change of the migrations
alone is measured with ``bench.sql_costs``.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
from pathlib import Path
from typing import Any

from bench import pg
from bench.run import ROOT, Bench, Mode
from bench.server import BenhanServer, ServerConfig

AUDIT_OFF = {"BENHAN_AUDIT_ENABLED": "false", "BENHAN_MODE": "test"}  # as bench.run's audit on/off phase
ARMS = [("A", False), ("A", True), ("B", False), ("B", True)]


def measure(bench: Bench, srv: BenhanServer, concurrency: int, seconds: float) -> dict[str, Any]:
    res = bench.load(srv, "get", (concurrency,), seconds, params=bench.read_params(), warmup=0.5)
    level = res["levels"][0]
    cpu, n = level["cpu_seconds"], level["requests"]
    if level["errors"] or not n:
        raise RuntimeError(f"{srv.config.env}: {level['errors']} errors: {level.get('error_samples')}")
    # each of the server's processes, busiest first (a worker and any helper process it starts)
    per = sorted((1e6 * v / n for k, v in cpu.items() if k.startswith("pid ")), reverse=True)
    return {"rps": level["req_per_s"], "server_us": 1e6 * cpu["server"] / n, "pg_us": 1e6 * cpu["postgres"] / n,
            "processes": per}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", type=Path, default=ROOT, help="the other checkout (B); A is this one")
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    trees = {"A": ROOT, "B": args.tree.resolve()}
    mode = Mode("ab", (args.concurrency,), (args.concurrency,), args.seconds, 0.5, 20, (), 0, (), 0, 0)
    runs: dict[tuple[str, bool], list[dict[str, Any]]] = {arm: [] for arm in ARMS}
    with pg.bench_database() as url, contextlib.ExitStack() as stack:
        bench = Bench(mode, url, pg.default_dir())
        with BenhanServer(ServerConfig("uvicorn", 1), url) as srv:
            bench.preload(srv)
        servers = {}
        for name, audit in ARMS:
            env = {"PYTHONPATH": str(trees[name] / "src"), **({} if audit else AUDIT_OFF)}
            srv = BenhanServer(ServerConfig("uvicorn", 1, env=env), url)
            srv.log = srv.log.with_name(f"server-ab-{name}-audit-{'on' if audit else 'off'}.log")
            servers[(name, audit)] = stack.enter_context(srv)
        for r in range(args.rounds):
            for arm in ARMS[r % 4:] + ARMS[:r % 4]:
                m = measure(bench, servers[arm], args.concurrency, args.seconds)
                runs[arm].append(m)
                print(f"round {r + 1:2d} {arm[0]} audit {'on ' if arm[1] else 'off'}: {m['rps']:7.0f}/s  server "
                      f"{m['server_us']:6.1f} µs  postgres {m['pg_us']:6.1f} µs"
                      + (f"  (processes: {', '.join(f'{p:.1f}' for p in m['processes'])} µs)"
                         if len(m["processes"]) > 1 else ""), flush=True)
    print(f"\nmedians of {args.rounds} rounds, reads by id @{args.concurrency}, {args.seconds:g}-s bursts")
    for name in trees:
        line = [f"{name} ({trees[name]}):"]
        for audit in (False, True):
            med = {k: statistics.median(m[k] for m in runs[(name, audit)])
                   for k in ("rps", "server_us", "pg_us")}
            line.append(f"{'on' if audit else 'off'} {med['rps']:.0f}/s, server {med['server_us']:.1f} µs, "
                        f"postgres {med['pg_us']:.1f} µs |")
        costs = [100 * (1 - on["rps"] / off["rps"]) for off, on in
                 zip(runs[(name, False)], runs[(name, True)], strict=True)]
        line.append(f"audit cost {statistics.median(costs):.1f} % ({min(costs):.1f}-{max(costs):.1f})")
        print(" ".join(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
