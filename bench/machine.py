"""Machine facts recorded in every result: CPU, cores, memory, OS, Python, benhan commit, disk fsync rate, the
speed of one core running Python, and whether the kernel pages out memory nobody touched lately (DAMON)."""

from __future__ import annotations

import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _git(*args: str) -> str:
    out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    return out.stdout.strip()


def fsync_rate(path: Path, count: int = 200) -> float:
    """fdatasync calls per second on the disk that holds the benchmark database: it bounds durable commits."""
    path.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path) as f:
        t0 = time.perf_counter()
        for _ in range(count):
            f.write(b"x" * 512)
            f.flush()
            os.fdatasync(f.fileno())
        return round(count / (time.perf_counter() - t0))


def python_speed(iterations: int = 1_000_000, rounds: int = 5) -> float:
    """Millions of ``total += i`` loop iterations per second on one core, best of ``rounds``: how fast CPython
    runs on this machine at the moment of the run, beside the raw-PostgreSQL limit (which measures the
    database, the driver and both cores together)."""
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        total = 0
        for i in range(iterations):
            total += i
        best = min(best, time.perf_counter() - t0)
    return round(iterations / best / 1e6, 1)


DAMON = Path("/sys/kernel/mm/damon/admin/kdamonds")


def damon_pageout(root: Path = DAMON) -> list[dict[str, float]]:
    """The running DAMON schemes that page out memory (Documentation/admin-guide/mm/damon/usage.rst, sysfs
    interface): after how many seconds without an access a region goes, and at most how many MB/s.  Some VMs
    run one on the physical address space; it evicts the page cache too, so a database larger than
    PostgreSQL's shared_buffers is read back from the disk once it has been idle that long."""
    found = []
    for kdamond in sorted(root.glob("[0-9]*")):
        try:
            if (kdamond / "state").read_text().strip() != "on":
                continue
            for ctx in sorted((kdamond / "contexts").glob("[0-9]*")):
                aggr_us = int((ctx / "monitoring_attrs/intervals/aggr_us").read_text())
                for scheme in sorted((ctx / "schemes").glob("[0-9]*")):
                    if (scheme / "action").read_text().strip() != "pageout":
                        continue
                    age = int((scheme / "access_pattern/age/min").read_text())
                    quota = int((scheme / "quotas/bytes").read_text())
                    reset_ms = int((scheme / "quotas/reset_interval_ms").read_text()) or 1000
                    found.append({"idle_s": age * aggr_us / 1e6,
                                  "max_mb_per_s": round(quota / 1e6 * 1000 / reset_ms, 1) if quota else 0.0})
        except (OSError, ValueError):
            continue
    return found


def facts() -> dict[str, Any]:
    dirty = bool(_git("status", "--porcelain", "--untracked-files=no"))
    return {
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": _mem_gib(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "benhan_commit": _git("rev-parse", "--short", "HEAD") + ("+dirty" if dirty else ""),
        "fdatasync_per_s": fsync_rate(ROOT / "var" / "bench"),
        "python_mloops_per_s": python_speed(),
        "load_average_before": os.getloadavg(),
        "damon_pageout": damon_pageout(),
    }
