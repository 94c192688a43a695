"""Cost of access control + audit (issue 4): read and search throughput through the repository with and
without the policy point, same database, same data, same concurrency.

    .venv/bin/python -m bench.audit_overhead [--seconds 5] [--concurrency 16] [--patients 2000]

Uses ``DATABASE_URL`` if set (a scratch database is created next to it), else the embedded server in
``var/bench-audit-pg``.  Prints requests/second for each mode and the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from pathlib import Path
from typing import Any

import asyncpg

from benhan import migrate
from benhan.access import AccessControl
from benhan.fhir.storage.pg.audit import AuditLog
from benhan.fhir.storage.pg.repository import PgRepository
from benhan.kernel.context import RequestContext
from benhan.kernel.db import create_pool, ensure_database, start_embedded, with_database

SYSTEM = RequestContext.system("bench")
#: a provincial integration with read scopes: policy evaluated, SQL filter applied, every access audited
CLIENT = RequestContext(client_id="bench", username="bench", scopes=frozenset({"system/*.rs"}))


async def _load(repo: PgRepository, n: int) -> list[str]:
    ids = []
    for i in range(n):
        res = {"resourceType": "Patient", "name": [{"family": "Nguyễn", "given": [f"An{i}"]}],
               "gender": "male" if i % 2 else "female", "birthDate": f"19{50 + i % 50}-01-0{1 + i % 9}"}
        ids.append((await repo.create(SYSTEM, res)).resource.id)
    return ids


async def _run(op: Any, seconds: float, concurrency: int) -> float:
    done = 0
    stop = time.monotonic() + seconds

    async def worker() -> None:
        nonlocal done
        while time.monotonic() < stop:
            await op()
            done += 1

    start = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done / (time.monotonic() - start)


async def main(url: str, seconds: float, concurrency: int, patients: int) -> None:
    pool = await create_pool(url, 2, concurrency + 2)
    audit_pool = await create_pool(url, 1, 2)
    plain = PgRepository(pool)
    wait_log, batch_log = AuditLog(audit_pool, wait=True), AuditLog(audit_pool, wait=False)
    modes = {
        "no access, no audit": plain,
        "access, no audit": PgRepository(pool, access=AccessControl()),
        "access + audit (wait)": PgRepository(pool, access=AccessControl(), audit=wait_log),
        "access + audit (batch)": PgRepository(pool, access=AccessControl(), audit=batch_log),
    }
    ids = await _load(plain, patients)
    rng = random.Random(1)
    results: dict[tuple[str, str], float] = {}
    for name, repo in modes.items():
        async def read(repo: PgRepository = repo) -> None:
            await repo.read(CLIENT, "Patient", rng.choice(ids))

        async def search(repo: PgRepository = repo) -> None:
            await repo.search_json(CLIENT, "Patient", [("given", f"An{rng.randrange(patients)}")])

        await _run(read, 1, concurrency)  # warm-up
        results[("read", name)] = await _run(read, seconds, concurrency)
        results[("search", name)] = await _run(search, seconds, concurrency)
    await wait_log.close()
    await batch_log.close()
    print(f"concurrency {concurrency}, {seconds:.0f} s per cell, {patients} patients")
    for (kind, name), value in results.items():
        base = results[(kind, "no access, no audit")]
        print(f"{kind:6s} {name:26s} {value:8.0f} /s  {value / base:5.2f}x")
    async with pool.acquire() as conn:
        print("audit rows:", await conn.fetchval("SELECT count(*) FROM audit_log"))
    await pool.close()
    await audit_pool.close()


def cli() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--patients", type=int, default=2000)
    args = parser.parse_args()
    import os

    base = os.environ.get("DATABASE_URL")
    embedded = None
    if not base:
        embedded = start_embedded(Path("var/bench-audit-pg"), db_name="postgres")
        base = embedded.url
    url = with_database(base, f"benhan_audit_bench_{os.getpid()}")
    asyncio.run(ensure_database(url))
    migrate.upgrade(url)
    try:
        asyncio.run(main(url, args.seconds, args.concurrency, args.patients))
    finally:
        async def drop() -> None:
            admin = await asyncpg.connect(with_database(url, "postgres"))
            await admin.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1].split("?")[0]}" WITH (FORCE)')
            await admin.close()

        asyncio.run(drop())
        if embedded is not None:
            embedded.stop()


if __name__ == "__main__":
    cli()
