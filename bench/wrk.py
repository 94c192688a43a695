"""Single-request workloads driven by wrk (Debian package ``wrk``), the load tool issue 8 names first.

Why: the aiohttp load process spends ~0.3 ms of CPU per request building and timing it in Python; at
2,000-3,000 req/s that is most of a core taken from the two that benhan and PostgreSQL share.  wrk is C
(one epoll thread here) and costs a few µs per request, so the figures measure benhan, not the client.
``get`` (read by id, searches, screens), ``create`` and the CRUD mix run here when wrk is installed
(``make bench`` installs it; without it the suite falls back to aiohttp and says so); bundles stay on the
asyncio client.  The CRUD mix's requests depend on earlier responses (the ids the creates return), so it
runs one connection per wrk thread, each thread's Lua state walking its own iteration (``LUA_CRUD``): a
wrk thread's script state is shared by all of the thread's connections.

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

SUPPORTED = ("get", "create", "crud")

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


# The Health Samurai iteration (bench/workloads.py ``crud``): 9 creates, 9 reads, 9 updates, 9 deletes in
# reverse order.  Each iteration's 18 bodies (9 creates, then the 9 updated forms) are lines of the items
# file with ``@@Kind@@`` where the id of that kind's new resource goes (``@@self@@``: the resource's own).
LUA_CRUD = r"""
local kinds = {%(kinds)s}
local lines = {}
for line in io.lines("%(items)s") do lines[#lines + 1] = line end
local iterations = math.floor(#lines / 18)
local get_headers = {["Accept"] = "application/fhir+json"%(auth)s}
local put_headers = {["Accept"] = "application/fhir+json", ["Content-Type"] = "application/fhir+json"%(auth)s}
local step, iter, ids = 0, 0, {}
failed = 0  -- a global: done() reads it with thread:get
local threads = {}

setup = function(thread)
  thread:set("tid", #threads + 1)
  threads[#threads + 1] = thread
end

init = function(args)
  math.randomseed(%(seed)d + tid)
  iter = math.random(iterations) - 1
end

local function fill(body, own)
  return (body:gsub("@@(%%a+)@@", function(k) if k == "self" then return own end return ids[k] end))
end

request = function()
  if step < 9 then
    return wrk.format("POST", "/fhir/" .. kinds[step + 1], put_headers, fill(lines[iter * 18 + step + 1]))
  elseif step < 18 then
    local k = kinds[step - 8]
    return wrk.format("GET", "/fhir/" .. k .. "/" .. ids[k], get_headers)
  elseif step < 27 then
    local k = kinds[step - 17]
    return wrk.format("PUT", "/fhir/" .. k .. "/" .. ids[k], put_headers, fill(lines[iter * 18 + step - 8], ids[k]))
  end
  local k = kinds[36 - step]
  return wrk.format("DELETE", "/fhir/" .. k .. "/" .. ids[k], get_headers)
end

response = function(status, headers, body)
  local ok
  if step < 9 then
    local location = headers["Location"] or headers["location"] or ""
    local id = location:match("/fhir/%%a+/([^/]+)/_history/")
    ok = status == 201 and id ~= nil
    if ok then ids[kinds[step + 1]] = id end
  elseif step < 27 then
    ok = status == 200
  else
    ok = status == 200 or status == 204  -- FHIR R4 http.html#delete
  end
  if not ok then  -- start a new iteration (wrk counts statuses >= 400; the rest are counted here)
    if status < 400 then failed = failed + 1 end
    step, iter = 0, (iter + 1) %% iterations
    return
  end
  step = step + 1
  if step == 36 then step, iter = 0, (iter + 1) %% iterations end
end

done = function(summary, latency, requests)
  local e = summary.errors
  local other = 0
  for _, thread in ipairs(threads) do other = other + thread:get("failed") end
  io.write(string.format("WRK %%d %%d %%d %%d %%d %%d %%d %%.0f %%.0f %%.0f %%.0f %%.0f\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status + other, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max, latency.mean))
end
"""


def available() -> bool:
    return shutil.which("wrk") is not None


def _crud_items(rng: random.Random, iterations: int = 500) -> list[bytes]:
    """18 lines per iteration: the 9 create bodies, then the 9 updated forms (workloads._change)."""
    from bench.workloads import CRUD_KINDS, _change, crud_bodies

    names = data.NameSource(rng)
    placeholders = {kind: {"id": f"@@{kind}@@"} for kind in CRUD_KINDS}
    lines: list[bytes] = []
    for _ in range(iterations):
        bodies = crud_bodies(rng, names, placeholders)
        lines += [orjson.dumps(b) for b in bodies]
        for b in bodies:
            changed = {**b, "id": "@@self@@"}
            _change(changed)
            lines.append(orjson.dumps(changed))
    return lines


def _items(spec: dict[str, Any], rng: random.Random, count: int = 20000) -> tuple[str, str, list[bytes]]:
    """(method, path, lines): request targets for ``get``, request bodies for ``create`` and ``crud``."""
    if spec["workload"] == "crud":
        return "CRUD", "", _crud_items(rng)
    if spec["workload"] == "create":
        names = data.NameSource(rng)
        type_ = spec["params"].get("type", "Patient")
        return "POST", f"/fhir/{type_}", [orjson.dumps(data.person(rng, names, type_)) for _ in range(min(count, 5000))]
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
        if method == "CRUD":
            from bench.workloads import CRUD_KINDS

            script.write(LUA_CRUD % {"items": items_file, "auth": auth, "seed": 1 + concurrency,
                                     "kinds": ", ".join(f'"{k}"' for k in CRUD_KINDS)})
        else:
            script.write(LUA % {"items": items_file, "method": method, "path": path, "auth": auth, "accept": accept,
                                "seed": 1 + concurrency})
    threads = concurrency if method == "CRUD" else 1  # CRUD: one connection per thread (LUA_CRUD)
    try:
        cmd = ["wrk", "-t", str(threads), "-c", str(concurrency), "-d", f"{max(1, round(seconds))}s",
               "--timeout", "120s", "-s", script.name, spec["base"]]
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
