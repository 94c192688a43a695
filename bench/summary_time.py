"""Server time of the nurses' daily summary (issue 7): a 60-bed department, 8 drugs per patient.

    .venv/bin/python -m bench.summary_time [--beds 60] [--drugs 8] [--runs 40]

Seeds the department through the use-cases (register, admit, order_medication with its safety checks), then
times, as a nurse of that department (access policy and audit on, as in the app):

- ``generate``: ``summary.generate_summary`` (three searches, the snapshot write, the schedules of every order);
- ``view``: ``summary.daily_summary`` plus rendering ``pages/summary.html`` (what ``GET /summary`` does).

Uses ``BENCH_DATABASE_URL`` if set, else the embedded server in ``var/bench`` (a fresh database either way).
Prints p50/p95/max in milliseconds; the target is p95 ≤ 300 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import date

from starlette.requests import Request

from bench import pg
from bench.loadgen import CpuMeter, cpu_delta
from bench.pg import bench_database
from benhan.access import AccessControl
from benhan.access import org as access_org
from benhan.clinical import adt, orders, registration, summary
from benhan.clinical.facility import bed_map, create_department
from benhan.clinical.order_common import day_start
from benhan.clinical.records import today_vn
from benhan.fhir.storage.pg.audit import AuditLog
from benhan.fhir.storage.pg.repository import PgRepository
from benhan.kernel import heap
from benhan.kernel.context import RequestContext
from benhan.kernel.db import create_pool
from benhan.terminology.facility_catalogues import import_demo_catalogues
from benhan.web.templating import environment

SYSTEM = RequestContext.system("bench")
#: (catalogue code, frequency, dose): eight different active ingredients, doses within the catalogue maxima
DRUGS = [
    ("DEMO.0001", "sáng 1 viên, chiều 1 viên", ""),
    ("DEMO.0003", "mỗi 8 giờ", "1"),
    ("DEMO.0005", "ngày 2 lần", "1"),
    ("DEMO.0008", "ngày 3 lần, mỗi lần 1 viên", ""),
    ("DEMO.0009", "sáng 1 viên", ""),
    ("DEMO.0013", "tối 1 viên", ""),
    ("DEMO.0015", "tối 1 viên", ""),
    ("DEMO.0018", "sáng 1 ống, trưa 1 ống", ""),
    ("DEMO.0021", "ngày 2 lần", "1"),
    ("DEMO.0019", "mỗi 6 giờ", "1"),
]


async def seed(repo: PgRepository, beds: int, drugs: int) -> tuple[str, str]:
    facility = (
        await repo.create(SYSTEM, access_org.organization("facility", "Bệnh viện bench", code="99001"))
    ).resource.id
    await import_demo_catalogues(repo, SYSTEM, facility)  # orders are chosen from the facility's catalogue
    rooms = [
        (f"Phòng {r + 1}", [f"Giường {r * 10 + i + 1}" for i in range(min(10, beds - r * 10))])
        for r in range((beds + 9) // 10)
    ]
    dept = await create_department(repo, SYSTEM, name="Khoa Nội bench", rooms=rooms, part_of=facility)
    free = await bed_map(repo, SYSTEM, dept.id)
    for i, bed in enumerate(free[:beds]):
        form = registration.RegistrationForm(
            full_name=f"Bệnh Nhân {chr(65 + i // 26 % 26)}{chr(65 + i % 26)}",
            birth_date=date(1950 + i % 50, 1 + i % 12, 1 + i % 28),
            sex="male",
        )
        pid = await registration.register_patient(repo, SYSTEM, form, confirmed=True)
        enc = await adt.admit(repo, SYSTEM, pid, department_id=dept.id, bed_id=bed.id)
        for code, freq, dose in DRUGS[:drugs]:
            await orders.order_medication(
                repo, SYSTEM, enc, orders.MedicationOrderInput(code, freq, dose=dose, start=day_start(today_vn()))
            )
    return facility, dept.id


def _request() -> Request:
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/summary",
        "query_string": b"",
        "headers": [],
        "scheme": "http",
        "server": ("bench", 80),
        "root_path": "",
    }
    return Request(scope)


async def timed(fn: Callable[[], Awaitable[object]], runs: int) -> tuple[list[float], dict[str, float]]:
    """Milliseconds per call, and the cores busy meanwhile: this process, PostgreSQL, every other process."""
    await fn()  # warm-up (catalogue load, template compile, plan cache)
    out = []
    meter = CpuMeter([os.getpid()], pg.postmaster_pid())
    before, started = meter.snapshot(), time.perf_counter()
    for _ in range(runs):
        t = time.perf_counter()
        await fn()
        out.append((time.perf_counter() - t) * 1000)
    wall = time.perf_counter() - started
    used = cpu_delta({k: v for k, v in before.items() if k != "client"},
                     {k: v for k, v in meter.snapshot().items() if k != "client"})
    return out, {"app": used["server"] / wall, "postgres": used["postgres"] / wall, "other": used["other"] / wall,
                 "app_ms": used["server"] * 1000 / runs}


def report(name: str, timing: tuple[list[float], dict[str, float]]) -> None:
    ms, cpu = timing
    q = statistics.quantiles(ms, n=20)
    print(f"{name:10s} n={len(ms):3d}  p50={statistics.median(ms):7.1f} ms  p95={q[18]:7.1f} ms  max={max(ms):7.1f} ms"
          f"  | app CPU {cpu['app_ms']:.1f} ms/call; cores busy: app {cpu['app']:.2f}, PostgreSQL "
          f"{cpu['postgres']:.2f}, other processes {cpu['other']:.2f}")


async def main(url: str, beds: int, drugs: int, runs: int) -> None:
    pool = await create_pool(url, 2, 8)
    audit_pool = await create_pool(url, 1, 2)
    audit = AuditLog(audit_pool)
    repo = PgRepository(pool, access=AccessControl(), audit=audit)
    t = time.perf_counter()
    facility, dept = await seed(repo, beds, drugs)
    print(f"seeded {beds} beds x {drugs} drugs through the use-cases in {time.perf_counter() - t:.1f} s")
    nurse = RequestContext(
        user_id="bench-nurse",
        username="bench-nurse",
        roles=frozenset({"nurse"}),
        facility_id=facility,
        department_id=dept,
    )
    day = today_vn()
    template = environment("vi").get_template("pages/summary.html")
    heap.freeze()  # as the server does after start-up (kernel/heap.py)

    async def generate() -> object:
        return await summary.generate_summary(repo, nurse, dept, day)

    async def view() -> object:
        data = await summary.daily_summary(repo, nurse, dept, day)
        return template.render(request=_request(), data=data, dept=dept, dept_name="", departments=[], day=day)

    check = await summary.daily_summary(repo, nurse, dept, day)
    lines = sum(len(p.lines) for p in check.patients)
    print(f"summary as the nurse: {len(check.patients)} patients, {lines} order lines, {len(check.totals)} drugs")
    report("generate", await timed(generate, runs))
    report("view", await timed(view, runs))
    await audit.close()
    await audit_pool.close()
    await pool.close()


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--beds", type=int, default=60)
    parser.add_argument("--drugs", type=int, default=8)
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    with bench_database() as url:
        asyncio.run(main(url, args.beds, args.drugs, args.runs))


if __name__ == "__main__":
    cli()
