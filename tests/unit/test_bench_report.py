"""bench/report.py verdicts: a level in which no request completed is a failure, not a 0 ms pass."""

from __future__ import annotations

from bench import machine, report


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


def test_a_count_over_millions_is_judged_per_million_counted_and_shows_what_it_measured() -> None:
    """Issue 3 sets the count's target over 1 million Observations; the full run counts ~3.6 M."""
    def count(p50: float, counted: int | None) -> dict[str, object]:
        return {"workloads": {"search: count": {"group": "count", "counted": counted,
                                                "levels": [_level(8, 10.0, p50)]}}}

    full = _verdict(count(628.0, 3_600_000), "_summary=count")
    assert full["verdict"] == "PASS"
    assert full["measured"] == "174.4 ms per million (628.0 ms over 3,600,000 Observations)"
    assert _verdict(count(2_000.0, 3_600_000), "_summary=count")["verdict"] == "FAIL"  # 556 ms per million
    small = _verdict(count(600.0, 40_000), "_summary=count")  # a small dataset is never scaled up
    assert (small["verdict"], small["measured"]) == ("FAIL", "600.0 ms over 40,000 Observations")
    assert _verdict(count(120.0, None), "_summary=count")["measured"] == "120.0 ms"


def test_the_result_says_what_the_searches_ranged_over() -> None:
    facts = "\n".join(report._facts({"search_dataset": {"resources": 5_055_424, "patients": 10_200}}))
    assert "searches ran over 5,055,424 resources, 10,200 of them Patients" in facts
    assert "searches ran over" not in "\n".join(report._facts({}))


def test_storage_is_judged_on_the_loaded_dataset_and_both_figures_are_shown() -> None:
    """Issue 3 sets the storage budget on the loaded patients; the end-of-run figure (the suite's own
    creates, updates and deletes with their history) is reported beside it, not hidden."""
    result: dict[str, object] = {"storage": {"resources": 5_600_000, "bytes_per_resource": 1_560},
                                 "storage_loaded": {"resources": 5_030_000, "bytes_per_resource": 1_485}}
    verdict = _verdict(result, "storage")
    assert (verdict["verdict"], verdict["measured"]) == ("PASS", "1,485.0 B")
    facts = "\n".join(report._facts(result))
    assert "1560 bytes per resource" in facts
    assert "1485 bytes per resource" in facts
    assert _verdict({"storage": {"resources": 80_000, "bytes_per_resource": 1_997}}, "storage")["verdict"] == "FAIL"


def test_the_machine_line_says_how_fast_one_core_runs_python() -> None:
    """Sessions' machines share a CPU model name and differ threefold in speed: every result says which."""
    speed = machine.python_speed(iterations=20_000, rounds=2)
    assert speed > 0
    facts = "\n".join(report._facts({"machine": {"python": "3.11.7", "python_mloops_per_s": speed}}))
    assert f"Python 3.11.7 at {speed} M loop iterations/s on one core" in facts
