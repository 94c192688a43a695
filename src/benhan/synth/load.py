"""Load generated resources into a running benhan database through the COPY fast path.

``load_patients`` splits the patients between worker processes (patient ``i`` goes to worker
``i % workers``); each worker generates, stamps, indexes and COPYs its own batches on its own
connection, one transaction per batch, and reports progress through a queue. Every patient's
resources are generated from its own seed, so the split does not change what is generated.
Resources already stored (same type and id) are skipped: loading twice writes nothing new.

A large load (``REBUILD_FROM`` patients or more) into a database without patients drops the secondary
indexes of ``resource`` and the search index tables first and builds each once at the end
(:func:`benhan.fhir.storage.pg.bulk.drop_secondary_indexes`): incremental maintenance of ~20 B-trees and
two GIN indexes is the database's main cost once the tables outgrow memory.  Primary keys and the
(type, id) uniqueness stay.  Searches are slow until the load ends, which is why only an empty target
qualifies; if the load dies, the next load (of any size) rebuilds what is missing first.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import queue as queue_mod
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from benhan.fhir.storage.access_types import Derived
from benhan.fhir.storage.pg.bulk import (
    BulkResult,
    drop_secondary_indexes,
    is_empty,
    restore_secondary_indexes,
    write_batch,
)
from benhan.synth.generator import FULL, BedPlan, Profile, generate, plan_beds
from benhan.synth.world import World

JsonObj = dict[str, Any]
Progress = Callable[[int, Counter[str]], None]
BATCH = 4000
#: patients from which a load into an empty database builds the secondary indexes at the end
REBUILD_FROM = 500


@dataclass(frozen=True, slots=True)
class Job:
    url: str
    seed: int
    count: int
    as_of: datetime
    profile: Profile
    world: World
    worker: int
    workers: int
    beds: BedPlan  # the whole run's bed plan, computed once by the parent (generator.plan_beds)


def access_derive() -> Callable[[JsonObj], Derived] | None:
    """The access policy's fact extractor, so bulk loads maintain care relations and the organisation tree
    as repository writes do (None while the access package is absent)."""
    try:
        from benhan.access.care import derive
    except ImportError:  # pragma: no cover - the access package is part of benhan
        return None
    return derive


async def load_resources(url: str, resources: Iterable[JsonObj], batch: int = BATCH) -> BulkResult:
    """Load resources in order on one connection (structure, terminology, small sets)."""
    total = BulkResult()
    conn = await asyncpg.connect(url)
    try:
        pending: list[JsonObj] = []
        for res in resources:
            pending.append(res)
            if len(pending) >= batch:
                total.add(await _write(conn, pending))
                pending = []
        if pending:
            total.add(await _write(conn, pending))
    finally:
        await conn.close()
    return total


async def _write(conn: asyncpg.Connection, batch: list[JsonObj]) -> BulkResult:
    async with conn.transaction():
        return await write_batch(conn, batch, derive=access_derive())


async def _run_job(job: Job, report: Callable[[int, BulkResult], None]) -> None:
    conn = await asyncpg.connect(job.url, server_settings={"synchronous_commit": "off", "jit": "off"})
    try:
        pending: list[JsonObj] = []
        patients = 0
        for resources in generate(job.seed, job.count, job.world, job.as_of, job.profile, job.worker, job.workers,
                                  job.beds):  # fmt: skip
            pending += resources
            patients += 1
            if len(pending) >= BATCH:
                report(patients, await _write(conn, pending))
                pending, patients = [], 0
        if pending or patients:
            report(patients, await _write(conn, pending) if pending else BulkResult())
    finally:
        await conn.close()


def _worker(job: Job, out: Any) -> None:
    try:
        asyncio.run(_run_job(job, lambda n, r: out.put(("batch", n, dict(r.written), r.skipped))))
        out.put(("done", job.worker, None, 0))
    except BaseException as exc:  # report, then let the parent fail the load
        out.put(("error", job.worker, repr(exc), 0))
        raise


def load_patients(
    url: str, seed: int, count: int, world: World, as_of: datetime, *, profile: Profile = FULL,
    workers: int = 2, progress: Progress | None = None, rebuild_indexes: bool | None = None,
) -> BulkResult:
    """Generate and load ``count`` patients with ``workers`` processes; ``progress(patients, written)``.

    ``rebuild_indexes``: into a database without patients, drop the secondary indexes first and build them
    once at the end (several times faster for large loads); None chooses it for ``count >= REBUILD_FROM``.
    """
    asyncio.run(restore_secondary_indexes(url))  # repairs a load that died with its indexes dropped
    if rebuild_indexes is None:
        rebuild_indexes = count >= REBUILD_FROM
    dropped = rebuild_indexes and asyncio.run(_drop_if_empty(url))
    try:
        return _load(url, seed, count, world, as_of, profile, workers, progress)
    finally:
        if dropped:
            asyncio.run(restore_secondary_indexes(url))


async def _drop_if_empty(url: str) -> bool:
    conn = await asyncpg.connect(url)
    try:
        return await is_empty(conn) and await drop_secondary_indexes(conn) > 0
    finally:
        await conn.close()


def _load(
    url: str, seed: int, count: int, world: World, as_of: datetime, profile: Profile, workers: int,
    progress: Progress | None,
) -> BulkResult:
    if workers <= 1:
        result = BulkResult()

        def local(n: int, r: BulkResult) -> None:
            result.add(r)
            if progress:
                progress(n, r.written)

        beds = plan_beds(seed, count, world, as_of, profile)
        asyncio.run(_run_job(Job(url, seed, count, as_of, profile, world, 0, 1, beds), local))
        return result
    return _parallel(url, seed, count, world, as_of, profile, workers, progress)


def _parallel(
    url: str, seed: int, count: int, world: World, as_of: datetime, profile: Profile, workers: int,
    progress: Progress | None,
) -> BulkResult:
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    beds = plan_beds(seed, count, world, as_of, profile)
    procs = [ctx.Process(target=_worker, args=(Job(url, seed, count, as_of, profile, world, w, workers, beds), out))
             for w in range(workers)]  # fmt: skip
    for p in procs:
        p.start()
    result, running = BulkResult(), workers
    try:
        while running:
            try:
                kind, n, payload, skipped = out.get(timeout=1.0)
            except queue_mod.Empty:
                if not any(p.is_alive() for p in procs):
                    raise RuntimeError("a synth worker stopped without reporting") from None
                continue
            if kind == "error":
                raise RuntimeError(f"synth worker {n} failed: {payload}")
            if kind == "done":
                running -= 1
                continue
            written = Counter(payload)
            result.add(BulkResult(written, skipped))
            if progress:
                progress(n, written)
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.terminate()
    return result
