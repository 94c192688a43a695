"""bench/server.cpu_seconds: the CPU of children a process has reaped counts for it (PostgreSQL's exited
backends and autovacuum workers, reaped by the postmaster), so a window's figure never goes negative; the I/O
stall share of a level (bench/loadgen.io_stall_seconds) beside the CPU columns."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bench import report
from bench.loadgen import CpuMeter, cpu_delta, io_stall_seconds
from bench.machine import damon_pageout
from bench.server import cpu_seconds

BURN = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass"


def test_a_reaped_childs_cpu_counts_for_its_parent() -> None:
    me = os.getpid()
    with_children, alone = cpu_seconds([me], reaped=me), cpu_seconds([me])
    subprocess.run([sys.executable, "-c", BURN], check=True)  # runs ~0.3 s of CPU, exits, is waited for
    assert cpu_seconds([me], reaped=me) - with_children >= 0.25
    assert cpu_seconds([me]) - alone < 0.25


def test_io_stall_seconds_reads_the_psi_some_total(tmp_path: Path) -> None:
    psi = tmp_path / "io"
    psi.write_text("some avg10=0.00 avg60=1.11 avg300=4.55 total=297275790\n"
                   "full avg10=0.00 avg60=0.80 avg300=2.69 total=183591864\n")
    assert io_stall_seconds(psi) == 297.27579
    psi.write_text("garbage\n")
    assert io_stall_seconds(psi) is None
    assert io_stall_seconds(tmp_path / "absent") is None


def test_a_levels_io_stall_share_is_its_own_column_not_cpu() -> None:
    meter = CpuMeter([], None)
    shot = meter.snapshot()
    delta = cpu_delta({k: v - (0.5 if k == "io_stall" else 0.0) for k, v in shot.items()}, shot)
    if "io_stall" in shot:  # a kernel with PSI: half a second of stall, not counted as anybody's CPU
        assert delta["io_stall"] == 0.5
    assert delta["other"] >= 0.0
    level = {"concurrency": 8, "req_per_s": 100.0, "units_per_s": 100.0, "errors": 0,
             "latency_ms": {"p50": 1.0, "p95": 2.0, "p99": 3.0},
             "cpu_share": {"server": 0.5, "postgres": 0.4, "client": 0.1, "other": 0.0, "io_stall": 0.37}}
    assert report._row({}, "read by id", level).endswith("| 0.50 / 0.40 / 0.10 / 0.00 | 37 % |")
    del level["cpu_share"]["io_stall"]
    assert report._row({}, "read by id", level).endswith("/ 0.10 / 0.00 | – |")


def test_the_report_names_the_levels_that_waited_on_the_disk() -> None:
    def level(clients: int, stall: float | None) -> dict[str, object]:
        return {"concurrency": clients, "cpu_share": {"server": 0.4} | ({} if stall is None else {"io_stall": stall})}

    result = {"workloads": {"read by id": {"levels": [level(1, 0.05), level(8, 0.35)]},
                            "search: Condition of a patient": {"levels": [level(8, None)]}}}
    assert report.stalled_levels(result) == ["read by id @8 (35%)"]
    assert any(line.startswith("- levels that waited on the disk") and "read by id @8 (35%)" in line
               for line in report._facts(result))
    result["workloads"]["read by id"]["levels"] = [level(8, 0.1)]
    assert not any("waited on the disk" in line for line in report._facts(result))


def test_a_damon_pageout_scheme_is_recorded_as_a_machine_fact(tmp_path: Path) -> None:
    def put(rel: str, text: str) -> None:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text + "\n")

    put("0/state", "on")
    put("0/contexts/0/monitoring_attrs/intervals/aggr_us", "5000000")
    put("0/contexts/0/schemes/0/action", "pageout")
    put("0/contexts/0/schemes/0/access_pattern/age/min", "12")
    put("0/contexts/0/schemes/0/quotas/bytes", "134217728")
    put("0/contexts/0/schemes/0/quotas/reset_interval_ms", "1000")
    put("0/contexts/0/schemes/1/action", "stat")  # only pageout evicts
    put("1/state", "off")  # a stopped kdamond does nothing
    assert damon_pageout(tmp_path) == [{"idle_s": 60.0, "max_mb_per_s": 134.2}]
    assert damon_pageout(tmp_path / "absent") == []
    result = {"machine": {"damon_pageout": damon_pageout(tmp_path)}}
    assert "pages out memory idle for 60 s (DAMON, up to 134 MB/s" in report._facts(result)[1]
    assert "DAMON" not in report._facts({"machine": {}})[1]
