"""bench/report.py verdicts: a level in which no request completed is a failure, not a 0 ms pass."""

from __future__ import annotations

from bench import report


def _level(concurrency: int, rps: float, p50: float) -> dict[str, object]:
    return {"concurrency": concurrency, "req_per_s": rps, "latency_ms": {"p50": p50, "p95": p50, "p99": p50}}


def _verdict(result: dict[str, object], name: str) -> dict[str, object]:
    return next(t for t in report.targets(result) if t["target"].startswith(name))


def test_a_level_without_a_completed_request_fails() -> None:
    stuck = {"workloads": {"search: count": {"group": "count", "levels": [_level(8, 0.0, 0.0)]}}}
    verdict = _verdict(stuck, "_summary=count")
    assert verdict["verdict"] == "FAIL"
    assert verdict["measured"] == "no request completed in the level's duration"
    quick = {"workloads": {"search: count": {"group": "count", "levels": [_level(8, 40.0, 120.0)]}}}
    assert _verdict(quick, "_summary=count")["verdict"] == "PASS"
