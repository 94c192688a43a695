"""The audit log: append-only, hash-chained storage of AuditEvents (layout: migrations 0003 and 0018).

- Writes are audited in their own transaction (:func:`append` on the write's connection: rows of
  ``audit_log``), so a write and its audit record commit together or not at all.
- Reads, searches and denials are audited through :class:`AuditLog`: a group commit where each request
  waits until the batch holding its record is committed (``wait=True``, the default: nothing is lost even if
  the process dies, at a throughput cost: docs/security.md; whether "committed" includes the WAL flush is
  the pool's sessions' ``synchronous_commit``, off in ``BENHAN_AUDIT_READS=commit``: app.py); or an
  in-process queue flushed every 100 ms (and on shutdown), retried until stored (``wait=False``).  A batch
  is one block (:func:`append_block`: a row of ``audit_block``).
- ``audit_event`` (a view) shows rows and blocks' events alike.
- Reading it back (the events' JSON, ``audit verify``): ``storage/pg/audit_trail.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import random
from typing import Any

import asyncpg
import orjson

from benhan.fhir.storage.access_types import AuditRecord, event_json
from benhan.fhir.storage.content import pack, unpack
from benhan.kernel.db import Conn

AUDIT_CHAINS = 32  # heads: migrations 0003 (0-7) and 0015 (8-31); an append may take another free one
#: the chains 32-63 (heads: migration 0017) where the read audit's flushers appended rows until migration 0018
FLUSHER_CHAINS = range(AUDIT_CHAINS, 2 * AUDIT_CHAINS)
#: the read audit's blocks' chains (:class:`AuditLog`, :func:`append_block`; heads: migration 0018)
BLOCK_CHAINS = range(2 * AUDIT_CHAINS, 3 * AUDIT_CHAINS)
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
    content_n)``, the rule of ``benhan_audit_append_rows`` (migrations 0003, 0015, 0017) and of the blocks
    (:func:`append_block`, migration 0018)."""
    return hashlib.sha256(prev + seq.to_bytes(8, "big", signed=True) + content).digest()


_APPEND_ROWS = "SELECT benhan_audit_append_rows($1, $2::json, $3)"


async def append(conn: Conn, records: list[AuditRecord], chain: int | None = None) -> None:
    """Append ``records`` to one chain inside the caller's transaction: ``chain`` if no other transaction holds
    its head, else the next free one of the writers' (migrations 0015, 0017)."""
    if not records:
        return
    await conn.execute(_APPEND_ROWS, *append_args(records, chain))


#: A flusher's block (migrations 0018, 0019) on its own chain, whose head it knows: one statement, no PL/pgSQL.
#: The head moves only if it still is ``$2`` (else nothing is inserted: another process appended to the chain,
#: and the flusher reads the head again); the UPDATE's row lock, held until the commit, keeps the blocks of one
#: chain in commit order.  Arrays travel as text (``$6``, ``$7``) and the per-event columns as one JSON value
#: (``$9``): asyncpg encodes an array parameter element by element (~1 µs each, migration 0019).
_APPEND_BLOCK = """
WITH head AS (
    UPDATE audit_head SET seq = $2::bigint + 1, hash = $3::bytea WHERE chain = $1::int4 AND seq = $2::bigint
    RETURNING chain)
INSERT INTO audit_block (chain, seq, hash, recorded_from, recorded_to, patients, users, any_glass, events, content)
SELECT head.chain, $2::bigint + 1, $3, $4, $5, $6::text::text[], $7::text::text[], $8, $9::jsonb, $10
FROM head
"""
#: the most events in one block: a batch of the ``batch`` mode (100 ms of reads) is cut into blocks of this size
BLOCK_EVENTS = 1000


def block_content(records: list[AuditRecord]) -> bytes:
    """A block's stored content, compressed once (storage/content.py), as lines:

    1. the events, a JSON array of ``[template, value, …]`` (``access_types.EventParts``: each record's
       template by its index in line 2, then its values);
    2. the templates, a JSON array of the indexes of their texts in the lines that follow;
    3. … each distinct text, as it is (JSON text: RFC 8259 §7 escapes control characters in strings, so a
       compact text holds no raw newline; a text with one, never made by ``access/audit.py``, is refused).

    A caller's texts are stored once per block and nothing is joined or escaped per event; the dictionary
    compresses the texts as the JSON it was trained on.  Blocks written before (migration 0018) hold the
    events' JSON one per line; :func:`block_events` reads both."""
    templates: dict[tuple[bytes, ...], int] = {}
    events: list[tuple[object, ...]] = []
    for record in records:
        parts = record.parts
        template, values = ((parts,), ()) if isinstance(parts, bytes) else parts
        index = templates.get(template)
        if index is None:
            index = templates[template] = len(templates)
        events.append((index, *values))
    texts: dict[bytes, int] = {}
    shapes = [[texts.setdefault(text, len(texts)) for text in template] for template in templates]
    if any(b"\n" in text for text in texts):
        raise ValueError("an audit event's JSON holds a raw newline")
    return pack(b"\n".join((orjson.dumps(events), orjson.dumps(shapes), *texts)), "AuditEvent")


def block_events(content: bytes | memoryview) -> list[bytes]:
    """The events' JSON of a block's stored content (:func:`block_content`), in their order (``part`` 1, 2 …)."""
    lines = unpack(content).split(b"\n")
    if lines[0][:1] == b"{":  # the first form (migration 0018): the events' JSON, one per line
        return lines
    texts = lines[2:]
    templates = [tuple(texts[i] for i in shape) for shape in orjson.loads(lines[1])]
    return [event_json((templates[event[0]], tuple(event[1:]))) for event in orjson.loads(lines[0])]


def text_array(values: list[str]) -> str:
    """``values`` as a PostgreSQL array literal (arrays.html §8.15.6: each element double-quoted, ``"`` and
    ``\\`` escaped by a backslash)."""
    return "{" + ",".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values) + "}"


def _block_args(records: list[AuditRecord], content: bytes) -> list[Any]:
    """``$4``-``$10`` of :data:`_APPEND_BLOCK`: the time span, the block-level columns the indexes hold, the
    per-event columns as one JSON object of arrays (migration 0019; an event's ``entity`` as one
    space-separated string), and the content."""
    (_c, recorded, action, outcome, user_name, user_id, client_id, facility_id, department_id, patient_id,
     break_glass, entity) = zip(*records, strict=True)
    events = orjson.dumps({
        "recorded": recorded, "action": action, "outcome": outcome, "user_name": user_name, "user_id": user_id,
        "client_id": client_id, "facility_id": facility_id, "department_id": department_id,
        "patient_id": patient_id, "break_glass": break_glass, "entity": [" ".join(e) for e in entity]})
    return [min(recorded), max(recorded), text_array(sorted({p for p in patient_id if p})),
            text_array(sorted({u for u in user_name if u})), any(break_glass), events.decode(), content]


async def append_block(conn: Conn, chain: int, records: list[AuditRecord],
                       heads: dict[int, tuple[int, bytes]]) -> None:
    """Append ``records`` to ``chain`` as blocks of :data:`BLOCK_EVENTS` at most (migration 0018), each in a
    statement of its own (:data:`_APPEND_BLOCK`; several go in one transaction), hashed here against the
    chain's head as ``heads`` knows it (read if not), and note the new head there.  If another process
    appended to the chain meanwhile (two workers whose process ids fall on one chain, or a block whose answer
    was lost), nothing is inserted and the head is read again; the third try holds the head's row lock."""
    if len(records) > BLOCK_EVENTS:
        async with conn.transaction():
            for i in range(0, len(records), BLOCK_EVENTS):
                await append_block(conn, chain, records[i:i + BLOCK_EVENTS], heads)
        return
    if not records:
        return
    content = block_content(records)
    args = _block_args(records, content)
    for _attempt in range(2):
        if await _try_block(conn, chain, content, args, heads):
            return
    async with conn.transaction():
        if not await _try_block(conn, chain, content, args, heads, lock=True):
            raise RuntimeError(f"audit chain {chain}: the head moved under its lock")


async def _try_block(conn: Conn, chain: int, content: bytes, args: list[Any], heads: dict[int, tuple[int, bytes]],
                     lock: bool = False) -> bool:
    head = heads.get(chain)
    if head is None:
        read = "SELECT seq, hash FROM audit_head WHERE chain = $1" + (" FOR UPDATE" if lock else "")
        found = await conn.fetchrow(read, chain)
        if found is None:  # a chain no migration made a head for starts at its genesis
            await conn.execute("INSERT INTO audit_head VALUES ($1, 0, benhan_audit_genesis($1)) ON CONFLICT DO NOTHING",
                               chain)
            found = await conn.fetchrow(read, chain)
            assert found is not None
        head = heads[chain] = (found["seq"], bytes(found["hash"]))
    seq, prev = head
    digest = link(prev, seq + 1, content)
    if await conn.execute(_APPEND_BLOCK, chain, seq, digest, *args) != "INSERT 0 0":
        heads[chain] = (seq + 1, digest)
        return True
    del heads[chain]
    return False


class AuditLog:
    """Durable, batched audit of reads: a group commit.  ``flushers`` tasks each hold one connection of a
    dedicated pool (so a saturated request pool can never starve the audit) and append to a chain of their
    own, 64-95 (:data:`BLOCK_CHAINS`, by process id), whose head they keep, and commit each batch as one block
    (:func:`append_block`).
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
        base = os.getpid() % len(BLOCK_CHAINS)
        self.chains = [BLOCK_CHAINS[(base + i) % len(BLOCK_CHAINS)] for i in range(flushers)]
        #: each chain's head (seq, hash) as this process last wrote or read it (:func:`append_block`)
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
                await append_block(conn, chain, [r for recs, _f in batch for r in recs], self._heads)
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
