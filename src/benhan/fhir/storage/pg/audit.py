"""The audit log: append-only, hash-chained storage of AuditEvents (layout: migrations 0003).

- Writes are audited in their own transaction (:func:`append` on the write's connection), so a write and
  its audit record commit together or not at all.
- Reads, searches and denials are audited through :class:`AuditLog`: an in-process queue flushed every
  100 ms (and on shutdown) in one statement per batch, retried until stored (``wait=False``, the default);
  or a group commit where each request waits until the batch holding its record is committed
  (``wait=True``: nothing is lost even if the process dies, at a throughput cost: docs/security.md).
- :func:`verify` recomputes every chain and names the first row whose hash does not match.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import random
from dataclasses import dataclass
from datetime import UTC
from typing import Any

import asyncpg
import orjson

from benhan.fhir.storage.access_types import AuditRecord
from benhan.fhir.storage.content import pack, unpack
from benhan.kernel.db import Conn

AUDIT_CHAINS = 32  # heads: migrations 0003 (0-7) and 0015 (8-31); an append may take another free one
log = logging.getLogger(__name__)


#: the argument types of ``benhan_audit_append_rows`` (migrations 0013), for statements that embed the call
APPEND_TYPES = ("int4", "json", "bytea[]")


def append_args(records: list[AuditRecord], chain: int | None = None) -> list[Any]:
    """The arguments of ``benhan_audit_append_rows`` for ``records`` on ``chain`` (random when None): the
    columns as one JSON array of objects and the contents as ``bytea[]``, not 13 arrays that asyncpg checks
    element by element (migrations 0013)."""
    rows = orjson.dumps([
        {"recorded": r.recorded, "action": r.action, "outcome": r.outcome, "user_name": r.user_name,
         "user_id": r.user_id, "client_id": r.client_id, "facility_id": r.facility_id,
         "department_id": r.department_id, "patient_id": r.patient_id, "break_glass": r.break_glass,
         "entity": " ".join(r.entity) or None}
        for r in records
    ])
    return [
        random.randrange(AUDIT_CHAINS) if chain is None else chain, rows.decode(),
        [pack(r.content, "AuditEvent") for r in records],  # stored like resources (storage/content.py)
    ]


async def append(conn: Conn, records: list[AuditRecord], chain: int | None = None) -> None:
    """Append ``records`` to one chain inside the caller's transaction: ``chain`` if no other transaction holds
    its head, else the next free one (migration 0015)."""
    if not records:
        return
    await conn.execute("SELECT benhan_audit_append_rows($1, $2::json, $3)", *append_args(records, chain))


class AuditLog:
    """Durable, batched audit of reads: a group commit.  ``flushers`` tasks each hold one connection of a
    dedicated pool (so a saturated request pool can never starve the audit) and name a chain of their own
    (taken unless a writer holds its head: then the next free one).
    A flusher keeps its connection from one batch to the next (until :meth:`close`, or an error: then it
    takes a fresh one): at 8 clients a batch holds ~2.5 records, so a pool acquire and release per batch
    (a task for the release, a timer, the proxy) was paid by every other record.
    One flusher is the default: the records that arrive during a commit go together in the next one, and
    bigger batches cost PostgreSQL less per record (reads at 32 clients over HTTP: audit cost 30 % with two
    flushers, 22 % with one, ~19 % when the flusher also yields once before taking its batch)."""

    def __init__(self, pool: asyncpg.Pool, flushers: int = 1, *, wait: bool = True, interval: float = 0.1) -> None:
        self.pool = pool
        self.flushers = flushers
        #: wait=True: a request returns only after its record is committed (nothing lost, even on a crash);
        #: wait=False: records are queued and flushed every ``interval`` seconds and on shutdown (a crash of
        #: the process can lose the last ``interval`` of reads; much cheaper under load).
        self.wait = wait
        self.interval = interval
        base = os.getpid() % AUDIT_CHAINS
        self.chains = [(base + i) % AUDIT_CHAINS for i in range(flushers)]
        #: records waiting for the next batch, each with the future its request waits on (None: nobody waits);
        #: a list and one future per idle flusher: less bookkeeping per record than an ``asyncio.Queue``
        self._items: list[tuple[list[AuditRecord], asyncio.Future[None] | None]] = []
        self._idle: list[asyncio.Future[None]] = []  # set by the next record: an idle flusher's wake-up
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False
        #: each flusher's connection (by chain), taken at its first batch and kept
        self._held: dict[int, asyncpg.pool.PoolConnectionProxy] = {}

    async def record(self, records: list[AuditRecord]) -> None:
        """Return once ``records`` are committed; raise if they could not be (the caller then fails)."""
        if not records:
            return
        if self._closing:
            async with self.pool.acquire() as conn:
                await append(conn, records, self.chains[0])
            return
        for task in self._tasks:
            if not task.done():
                break
        else:  # first use, or every flusher ended (a new event loop): start them
            self._idle = []
            self._tasks = [asyncio.get_running_loop().create_task(self._run(c)) for c in self.chains]
        fut = asyncio.get_running_loop().create_future() if self.wait else None
        self._items.append((records, fut))
        if self._idle:
            wake = self._idle.pop()
            if not wake.done():
                wake.set_result(None)
        if fut is not None:
            await fut

    async def _run(self, chain: int) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._items:
                if self._closing:
                    return
                wake = loop.create_future()
                self._idle.append(wake)
                await wake
                continue
            if not self.wait:
                await asyncio.sleep(self.interval)  # gather a bigger batch: one statement, one commit
            else:
                await asyncio.sleep(0)  # let the requests already runnable add theirs: one commit for all
            batch, self._items = self._items, []
            if batch:  # (another flusher may have taken them meanwhile)
                await self._flush(chain, batch)

    async def _flush(self, chain: int, batch: list[tuple[list[AuditRecord], asyncio.Future[None] | None]]) -> None:
        try:
            conn = self._held.get(chain)
            if conn is None or _closed(conn):  # closed by the server (restart, idle timeout): take another
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await self.pool.release(conn)
                conn = self._held[chain] = await self.pool.acquire()
            try:
                # One statement = one transaction: a single round trip, committed (fsync) before we answer.
                await append(conn, [r for recs, _f in batch for r in recs], chain)
            except BaseException:
                del self._held[chain]  # broken or cancelled: give it back, the next batch takes another
                with contextlib.suppress(Exception):
                    await self.pool.release(conn)
                raise
        except Exception as exc:
            if self.wait:  # the waiting requests fail closed: no response without its audit
                for _recs, fut in batch:
                    if fut is not None and not fut.done():
                        fut.set_exception(exc)
                return
            if self._closing:  # shutting down: nothing will retry them
                log.error("audit flush failed at shutdown; records lost",
                          extra={"records": len(batch), "error": type(exc).__name__})
                return
            # Nobody waits: keep the records and try again after the interval (the database may be back).
            log.error("audit flush failed; retrying", extra={"records": len(batch), "error": type(exc).__name__})
            self._items[:0] = batch
            await asyncio.sleep(self.interval)
            return
        for _recs, fut in batch:
            if fut is not None and not fut.done():
                fut.set_result(None)

    async def close(self) -> None:
        """Flush what is queued, stop and give the flushers' connections back (application shutdown; until
        then the pool's ``close()`` waits for them)."""
        self._closing = True
        for wake in self._idle:
            if not wake.done():
                wake.set_result(None)
        self._idle = []
        with contextlib.suppress(Exception):
            await asyncio.gather(*self._tasks)
        held, self._held = list(self._held.values()), {}
        for conn in held:
            await self.pool.release(conn)


def _closed(conn: asyncpg.pool.PoolConnectionProxy) -> bool:
    try:
        return conn.is_closed()
    except asyncpg.InterfaceError:  # the pool took it back when the server closed it
        return True


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    checked: int
    #: (chain, seq) of the first row that breaks its chain
    broken: tuple[int, int] | None = None
    reason: str = ""


def genesis(chain: int) -> bytes:
    return hashlib.sha256(f"benhan-audit-genesis-{chain}".encode()).digest()


def _columns_match(row: asyncpg.Record) -> bool:
    """The query columns must say what the hashed content says (so a report cannot be misled)."""
    event = orjson.loads(unpack(row["content"]))
    patients = [e["what"]["reference"][8:] for e in event.get("entity", [])
                if e.get("role", {}).get("code") == "1" and "what" in e]
    glass = any(c.get("code") == "BTG" for p in event.get("purposeOfEvent", []) for c in p.get("coding", []))
    recorded = str(event.get("recorded", ""))[:19]
    return bool(row["patient_id"] == (patients[0] if patients else None) and row["break_glass"] == glass
                and recorded == row["recorded"].astimezone(UTC).isoformat()[:19])


async def verify(conn: Conn) -> VerifyResult:
    """Recompute each chain from its genesis; the first mismatch (hash, sequence gap or columns) is named."""
    checked = 0
    chains = [r["chain"] for r in await conn.fetch("SELECT DISTINCT chain FROM audit_log ORDER BY chain")]
    for chain in chains:
        prev, expected_seq = genesis(chain), 1
        async with conn.transaction(readonly=True, isolation="repeatable_read"):
            cursor = conn.cursor(
                "SELECT chain, seq, hash, recorded, patient_id, break_glass, content FROM audit_log"
                " WHERE chain = $1 ORDER BY seq", chain, prefetch=2000,
            )
            async for row in cursor:
                checked += 1
                where = (chain, row["seq"])
                if row["seq"] != expected_seq:
                    return VerifyResult(False, checked, where, f"row missing before seq {row['seq']}")
                digest = hashlib.sha256(prev + row["seq"].to_bytes(8, "big", signed=True) + row["content"]).digest()
                if digest != bytes(row["hash"]):
                    return VerifyResult(False, checked, where, "hash does not match the content")
                if not _columns_match(row):
                    return VerifyResult(False, checked, where, "columns do not match the content")
                prev, expected_seq = digest, expected_seq + 1
        head = await conn.fetchrow("SELECT seq, hash FROM audit_head WHERE chain = $1", chain)
        if head is not None and (head["seq"] != expected_seq - 1 or bytes(head["hash"]) != prev):
            return VerifyResult(False, checked, (chain, expected_seq), "rows missing at the end of the chain")
    return VerifyResult(True, checked)
