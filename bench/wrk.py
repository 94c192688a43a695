"""Single-request workloads driven by wrk (Debian package ``wrk``), the load tool issue 8 names first.

Why: the aiohttp load process spends ~0.3 ms of CPU per request building and timing it in Python; at
2,000-3,000 req/s that is most of a core taken from the two that benhan and PostgreSQL share.  wrk is C
(one epoll thread here) and costs a few µs per request, so the figures measure benhan, not the client.
Workloads whose next request depends on the previous response (the CRUD mix, bundles that read ids back)
stay on the asyncio client; ``get`` (read by id, searches, screens) and ``create`` run here when wrk is
installed.  ``make bench`` installs it; without it the suite falls back to aiohttp and says so.

Method (same as the asyncio client): a closed loop of ``concurrency`` keep-alive connections; a warm-up
run is discarded, then the measured run; latency percentiles are wrk's (microsecond histogram, from the
request's first byte written to the response's last byte read).  Request targets are generated up front
from the same templates and value lists with a seeded RNG, and wrk picks one at random per request.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import orjson

from bench import data

SUPPORTED = ("get", "create")

LUA = r"""
local lines = {}
for line in io.lines("%(items)s") do lines[#lines + 1] = line end
local method, path = "%(method)s", "%(path)s"
local headers = {["Accept"] = "%(accept)s"%(auth)s}
if method == "POST" then headers["Content-Type"] = "application/fhir+json" end
math.randomseed(%(seed)d)
request = function()
  local item = lines[math.random(#lines)]
  if method == "POST" then return wrk.format("POST", path, headers, item) end
  return wrk.format("GET", "/" .. item, headers)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK %%d %%d %%d %%d %%d %%d %%d %%.0f %%.0f %%.0f %%.0f %%.0f\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max, latency.mean))
end
"""


def available() -> bool:
    return shutil.which("wrk") is not None


def _items(spec: dict[str, Any], rng: random.Random, count: int = 20000) -> tuple[str, str, list[bytes]]:
    """(method, path, lines): request targets for ``get``, request bodies for ``create``."""
    if spec["workload"] == "create":
        names = data.NameSource(rng)
        return "POST", "/fhir/Patient", [orjson.dumps(data.patient(rng, names)) for _ in range(min(count, 5000))]
    params = spec["params"]
    values: dict[str, list[str]] = params["values"]
    paths = {params["template"].format(**{k: rng.choice(v) for k, v in values.items()}) for _ in range(count)}
    return "GET", "", [p.encode() for p in sorted(paths)]


def run(
    spec: dict[str, Any], concurrency: int, seconds: float, items_file: Path, method: str, path: str,
    cookie: str | None = None,
) -> dict[str, Any]:
    """``cookie``: a signed-in web session (the screens), sent instead of a Bearer token."""
    auth = f', ["Authorization"] = "Bearer {spec["token"]}"' if spec.get("token") else ""
    if cookie:
        auth += f', ["Cookie"] = "{cookie}"'
    accept = "text/html" if cookie else "application/fhir+json"
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(LUA % {"items": items_file, "method": method, "path": path, "auth": auth, "accept": accept,
                            "seed": 1 + concurrency})
    try:
        cmd = ["wrk", "-t", "1", "-c", str(concurrency), "-d", f"{max(1, round(seconds))}s", "--timeout", "120s",
               "-s", script.name, spec["base"]]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=seconds + 180).stdout
    finally:
        Path(script.name).unlink()
    fields = next(line for line in out.splitlines() if line.startswith("WRK ")).split()[1:]
    n, micros, connect, read, write, status, timeout = (int(x) for x in fields[:7])
    p50, p95, p99, worst, mean = (float(x) / 1000 for x in fields[7:])
    return {"requests": n, "seconds": micros / 1e6, "errors": connect + read + write + status + timeout,
            "latency_ms": {"p50": p50, "p95": p95, "p99": p99, "max": worst, "mean": mean}}


def prepare(spec: dict[str, Any]) -> tuple[Path, str, str]:
    method, path, lines = _items(spec, random.Random(spec.get("seed", 1)))
    with tempfile.NamedTemporaryFile("wb", suffix=".txt", delete=False) as f:
        f.write(b"\n".join(lines) + b"\n")
    return Path(f.name), method, path
