"""bench/run.py: repeated runs of one workload (the audit on/off phase's ABBA order) combine into one result;
the server selection's creates."""

from __future__ import annotations

import random
from typing import Any

import orjson
from bench import report, wrk
from bench.run import AUDIT_ORDER, SELECTION_CREATE, combine_runs

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
