"""What ``benhan synth``, ``benhan demo`` (loading) and ``benhan terminology load`` do, with a rich progress
bar and a summary per resource type. ``benhan.cli`` only declares the options and calls these."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from benhan.kernel import clock

console = Console()


@contextmanager
def progress_bar(total: int, label: str) -> Iterator[Callable[[int, Counter[str]], None]]:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rps]}"),
               TimeElapsedColumn(), TimeRemainingColumn())  # fmt: skip
    started, written = time.perf_counter(), [0]
    with Progress(*columns, console=console) as bar:
        task = bar.add_task(label, total=total, rps="")

        def advance(patients: int, counts: Counter[str]) -> None:
            written[0] += sum(counts.values())
            rate = written[0] / max(time.perf_counter() - started, 1e-6)
            bar.update(task, advance=patients, rps=f"{written[0]:,} resources, {rate:,.0f}/s")

        yield advance


def summary_table(counts: Counter[str], seconds: float, title: str) -> Table:
    table = Table(title=title)
    table.add_column("resource type")
    table.add_column("count", justify="right")
    for type_, n in sorted(counts.items(), key=lambda kv: -kv[1]):
        table.add_row(type_, f"{n:,}")
    total = sum(counts.values())
    table.add_row("total", f"{total:,}", style="bold")
    table.caption = f"{seconds:.1f} s, {total / max(seconds, 1e-6):,.0f} resources/s"
    return table


def run_synth(
    url: str | None, *, patients: int, seed: int, out: Path | None, fmt: str, load: bool, workers: int,
    as_of: datetime | None,
) -> None:
    """Generate ``patients`` patients (plus the province they are treated in) to files and/or the database."""
    from benhan.demo.province import build_province
    from benhan.synth.generator import generate
    from benhan.synth.load import load_patients, load_resources
    from benhan.synth.output import Writer

    province = build_province()
    as_of = as_of or clock.now()
    started = time.perf_counter()
    if out is not None:
        writer = Writer(out, "bundle" if fmt == "bundle" else "ndjson")
        writer.write(province.resources, "province")
        with progress_bar(patients, "writing") as advance:
            for group in generate(seed, patients, province.world, as_of):
                writer.write(group)
                advance(1, Counter(str(r["resourceType"]) for r in group))
        writer.close()
        console.print(summary_table(writer.counts, time.perf_counter() - started, f"written to {out}"))
    if load and url is not None:
        started = time.perf_counter()
        result = asyncio.run(load_resources(url, province.resources))
        with progress_bar(patients, "loading") as advance:
            result.add(load_patients(url, seed, patients, province.world, as_of, workers=workers, progress=advance))
        title = f"loaded ({result.skipped:,} already present, skipped)"
        console.print(summary_table(result.written, time.perf_counter() - started, title))


def run_demo_load(url: str, *, patients: int, force: bool = False) -> None:
    """Load the demo province unless it is there, then print the demo logins."""
    from benhan.demo.load import load_demo
    from benhan.demo.logins import format_logins
    from benhan.kernel.db import create_pool

    async def go() -> None:
        pool = await create_pool(url, 1, 4)
        try:
            with progress_bar(patients, "demo patients") as advance:
                summary = await load_demo(url, pool, patients=patients, force=force, progress=advance)
        finally:
            await pool.close()
        if summary.loaded:
            console.print(summary_table(summary.written, summary.seconds, "demo province loaded"))
        else:
            console.print("  demo data already loaded")
        console.print(format_logins(summary.logins))

    asyncio.run(go())


def run_terminology_load(url: str) -> None:
    from benhan.demo.terminology import load_terminology
    from benhan.fhir.storage.pg.repository import PgRepository
    from benhan.kernel.context import RequestContext
    from benhan.kernel.db import create_pool

    async def go() -> Counter[str]:
        pool = await create_pool(url, 1, 2)
        try:
            return await load_terminology(PgRepository(pool), RequestContext.system("terminology"))
        finally:
            await pool.close()

    counts = asyncio.run(go())
    console.print(f"CodeSystem/ValueSet: {counts['created']} created, {counts['updated']} updated, "
                  f"{counts['unchanged']} unchanged")  # fmt: skip
