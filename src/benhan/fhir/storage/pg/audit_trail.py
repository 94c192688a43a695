"""The audit trail read back (layout: migrations 0003, 0018 and 0019): the events' JSON, rows' and blocks' alike
(:func:`event_contents`, for the FHIR AuditEvent API and the reports), and :func:`verify`, which recomputes
every chain and names the first row or block whose hash or columns do not match.  Writing it:
``storage/pg/audit.py``."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
import orjson

from benhan.fhir.storage.content import unpack
from benhan.fhir.storage.pg.audit import BLOCK_CHAINS, block_events, link
from benhan.kernel.db import Conn


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    checked: int
    #: (chain, seq) of the first row that breaks its chain
    broken: tuple[int, int] | None = None
    reason: str = ""


def genesis(chain: int) -> bytes:
    return hashlib.sha256(f"benhan-audit-genesis-{chain}".encode()).digest()


def _columns_match(content: bytes, patient_id: str | None, break_glass: bool, recorded: datetime) -> bool:
    """The query columns must say what the hashed content (one event's JSON) says, so a report cannot be
    misled."""
    event = orjson.loads(content)
    patients = [e["what"]["reference"][8:] for e in event.get("entity", [])
                if e.get("role", {}).get("code") == "1" and "what" in e]
    glass = any(c.get("code") == "BTG" for p in event.get("purposeOfEvent", []) for c in p.get("coding", []))
    return bool(patient_id == (patients[0] if patients else None) and break_glass == glass
                and str(event.get("recorded", ""))[:19] == recorded.astimezone(UTC).isoformat()[:19])


#: a block's per-event columns, the keys of its ``events`` (migrations 0018, 0019), each an array with an element
#: per event
_BLOCK_ARRAYS = ("recorded", "action", "outcome", "user_name", "user_id", "client_id", "facility_id",
                 "department_id", "patient_id", "break_glass", "entity")


def _block_fault(row: asyncpg.Record, events: list[bytes]) -> str:
    """Why a block's columns do not say what its content says ("" when they do): per-event columns that are
    not arrays of as many elements as the events, or not of their types (``audit_event`` could not read
    them), an event whose columns differ from its JSON, or block-level columns (the indexed patients and
    users, the time span, the break-the-glass flag) that are not those of its events."""
    try:
        columns = orjson.loads(row["events"])
        if set(columns) != set(_BLOCK_ARRAYS) or any(len(columns[c]) != len(events) for c in _BLOCK_ARRAYS):
            raise ValueError
        recorded = [datetime.fromisoformat(r) for r in columns["recorded"]]
        for i, event in enumerate(events):
            if not _columns_match(event, columns["patient_id"][i], columns["break_glass"][i], recorded[i]):
                return f"columns do not match the content (event {i + 1})"
        derived = (min(recorded), max(recorded), sorted({p for p in columns["patient_id"] if p}),
                   sorted({u for u in columns["user_name"] if u}), any(columns["break_glass"]))
    except (TypeError, ValueError):  # (orjson.JSONDecodeError is a ValueError)
        return "columns do not match the content"
    if derived != (row["recorded_from"], row["recorded_to"], list(row["patients"]), list(row["users"]),
                   row["any_glass"]):
        return "block columns do not match its events"
    return ""


async def verify(conn: Conn) -> VerifyResult:
    """Recompute each chain from its genesis, the rows' (``audit_log``) and the blocks' (``audit_block``); the
    first mismatch (hash, sequence gap, columns, or a head past the chain's end) is named."""
    checked = 0
    chains = [(r["chain"], r["blocks"]) for r in await conn.fetch(
        "SELECT DISTINCT chain, false AS blocks FROM audit_log UNION SELECT DISTINCT chain, true FROM audit_block"
        " UNION SELECT chain, chain >= $1 FROM audit_head WHERE seq > 0 ORDER BY chain", BLOCK_CHAINS.start)]
    for chain, blocks in chains:
        prev, expected_seq = genesis(chain), 1
        what = "block" if blocks else "row"
        sql = ("SELECT seq, hash, recorded_from, recorded_to, patients, users, any_glass, events, content"
               " FROM audit_block WHERE chain = $1 ORDER BY seq" if blocks else
               "SELECT seq, hash, recorded, patient_id, break_glass, content FROM audit_log WHERE chain = $1"
               " ORDER BY seq")
        async with conn.transaction(readonly=True, isolation="repeatable_read"):
            async for row in conn.cursor(sql, chain, prefetch=200 if blocks else 2000):
                where = (chain, row["seq"])
                if row["seq"] != expected_seq:
                    return VerifyResult(False, checked, where, f"{what} missing before seq {row['seq']}")
                digest = link(prev, row["seq"], row["content"])
                if digest != bytes(row["hash"]):
                    return VerifyResult(False, checked, where, "hash does not match the content")
                events = block_events(row["content"]) if blocks else []
                checked += len(events) if blocks else 1
                fault = _block_fault(row, events) if blocks else (
                    "" if _columns_match(unpack(row["content"]), row["patient_id"], row["break_glass"],
                                         row["recorded"]) else "columns do not match the content")
                if fault:
                    return VerifyResult(False, checked, where, fault)
                prev, expected_seq = digest, expected_seq + 1
            head = await conn.fetchrow("SELECT seq, hash FROM audit_head WHERE chain = $1", chain)
        if head is not None and (head["seq"] != expected_seq - 1 or bytes(head["hash"]) != prev):
            return VerifyResult(False, checked, (chain, expected_seq), f"{what}s missing at the end of the chain")
    return VerifyResult(True, checked)


#: the columns of ``audit_event`` (migration 0018) a report reads, the stored content last (rows only)
EVENT_COLUMNS = ("chain, seq, part, recorded, action, outcome, user_name, user_id, client_id, facility_id,"
                 " department_id, patient_id, break_glass, entity, content")


async def event_contents(conn: Conn, events: Sequence[asyncpg.Record]) -> list[bytes]:
    """The AuditEvent JSON of each of ``events`` (rows of ``audit_event`` with chain, seq, part, content): a
    row's own content, or its event of its block (each block read once)."""
    wanted = sorted({(e["chain"], e["seq"]) for e in events if e["part"]})
    blocks: dict[tuple[int, int], list[bytes]] = {}
    if wanted:  # (their keys as JSON: arrays would cost a fresh connection asyncpg's type introspection)
        for b in await conn.fetch("SELECT b.chain, b.seq, b.content FROM audit_block b JOIN json_to_recordset($1::json)"
                                  " AS w(chain int4, seq int8) USING (chain, seq)",
                                  orjson.dumps([{"chain": c, "seq": q} for c, q in wanted]).decode()):
            blocks[(b["chain"], b["seq"])] = block_events(b["content"])
    return [blocks[(e["chain"], e["seq"])][e["part"] - 1] if e["part"] else unpack(e["content"]) for e in events]
