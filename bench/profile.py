"""Where does benhan spend its time?  ``python -m bench.profile --workload read [--seconds 10]``

Starts a fresh database and one uvicorn worker (one process, so the profile is the whole server), loads
a few patients, drives the workload from the separate load process, and samples the worker with py-spy
(``uv tool run --from py-spy``; nothing is added to the project).  Prints the functions with the most
inclusive and self time, and writes the collapsed stacks (for flame graphs) to ``var/bench/``.  With
``NATIVE=1`` the samples include C frames (``py-spy --native``, which stops the process for each sample): the
CRUD profile's 20 % in libc ``write`` — socket writes to the client and to PostgreSQL — came from there.
``BLOCKING=1`` stops the process for each sample without C frames: whole Python stacks (``--nonblocking``
reads them while the process runs and cuts many short), so the inclusive shares add up.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import orjson

from bench import pg
from bench.run import ROOT, SEARCHES, Bench, Mode
from bench.server import BenhanServer, ServerConfig

UV = ROOT / ".venv-uv" / "bin" / "uv"
_LINE = re.compile(r":\d+\)$")


def py_spy(pid: int, seconds: int, out: Path) -> None:
    mode = ["--native"] if os.environ.get("NATIVE") else [] if os.environ.get("BLOCKING") else ["--nonblocking"]
    cmd = [str(UV), "tool", "run", "--from", "py-spy", "py-spy", "record", "-p", str(pid), "-d", str(seconds),
           "-r", "200", "-f", "raw", "-o", str(out), *mode]
    subprocess.run(cmd, check=True, capture_output=True)


def summarise(collapsed: Path, top: int) -> str:
    inclusive: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        count = int(count_text)
        frames = [_LINE.sub(")", f) for f in stack.split(";")]
        total += count
        for frame in set(frames):
            inclusive[frame] += count
        if frames:
            self_time[frames[-1]] += count
    lines = [f"samples: {total}", "", "inclusive %  function"]
    lines += [f"{100 * n / total:6.1f}  {f}" for f, n in inclusive.most_common(top)]
    lines += ["", "self %  function"]
    lines += [f"{100 * n / total:6.1f}  {f}" for f, n in self_time.most_common(top)]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workload", default="read", choices=["read", "create", "bundle", "crud", "search", "name"])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--audit", choices=["on", "off"], default="on",
                        help="off: reads and searches unaudited (test mode, as the suite's audit on/off runs)")
    args = parser.parse_args()
    mode = Mode("profile", (args.concurrency,), (args.concurrency,), args.seconds + 4, 1.0, 20, (), 0, (), 0, 0)
    out = ROOT / "var" / "bench" / f"profile-{args.workload}-audit-{args.audit}.collapsed"
    env = {"BENHAN_AUDIT_ENABLED": "false", "BENHAN_MODE": "test"} if args.audit == "off" else {}
    with pg.bench_database() as url:
        bench = Bench(mode, url, pg.default_dir())
        with BenhanServer(ServerConfig("uvicorn", 1, env=env), url) as srv:
            bench.preload(srv)
            workload = {"read": "get", "search": "get", "name": "get"}.get(args.workload, args.workload)
            params = bench.read_params()
            if args.workload == "search":  # the search of the audit on/off comparison: a patient's Encounters
                params = bench.search_params(*SEARCHES[1][:2])
            elif args.workload == "name":  # the suite's "Patient by name"
                params = bench.search_params(*next(s for s in SEARCHES if "{family}" in s[1])[:2])
            spec = {"base": srv.url, "workload": workload, "levels": [args.concurrency],
                    "duration": args.seconds + 2, "warmup": 1.0, "params": params,
                    "server_pids": srv.pids(), "postmaster": bench.postmaster, "token": bench.token(srv)}
            with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
                f.write(orjson.dumps(spec))
            env = {**os.environ, "PYTHONPATH": str(ROOT)}
            load = subprocess.Popen([sys.executable, "-m", "bench.loadgen", f.name], stdout=subprocess.PIPE,
                                    cwd=ROOT, env=env)
            time.sleep(1.5)
            py_spy(srv.pids()[0], args.seconds, out)
            result = orjson.loads(load.communicate()[0])
            Path(f.name).unlink()
    level = result["levels"][0]
    print(f"{args.workload} @{args.concurrency}, audit {args.audit}: {level['req_per_s']} req/s, "
          f"latency {level['latency_ms']} (while sampled by py-spy)")
    print(summarise(out, args.top))
    print(f"\ncollapsed stacks: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
