"""``benhan reindex``: rebuild the search index with a progress bar (``benhan.cli`` declares the command)."""

from __future__ import annotations

import asyncio
import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

console = Console()


def run_reindex(url: str, workers: int, batch_size: int) -> int:
    """Rebuild every resource's index rows (online: searches use the old index until the swap)."""
    from benhan.fhir.storage.pg.reindex import reindex
    from benhan.kernel.db import create_pool

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
               TimeElapsedColumn(), TimeRemainingColumn())  # fmt: skip
    started = time.perf_counter()

    async def go() -> int:
        pool = await create_pool(url, 2, 6)
        try:
            with Progress(*columns, console=console) as bar:
                task = bar.add_task("lập chỉ mục tìm kiếm", total=None, rate="")

                def progress(done: int, total: int) -> None:
                    rate = done / max(time.perf_counter() - started, 1e-6)
                    bar.update(task, completed=done, total=total, rate=f"{rate:,.0f} tài nguyên/s")

                return await reindex(pool, progress, batch_size=batch_size, workers=workers)
        finally:
            await pool.close()

    done = asyncio.run(go())
    seconds = time.perf_counter() - started
    console.print(f"  {done:,} resources reindexed in {seconds:.1f} s ({done / max(seconds, 1e-6):,.0f}/s)")
    return done
