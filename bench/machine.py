"""Machine facts recorded in every result: CPU, cores, memory, OS, Python, benhan commit, disk fsync rate and
the speed of one core running Python."""

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
    }
