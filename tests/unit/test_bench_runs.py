"""bench/run.py: repeated runs of one workload (the audit on/off phase's ABBA order) combine into one result."""

from __future__ import annotations

from typing import Any

from bench import report
from bench.run import AUDIT_ORDER, combine_runs


def _run(rps: float, p50: float, errors: int = 0) -> dict[str, Any]:
    return {"workload": "get", "levels": [{
        "concurrency": 32, "requests": int(rps * 2), "errors": errors, "req_per_s": rps, "units_per_s": rps,
        "latency_ms": {"p50": p50, "p99": 2 * p50}, "cpu_share": {"server": 1.0, "postgres": 0.5},
        "error_samples": ["500 boom"] if errors else [],
    }]}


def test_runs_combine_into_means_of_rates_and_sums_of_counts() -> None:
    combined = combine_runs([_run(3000.0, 10.0), _run(2000.0, 14.0, errors=3)])
    [level] = combined["levels"]
    assert level["req_per_s"] == 2500.0
    assert level["latency_ms"] == {"p50": 12.0, "p99": 24.0}
    assert (level["requests"], level["errors"], level["runs"]) == (10000, 3, 2)
    assert level["error_samples"] == ["500 boom"]
    assert len(combined["runs"]) == 2  # each run kept as measured
    assert combine_runs([_run(3000.0, 10.0)]) == _run(3000.0, 10.0)


def test_the_audit_cost_is_judged_on_the_means_of_an_abba_order() -> None:
    """Off, on, on, off: a machine slowing down steadily (3,000 → 2,400 req/s over the phase, no audit cost at
    all) shows no cost, where off-then-on once each showed 7 %."""
    assert AUDIT_ORDER == ("false", "true", "true", "false")
    speeds = dict(zip(range(4), (3000.0, 2800.0, 2600.0, 2400.0), strict=True))
    runs: dict[str, list[dict[str, Any]]] = {}
    for i, flag in enumerate(AUDIT_ORDER):
        runs.setdefault(flag, []).append(_run(speeds[i], 10.0))
    result = {"workloads": {"read by id, audit off": combine_runs(runs["false"]),
                            "read by id, audit on": combine_runs(runs["true"])}}
    verdict = next(t for t in report.targets(result) if t["target"].startswith("audit cost ≤ 15 % of read"))
    assert verdict["measured"] == "0.0 %"
