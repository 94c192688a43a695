"""bench/run.py: repeated runs of one workload combine into one result; the audit on/off phase's interleaved
rounds; the server selection's creates."""

from __future__ import annotations

import random
from typing import Any

import orjson
from bench import report, wrk
from bench.run import SELECTION_CREATE, audit_order, combine_runs, round_costs

from benhan.fhir.model.validate import validate_resource


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


def _audit_verdict(result: dict[str, Any]) -> str:
    return next(t for t in report.targets(result) if t["target"].startswith("audit cost ≤ 15 % of read"))["measured"]


def test_a_machine_slowing_down_steadily_is_not_charged_to_the_audit() -> None:
    """Eight rounds, the order alternating; the machine 3 % slower at each burst and the audit costing 20 %:
    each round's cost is off by ~2.5 points one way or the other, the median by less than half a point."""
    assert [audit_order(r) for r in range(3)] == [("false", "true"), ("true", "false"), ("false", "true")]
    runs: dict[str, list[dict[str, Any]]] = {"false": [], "true": []}
    burst = 0
    for r in range(8):
        for flag in audit_order(r):
            speed = 3000.0 * (1 - 0.03 * burst)
            runs[flag].append(_run(speed * (0.8 if flag == "true" else 1.0), 10.0))
            burst += 1
    costs = round_costs(runs["false"], runs["true"])
    assert len(costs) == 8
    assert min(costs) < 18  # one round alone would misjudge it
    assert max(costs) > 22
    result = {"audit_rounds": {"read by id": costs},
              "workloads": {"read by id, audit off": combine_runs(runs["false"]),
                            "read by id, audit on": combine_runs(runs["true"])}}
    measured = _audit_verdict(result)
    assert abs(float(measured.split()[0]) - 20.0) < 0.5, measured
    assert f"median of 8 rounds: {min(costs):.1f}–{max(costs):.1f} %" in measured


def test_a_result_file_without_rounds_is_judged_on_its_means() -> None:
    """Result files written before the rounds (two runs per mode) keep their verdict."""
    result = {"workloads": {"read by id, audit off": combine_runs([_run(3000.0, 10.0), _run(2400.0, 10.0)]),
                            "read by id, audit on": combine_runs([_run(2800.0, 10.0), _run(2600.0, 10.0)])}}
    assert _audit_verdict(result) == "0.0 %"


def test_the_server_selection_creates_patient_sized_practitioners_not_patients() -> None:
    """The searches run after the selection: its creates must not add Patients (namesakes for the name search),
    yet cost what a Patient create costs (the same elements, valid FHIR R4 Practitioners)."""
    method, path, lines = wrk._items({"workload": "create", "params": SELECTION_CREATE}, random.Random(1), 50)
    assert (method, path) == ("POST", "/fhir/Practitioner")
    bodies = [orjson.loads(line) for line in lines]
    assert {b["resourceType"] for b in bodies} == {"Practitioner"}
    assert all(validate_resource(b) == [] for b in bodies)
    _, patient_path, patient_lines = wrk._items({"workload": "create", "params": {}}, random.Random(1), 50)
    assert patient_path == "/fhir/Patient"
    assert [{k for k in orjson.loads(p) if k != "resourceType"} for p in patient_lines] == [
        {k for k in b if k != "resourceType"} for b in bodies]
