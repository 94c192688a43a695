"""The audit log: append-only, hash-chained storage of AuditEvents (layout: migrations 0003).

- Writes are audited in their own transaction (:func:`append` on the write's connection), so a write and
  its audit record commit together or not at all.
- Reads, searches and denials are audited through :class:`AuditLog`: a group commit where each request
  waits until the batch holding its record is committed (``wait=True``, the default: nothing is lost even if
  the process dies, at a throughput cost: docs/security.md); or an in-process queue flushed every 100 ms
  (and on shutdown) in one statement per batch, retried until stored (``wait=False``).
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
#: the read audit's flushers' chains (:class:`AuditLog`; heads: migration 0017), apart from the writers'
FLUSHER_CHAINS = range(AUDIT_CHAINS, 2 * AUDIT_CHAINS)
log = logging.getLogger(__name__)


#: the argument types of ``benhan_audit_append_rows`` (migrations 0013), for statements that embed the call
APPEND_TYPES = ("int4", "json", "bytea[]")


def _rows(records: list[AuditRecord]) -> str:
    """The records' columns as one JSON array of objects (``json_to_recordset``), not 11 arrays that asyncpg
    checks element by element (migrations 0013)."""
    return orjson.dumps([
        {"recorded": r.recorded, "action": r.action, "outcome": r.outcome, "user_name": r.user_name,
         "user_id": r.user_id, "client_id": r.client_id, "facility_id": r.facility_id,
         "department_id": r.department_id, "patient_id": r.patient_id, "break_glass": r.break_glass,
         "entity": " ".join(r.entity) or None}
        for r in records
    ]).decode()


def _contents(records: list[AuditRecord]) -> list[bytes]:
    return [pack(r.content, "AuditEvent") for r in records]  # stored like resources (storage/content.py)


def append_args(records: list[AuditRecord], chain: int | None = None) -> list[Any]:
    """The arguments of ``benhan_audit_append_rows`` for ``records`` on ``chain`` (random when None): the
    columns as JSON (:func:`_rows`) and the contents as ``bytea[]``."""
    return [random.randrange(AUDIT_CHAINS) if chain is None else chain, _rows(records), _contents(records)]


def link(prev: bytes, seq: int, content: bytes) -> bytes:
    """Record ``seq``'s hash after its chain's previous one: ``sha256(hash_(n-1) || int8send(seq_n) ||
    content_n)``, the rule of ``benhan_audit_append_rows`` (migrations 0003, 0015, 0017)."""
    return hashlib.sha256(prev + seq.to_bytes(8, "big", signed=True) + content).digest()


def chain_hashes(prev: bytes, seq: int, contents: list[bytes]) -> list[bytes]:
    """The hashes of the records after record ``seq``, whose hash is ``prev`` (:func:`link`)."""
    out = []
    for i, content in enumerate(contents, 1):
        prev = link(prev, seq + i, content)
        out.append(prev)
    return out


#: A flusher's append to its own chain (:data:`FLUSHER_CHAINS`) whose head it knows: one statement, no
#: PL/pgSQL.  The head moves only if it still is ``$2`` (else nothing is inserted: another process appended
#: to the chain, and the flusher reads the head again); the UPDATE's row lock, held until the commit, keeps
#: appends to one chain in commit order, as ``benhan_audit_append_rows``'s ``FOR UPDATE`` does.
_APPEND_AT = """
WITH head AS (
    UPDATE audit_head SET seq = $2::bigint + cardinality($5::bytea[]), hash = $6::bytea
    WHERE chain = $1::int4 AND seq = $2::bigint RETURNING chain)
INSERT INTO audit_log (chain, seq, hash, recorded, action, outcome, user_name, user_id, client_id, facility_id,
                       department_id, patient_id, break_glass, entity, content)
SELECT head.chain, $2::bigint + t.i, ($4::bytea[])[t.i], t.recorded, t.action, t.outcome, t.user_name, t.user_id,
       t.client_id, t.facility_id, t.department_id, t.patient_id, t.break_glass,
       coalesce(string_to_array(t.entity, ' '), '{}'::text[]), ($5::bytea[])[t.i]
FROM head, ROWS FROM (json_to_recordset($3::json) AS (
        recorded timestamptz, action text, outcome text, user_name text, user_id text, client_id text,
        facility_id text, department_id text, patient_id text, break_glass boolean, entity text))
     WITH ORDINALITY AS t(recorded, action, outcome, user_name, user_id, client_id, facility_id,
                          department_id, patient_id, break_glass, entity, i)
"""


_APPEND_ROWS = "SELECT benhan_audit_append_rows($1, $2::json, $3)"


async def append(conn: Conn, records: list[AuditRecord], chain: int | None = None) -> None:
    """Append ``records`` to one chain inside the caller's transaction: ``chain`` if no other transaction holds
    its head, else the next free one of the writers' (migrations 0015, 0017)."""
    if not records:
        return
    await conn.execute(_APPEND_ROWS, *append_args(records, chain))


async def append_known(conn: Conn, chain: int, records: list[AuditRecord], heads: dict[int, tuple[int, bytes]]) -> None:
    """Append ``records`` to ``chain`` in one statement of its own (:data:`_APPEND_AT`), hashed here against
    the chain's head as ``heads`` knows it (read if not), and note the new head there.  PostgreSQL then runs no
    PL/pgSQL, no hashing and no head lookup per batch: its CPU per append of 10 read records 226.7 -> 200.0 us
    (``python -m bench.sql_costs``, lowest of three rounds).  If another process appended to the chain
    meanwhile (two workers whose process ids fall on one chain, or an append whose answer was lost), nothing
    is inserted and the head is read again; after three such misses, or without a head row, the locking
    append does it."""
    if not records:
        return
    rows, contents = _rows(records), _contents(records)
    for _attempt in range(3):
        head = heads.get(chain)
        if head is None:
            found = await conn.fetchrow("SELECT seq, hash FROM audit_head WHERE chain = $1", chain)
            if found is None:
                break  # a database without migration 0017's heads: the locking append makes one
            head = heads[chain] = (found["seq"], bytes(found["hash"]))
        seq, prev = head
        hashes = chain_hashes(prev, seq, contents)
        status = await conn.execute(_APPEND_AT, chain, seq, rows, hashes, contents, hashes[-1])
        if status != "INSERT 0 0":
            heads[chain] = (seq + len(records), hashes[-1])
            return
        del heads[chain]
    await conn.execute(_APPEND_ROWS, chain, rows, contents)


class AuditLog:
    """Durable, batched audit of reads: a group commit.  ``flushers`` tasks each hold one connection of a
    dedicated pool (so a saturated request pool can never starve the audit) and append to a chain of their
    own, 32-63 (:data:`FLUSHER_CHAINS`, by process id), whose head they keep (:func:`append_known`).
    A flusher keeps its connection from one batch to the next (until :meth:`close`, or an error: then it
    takes a fresh one): at 8 clients a batch holds ~2.5 records, so a pool acquire and release per batch
    (a task for the release, a timer, the proxy) was paid by every other record.
    One flusher is the default: the records that arrive during a commit go together in the next one, and
    bigger batches cost PostgreSQL less per record (reads at 32 clients over HTTP: audit cost 30 % with two
    flushers, 22 % with one, ~19 % when the flusher also yields once before taking its batch)."""

    _loop: asyncio.AbstractEventLoop  # the flushers' (set when they start)

    def __init__(self, pool: asyncpg.Pool, flushers: int = 1, *, wait: bool = True, interval: float = 0.1) -> None:
        self.pool = pool
        self.flushers = flushers
        #: wait=True: a request returns only after its record is committed (nothing lost, even on a crash);
        #: wait=False: records are queued and flushed every ``interval`` seconds and on shutdown (a crash of
        #: the process can lose the last ``interval`` of reads; much cheaper under load).
        self.wait = wait
        self.interval = interval
        base = os.getpid() % len(FLUSHER_CHAINS)
        self.chains = [FLUSHER_CHAINS[(base + i) % len(FLUSHER_CHAINS)] for i in range(flushers)]
        #: each chain's head (seq, hash) as this process last wrote or read it (:func:`append_known`)
        self._heads: dict[int, tuple[int, bytes]] = {}
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
                await append(conn, records)
            return
        for task in self._tasks:
            if not task.done():
                break
        else:  # first use, or every flusher ended (a new event loop): start them
            self._idle = []
            self._loop = asyncio.get_running_loop()
            self._tasks = [self._loop.create_task(self._run(c)) for c in self.chains]
        # the flushers' loop, kept: Python 3.11's get_running_loop() makes a getpid() system call each time
        fut = self._loop.create_future() if self.wait else None
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
                await append_known(conn, chain, [r for recs, _f in batch for r in recs], self._heads)
            except BaseException:
                del self._held[chain]  # broken or cancelled: give it back, the next batch takes another
                self._heads.pop(chain, None)  # committed or not: unknown, read the head again
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
                digest = link(prev, row["seq"], row["content"])
                if digest != bytes(row["hash"]):
                    return VerifyResult(False, checked, where, "hash does not match the content")
                if not _columns_match(row):
                    return VerifyResult(False, checked, where, "columns do not match the content")
                prev, expected_seq = digest, expected_seq + 1
        head = await conn.fetchrow("SELECT seq, hash FROM audit_head WHERE chain = $1", chain)
        if head is not None and (head["seq"] != expected_seq - 1 or bytes(head["hash"]) != prev):
            return VerifyResult(False, checked, (chain, expected_seq), "rows missing at the end of the chain")
    return VerifyResult(True, checked)
