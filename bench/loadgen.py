"""The load process: ``python -m bench.loadgen SPEC.json`` prints one JSON result on stdout.

It runs in its own process (never inside the server or the orchestrator) and drives a closed loop of
``concurrency`` virtual users over keep-alive HTTP/1.1 (aiohttp on uvloop), for each level of the sweep:
``warmup`` seconds are discarded, then ``duration`` seconds are measured.  It also reports the CPU used
in that window by itself, the server's processes and PostgreSQL's, so the reader sees how the machine's
cores were shared (load, app and database run on the same host here).
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from bench import data, wrk
from bench.server import cpu_seconds
from bench.workloads import WORKLOADS, Ctx, Recorder


def percentiles(values: list[int]) -> dict[str, float]:
    """p50/p95/p99/max in milliseconds (nearest-rank on the sorted sample)."""
    if not values:
        return {}
    ordered = sorted(values)

    def rank(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))] / 1e6

    return {"p50": rank(0.50), "p95": rank(0.95), "p99": rank(0.99), "max": ordered[-1] / 1e6,
            "mean": sum(ordered) / len(ordered) / 1e6}


def children(pid: int) -> list[int]:
    """The process ids whose parent is ``pid`` (PostgreSQL's postmaster: its backends and helpers)."""
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True, check=False)
    return [int(p) for p in out.stdout.split()]


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent not idle (all processes, /proc/stat): the difference to ours is
    other load on a shared machine, reported so a noisy run can be recognised."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def io_stall_seconds(path: Path = Path("/proc/pressure/io")) -> float | None:
    """Seconds in which at least one task of the machine waited for I/O: Linux pressure stall information
    (PSI, kernel >= 4.20, Documentation/accounting/psi.rst: the ``some`` line's ``total``, in microseconds).
    A level whose latency rose while its CPU columns stayed low shows here whether the processes were waiting
    on the disk (pages not in memory) rather than on each other.  None where PSI is absent."""
    try:
        some = path.read_text().split("\n", 1)[0]
    except OSError:
        return None
    return int(some.rsplit("total=", 1)[1]) / 1e6 if some.startswith("some ") and "total=" in some else None


class CpuMeter:
    """CPU seconds of the server's processes, PostgreSQL's (postmaster + backends) and this process."""

    def __init__(self, server_pids: list[int], postmaster: int | None) -> None:
        self.server_pids = server_pids
        self.postmaster = postmaster

    def _pg_pids(self) -> list[int]:
        return [self.postmaster, *children(self.postmaster)] if self.postmaster else []

    def snapshot(self) -> dict[str, float]:
        """Cumulative CPU seconds: server, postgres, client, and each server process."""
        me = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk, once it has exited
        client = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
        shot = {"server": cpu_seconds(self.server_pids), "postgres": cpu_seconds(self._pg_pids(), self.postmaster),
                "client": client, "machine": machine_busy_seconds()}
        stalled = io_stall_seconds()
        if stalled is not None:  # not CPU: its share is the part of the window with some task waiting on I/O
            shot["io_stall"] = stalled
        # Per server process: shows whether keep-alive connections spread evenly over the workers.
        shot.update({f"pid {pid}": cpu_seconds([pid]) for pid in self.server_pids})
        return shot


def use_wrk(spec: dict[str, Any]) -> bool:
    """wrk for single-request workloads (bench/wrk.py), unless the spec asks for the asyncio client or runs
    a fixed number of iterations (preloading data)."""
    return (spec.get("tool") != "aiohttp" and spec["workload"] in wrk.SUPPORTED and not spec.get("iterations")
            and wrk.available())


async def _wrk_session(spec: dict[str, Any], first: str) -> str | None:
    """For the screens: sign in once through the login form and check the session really opens the page
    (wrk counts a redirect to /login as a success, so it must not get one)."""
    if not spec.get("login"):
        return None
    async with aiohttp.ClientSession() as session:
        cookie = await sign_in(session, spec["base"], spec["login"])
        async with session.get(f"{spec['base']}/{first}", headers={"Cookie": cookie, "Accept": "text/html"},
                               allow_redirects=False) as resp:
            if resp.status != 200:
                raise RuntimeError(f"signed-in probe of /{first}: HTTP {resp.status}")
    return cookie


async def run_level_wrk(spec: dict[str, Any], concurrency: int, meter: CpuMeter) -> dict[str, Any]:
    items, method, path = wrk.prepare(spec)
    try:
        cookie = await _wrk_session(spec, items.read_text().split("\n", 1)[0])
        warmup = float(spec.get("warmup", 1.0))
        if warmup > 0:
            wrk.run(spec, concurrency, warmup, items, method, path, cookie)
        start = meter.snapshot()
        res = wrk.run(spec, concurrency, float(spec["duration"]), items, method, path, cookie)
        cpu = cpu_delta(start, meter.snapshot())
        first = items.read_text().split("\n", 1)[0]
    finally:
        items.unlink()
    params = spec.get("params", {})
    label = params.get("label") or {"POST": f"create {params.get('type', 'Patient')}",
                                    "CRUD": "crud"}.get(method, "get")
    samples: list[str] = []
    if res["errors"]:  # wrk counts failures; show what one request of the same kind answers
        headers = {"Authorization": f"Bearer {spec['token']}"} if spec.get("token") else {}
        async with aiohttp.ClientSession(headers=headers) as session:
            if method == "CRUD":  # the iteration's first request: its Patient
                method, path = "POST", "/fhir/Patient"
            url, body = (f"{spec['base']}{path}", first) if method == "POST" else (f"{spec['base']}/{first}", None)
            async with session.request(method, url, data=body,
                                       headers={"Content-Type": "application/fhir+json"}) as resp:
                samples.append(f"{resp.status} {method} {url}: {(await resp.read())[:200]!r}")
    duration, count = res["seconds"], res["requests"] - res["errors"]
    return {
        "concurrency": concurrency, "seconds": round(duration, 2), "requests": count, "errors": res["errors"],
        "req_per_s": round(count / duration, 1), "units_per_s": round(count / duration, 1),
        "latency_ms": {k: round(v, 3) for k, v in res["latency_ms"].items()},
        "by_label": {label: {"requests": count, **{k: round(v, 3) for k, v in res["latency_ms"].items()}}},
        "error_samples": samples, "cpu_seconds": cpu,
        "cpu_share": {k: round(v / duration, 2) for k, v in cpu.items()}, "tool": "wrk",
    }


async def sign_in(session: aiohttp.ClientSession, base: str, login: dict[str, str]) -> str:
    """Sign in through the web login form as a browser does (GET the form for its CSRF double-submit cookie
    and field, POST the form) and return the ``Cookie`` header for the session.  The cookies are carried by
    hand: in production mode the server marks them ``Secure`` (sent only over TLS), and the bench speaks
    plain HTTP on loopback."""
    async with session.get(f"{base}/login", headers={"Accept": "text/html"}) as resp:
        page = await resp.text()
        jar = {k: m.value for k, m in resp.cookies.items()}
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    if resp.status != 200 or found is None:
        raise RuntimeError(f"login form: HTTP {resp.status}")
    form = {"username": login["username"], "password": login["password"], "csrf_token": found.group(1)}
    cookie = "; ".join(f"{k}={v}" for k, v in jar.items())
    async with session.post(f"{base}/login", data=form, headers={"Cookie": cookie, "Accept": "text/html"},
                            allow_redirects=False) as resp:
        jar.update({k: m.value for k, m in resp.cookies.items()})
        if resp.status != 303:
            raise RuntimeError(f"login refused: HTTP {resp.status} {(await resp.text())[:300]}")
    return "; ".join(f"{k}={v}" for k, v in jar.items())


async def run_level(spec: dict[str, Any], concurrency: int, meter: CpuMeter) -> dict[str, Any]:
    if use_wrk(spec):
        return await run_level_wrk(spec, concurrency, meter)
    workload = WORKLOADS[spec["workload"]]
    warmup, duration = float(spec.get("warmup", 1.0)), float(spec["duration"])
    # With ``iterations`` the level runs until that many iterations are done (preloading data).
    budget = [int(spec["iterations"])] if spec.get("iterations") else None
    now = time.perf_counter()
    rec = Recorder(window_start=now + warmup, window_end=now + warmup + duration if budget is None else float("inf"))
    headers = {"Accept": "application/fhir+json"}
    if spec.get("token"):
        headers["Authorization"] = f"Bearer {spec['token']}"
    connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=60)
    timeout = aiohttp.ClientTimeout(total=120)
    cpu_start: dict[str, float] = {}
    cpu_end: dict[str, float] = {}

    async with aiohttp.ClientSession(connector=connector, headers=headers, timeout=timeout,
                                     cookie_jar=aiohttp.DummyCookieJar()) as session:
        if spec.get("login"):
            # Web screens: one clinician session per level, signed in before the clock starts.
            session.headers.update({"Cookie": await sign_in(session, spec["base"], spec["login"]),
                                    "Accept": "text/html"})
            now = time.perf_counter()
            rec.window_start, rec.window_end = now + warmup, now + warmup + duration

        async def user(n: int) -> None:
            rng = random.Random(hash((spec.get("seed", 1), concurrency, n)))
            ctx = Ctx(session, spec["base"], rec, rng, data.NameSource(rng), spec.get("params", {}))
            while time.perf_counter() < rec.window_end:
                if budget is not None:
                    if budget[0] <= 0:
                        return
                    budget[0] -= 1
                try:
                    await workload(ctx)
                except (TimeoutError, aiohttp.ClientError) as exc:
                    t = time.perf_counter()
                    rec.add("transport", t, t, False, repr(exc))

        await asyncio.gather(mark_cpu(rec, meter, cpu_start, cpu_end), *(user(i) for i in range(concurrency)))
    if budget is not None:
        cpu_end.update(meter.snapshot())
        duration = time.perf_counter() - rec.window_start
    return {**summarise(rec, concurrency, duration, cpu_delta(cpu_start, cpu_end)), "tool": "aiohttp"}


async def mark_cpu(rec: Recorder, meter: CpuMeter, start: dict[str, float], end: dict[str, float]) -> None:
    """Snapshot CPU counters at the window's start and end (not after the drain of in-flight requests)."""
    await asyncio.sleep(max(0.0, rec.window_start - time.perf_counter()))
    start.update(meter.snapshot())
    if rec.window_end != float("inf"):
        await asyncio.sleep(max(0.0, rec.window_end - time.perf_counter()))
        end.update(meter.snapshot())


def cpu_delta(start: dict[str, float], end: dict[str, float]) -> dict[str, float]:
    delta = {k: round(end[k] - start.get(k, 0.0), 2) for k in end}
    ours = sum(delta.get(k, 0.0) for k in ("server", "postgres", "client"))
    delta["other"] = round(max(0.0, delta.pop("machine", ours) - ours), 2)
    return delta


def summarise(rec: Recorder, concurrency: int, duration: float, cpu: dict[str, float]) -> dict[str, Any]:
    all_lat = [v for values in rec.latencies.values() for v in values]
    count = len(all_lat)
    return {
        "concurrency": concurrency, "seconds": round(duration, 2), "requests": count,
        "errors": sum(rec.errors.values()),
        "req_per_s": round(count / duration, 1), "units_per_s": round(rec.units / duration, 1),
        "latency_ms": {k: round(v, 3) for k, v in percentiles(all_lat).items()},
        "by_label": {label: {"requests": len(v), **{k: round(x, 3) for k, x in percentiles(v).items()}}
                     for label, v in sorted(rec.latencies.items())},
        "error_samples": rec.error_samples, "cpu_seconds": cpu,
        "cpu_share": {k: round(v / duration, 2) for k, v in cpu.items()},  # cores busy on average
    }


async def main(spec: dict[str, Any]) -> dict[str, Any]:
    meter = CpuMeter(spec.get("server_pids", []), spec.get("postmaster"))
    levels = [await run_level(spec, c, meter) for c in spec["levels"]]
    return {"workload": spec["workload"], "label": spec.get("label"), "levels": levels}


if __name__ == "__main__":
    import uvloop

    spec_in = orjson.loads(Path(sys.argv[1]).read_bytes())
    result = uvloop.run(main(spec_in))
    sys.stdout.buffer.write(orjson.dumps(result))
