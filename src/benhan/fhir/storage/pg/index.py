"""Write the search index rows of a resource (layout: migrations/versions/0002_search_index.py).

The repository writes a resource and its index rows in one statement (data-modifying CTEs and ``unnest``
of arrays), inside its write transaction, so the index always matches the current version:
``insert_new`` for new resources (one or the many POSTs of a transaction Bundle), ``supersede`` for a new
version, ``supersede_deleted`` for a deletion.
``copy_index`` writes the rows of many resources with ``COPY`` (bulk loads) and ``reindex``
(:mod:`.reindex`) rebuilds everything (``benhan reindex``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

import orjson

from benhan.fhir.search.compartment import patient_compartment
from benhan.fhir.search.extract import extract
from benhan.fhir.search.rows import IndexRows
from benhan.fhir.search.sortdate import sort_date
from benhan.fhir.storage.access_types import AuditRecord, Derived
from benhan.fhir.storage.content import pack
from benhan.fhir.storage.pg.access_sql import facts_args, facts_ctes
from benhan.fhir.storage.pg.audit import APPEND_TYPES, append_args
from benhan.fhir.storage.protocol import JsonObj
from benhan.kernel.db import Conn

__all__ = [
    "INDEX_TABLES", "NewRow", "TableRows", "copy_index", "insert_new", "supersede", "supersede_deleted", "table_rows",
]

INDEX_TABLES = (
    "sp_string", "sp_token", "sp_date", "sp_number", "sp_quantity", "sp_reference", "sp_uri", "sp_text",
)
_CONTENT_LIMIT = 20_000  # characters of folded text in the _content vector (tsvector entries stay small)

# (table, columns, array types) for the unnest inserts, in IndexRows field order.
_LAYOUT: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("sp_string", "param, value, exact", ("int4", "text", "text")),
    ("sp_token", "param, system, code, text", ("int4", "int8", "text", "text")),
    ("sp_date", "param, low, high", ("int4", "timestamptz", "timestamptz")),
    ("sp_number", "param, value", ("int4", "numeric")),
    ("sp_quantity", "param, value, system, code, canonical_value, canonical_code",
     ("int4", "numeric", "int8", "text", "numeric", "text")),
    ("sp_reference", "param, ref_type, ref_id", ("int4", "text", "text")),
    ("sp_uri", "param, value", ("int4", "text")),
)
# Rows per table (``rid`` first) plus the (rid, narrative, content) texts: what COPY writes.
TableRows = dict[str, list[tuple[Any, ...]]]
_TSV = "CASE WHEN {0} = '' THEN NULL ELSE to_tsvector('simple', {0}) END"


def _casts(types: tuple[str, ...], first: int = 0) -> str:
    """The columns of one index row ``e``, an element of :func:`rows_json`'s array for its table."""
    return ", ".join(f"(e ->> {first + i})::{t}" for i, t in enumerate(types))


def _json_default(value: object) -> str:
    if isinstance(value, Decimal):
        return str(value)  # exact: PostgreSQL reads it back as numeric
    raise TypeError(f"an index value of type {type(value).__name__} has no JSON form")


def rows_json(groups: Sequence[Collection[tuple[Any, ...]]]) -> str:
    """Index rows, one array per table of :data:`_LAYOUT`, as one JSON argument: ``[[row, ...], ...]`` with
    each row an array of its columns (numbers as strings, instants in ISO 8601 with their offset; all cast
    back in SQL by :func:`_casts`).  asyncpg encodes an array argument element by element, with a Python
    ``isinstance`` check for each: the 23 column arrays of a Patient's 73 index values cost 100 us of the
    server's CPU on a slow 2-core VM, this one argument 5-25 (PostgreSQL parses it instead)."""
    return orjson.dumps([list(g) for g in groups], default=_json_default).decode()


def _uses(name: str, *params: str) -> str:
    """A CTE that only names ``params``: a statement variant without the CTE that would use them must still
    use every parameter, so that all variants take one argument list (PostgreSQL infers a parameter's type
    from its use)."""
    return f"{name} AS (SELECT {', '.join(params)})"


def _write_ctes(tables: frozenset[str], *, gated: bool = False) -> tuple[list[str], int]:
    """The CTEs that replace the index rows of ``$1`` and the next free parameter number: the old rows go
    from every table (which tables the old version filled is not known here; a DELETE opens only its table
    and the index it scans), the new ones are inserted into ``tables`` only (:func:`filled_tables` of the new
    version: an INSERT opens every index of its table, see :func:`_create_sql`).  ``gated``: every write
    happens only if the CTE ``g`` (:func:`_gate_cte`) found the version it expects."""
    rid = "(SELECT rid FROM g)" if gated else "$1"
    gate = " AND EXISTS (SELECT 1 FROM g)" if gated else ""
    ctes = [f"d_{t} AS (DELETE FROM {t} WHERE rid = {rid})" for t in INDEX_TABLES if t != "sp_text"]
    for g, (table, cols, types) in enumerate(_LAYOUT):
        if table not in tables:
            continue
        where = f" WHERE true{gate}" if gated else ""
        ctes.append(f"i_{table} AS (INSERT INTO {table} (rid, {cols}) SELECT $1, {_casts(types)}"
                    f" FROM jsonb_array_elements($2::jsonb -> {g}) AS e{where})")
    if not tables.intersection(t for t, _c, _t in _LAYOUT):
        ctes.append(_uses("i_none", "$2::jsonb"))
    n = 3
    # sp_text has one row per resource, and none when there is no text: upsert or delete.
    narrative, content = f"${n}::text", f"${n + 1}::text"
    ctes.append(f"d_sp_text AS (DELETE FROM sp_text WHERE rid = {rid} AND {narrative} = '' AND {content} = '')")
    if "sp_text" in tables:
        ctes.append(
            f"i_sp_text AS (INSERT INTO sp_text (rid, narrative, content) SELECT $1, {_TSV.format(narrative)}, "
            f"{_TSV.format(content)} WHERE ({narrative} <> '' OR {content} <> ''){gate} ON CONFLICT (rid) DO UPDATE "
            f"SET narrative = excluded.narrative, content = excluded.content)"
        )
    return ctes, n + 2


def _supersede_ctes(n: int, *, gated: bool = False) -> list[str]:
    """Move the current version of ``$1`` to history and make ``$n..$n+5`` (version, last_updated, deleted,
    patient_id, content, sort_date: search/sortdate.py) current.  Every CTE sees the snapshot from before the
    statement, so history receives the old version (history is never rewritten: a new version is a new
    history row)."""
    rid = "(SELECT rid FROM g)" if gated else "$1"
    return [
        "moved AS (INSERT INTO resource_history (rid, version, type, id, last_updated, deleted, patient_id, content)"
        f" SELECT rid, version, type, id, last_updated, deleted, patient_id, content FROM resource WHERE rid = {rid})",
        f"current AS (UPDATE resource SET version = ${n}, last_updated = ${n + 1}, deleted = ${n + 2}, "
        f"patient_id = ${n + 3}, content = ${n + 4}, sort_date = ${n + 5} WHERE rid = {rid})",
    ]


def _gate_cte(n: int) -> str:
    """``g``: the row of ``$1`` if it is still at version ``$n``, locked.  Without a transaction around the read
    and the write, this is the check that nobody wrote in between: a concurrent writer that committed first
    changed the version (PostgreSQL re-checks a locked row's condition on its newest version), and then
    every CTE of the statement writes nothing (FHIR R4 http.html#concurrency: exactly one wins)."""
    return f"g AS (SELECT rid FROM resource WHERE rid = $1 AND version = ${n} FOR UPDATE)"


def _audit_cte(n: int, *, gated: bool = False) -> str:
    """Append the audit records given as arguments ``$n..$n+2`` (``benhan_audit_append_rows``, migrations 0013)
    in the write's own statement; the final SELECT must read ``au`` so that it runs."""
    args = ", ".join(f"${n + i}::{t}" for i, t in enumerate(APPEND_TYPES))
    where = " WHERE EXISTS (SELECT 1 FROM g)" if gated else ""
    return f"au AS (SELECT benhan_audit_append_rows({args}) AS appended{where})"


def _finish(ctes: list[str], n: int, *, audited: bool, gated: bool, facts: bool) -> str:
    """The statement: its CTEs, then, numbered from ``$n`` in this order, the parameters of the write's
    audit records (``audited``), of the version the gate ``g`` expects (``gated``: ``g`` goes first) and of
    its access facts (``facts``: :func:`.access_sql.facts_ctes`, for the types that make some); a final
    SELECT reads ``au`` (so the audit append runs) and, when gated, says whether the gate let the write
    through (1) or not (0)."""
    if audited:
        ctes = [*ctes, _audit_cte(n, gated=gated)]
        n += len(APPEND_TYPES)
    if gated:
        ctes = [_gate_cte(n), *ctes]
        n += 1
    if facts:
        ctes = [*ctes, *facts_ctes(n, gated=gated)]
    reads = ["(SELECT count(*) FROM g)" if gated else "1"]
    if audited:
        reads.append("(SELECT count(*) FROM au)")
    return "WITH " + ",\n".join(ctes) + "\nSELECT " + ", ".join(reads)


@lru_cache(maxsize=512)
def _supersede_sql(tables: frozenset[str], *, audited: bool = False, gated: bool = False, facts: bool = False) -> str:
    ctes, n = _write_ctes(tables, gated=gated)
    ctes += _supersede_ctes(n, gated=gated)
    return _finish(ctes, n + 6, audited=audited, gated=gated, facts=facts)


@lru_cache(maxsize=8)
def _delete_sql(*, audited: bool = False, gated: bool = False, facts: bool = False) -> str:
    rid = "(SELECT rid FROM g)" if gated else "$1"
    ctes = [f"d_{t} AS (DELETE FROM {t} WHERE rid = {rid})" for t in INDEX_TABLES] + _supersede_ctes(2, gated=gated)
    return _finish(ctes, 8, audited=audited, gated=gated, facts=facts)


def _groups(rows: IndexRows) -> tuple[Collection[tuple[Any, ...]], ...]:
    return (rows.strings, rows.token_rows(), rows.dates, rows.numbers, rows.quantities, rows.references, rows.uris)


async def supersede(
    conn: Conn, rid: int, version: int, when: datetime, patient_id: str | None, content: bytes,
    resource_type: str, resource: dict[str, Any], *, audit: list[AuditRecord] | None = None,
    expected: int | None = None, facts: Derived | None = None,
) -> bool:
    """A new current version of ``rid`` (the old one moves to history) with its index rows, ``audit``
    records and the access ``facts`` it makes (``access_sql.maintain``'s) if given: one round trip.
    ``expected``: write only if ``rid`` is still at that version (no lock held since it was read); False when
    it was not, and nothing was written."""
    rows = extract(resource_type, resource)
    groups = _groups(rows)
    args = [rid, rows_json(groups), rows.narrative, rows.content[:_CONTENT_LIMIT], version, when, False, patient_id,
            pack(content, resource_type), sort_date(resource_type, rows)]
    if audit is not None:
        args += append_args(audit)
    if expected is not None:
        args.append(expected)
    if facts is not None:
        args += facts_args(facts)
    sql = _supersede_sql(filled_tables([rows], [groups]), audited=audit is not None, gated=expected is not None,
                         facts=facts is not None)
    return bool(await conn.fetchval(sql, *args))


async def supersede_deleted(
    conn: Conn, rid: int, version: int, when: datetime, *, audit: list[AuditRecord] | None = None,
    expected: int | None = None, facts: Derived | None = None,
) -> bool:
    """A deletion version of ``rid`` (the old one moves to history); its index rows go, and with ``facts``
    (given for the types that make some) the access facts it made; ``audit`` records are appended if given:
    one round trip.  ``expected`` as for :func:`supersede`."""
    args: list[Any] = [rid, version, when, True, None, b"", None]
    if audit is not None:
        args += append_args(audit)
    if expected is not None:
        args.append(expected)
    if facts is not None:
        args += facts_args(facts, deleted=True)
    sql = _delete_sql(audited=audit is not None, gated=expected is not None, facts=facts is not None)
    return bool(await conn.fetchval(sql, *args))


def table_rows(batch: Sequence[tuple[int, IndexRows]]) -> TableRows:
    """The COPY records of a batch of resources, per table (``sp_text`` holds the folded texts)."""
    out: TableRows = {t: [] for t in INDEX_TABLES}
    for rid, rows in batch:
        for (table, _c, _t), group in zip(_LAYOUT, _groups(rows), strict=True):
            target = out[table]
            target.extend((rid, *row) for row in group)
        if rows.narrative or rows.content:
            out["sp_text"].append((rid, rows.narrative, rows.content[:_CONTENT_LIMIT]))
    return out


async def copy_index(conn: Conn, rows: TableRows, suffix: str = "") -> None:
    """COPY the rows of :func:`table_rows` into the index tables (``suffix``: shadow tables of a rebuild).
    The caller has removed any earlier rows of these resources."""
    for table, cols, _types in _LAYOUT:
        if rows[table]:
            columns = ["rid", *(c.strip() for c in cols.split(","))]
            await conn.copy_records_to_table(table + suffix, records=rows[table], columns=columns)
    if rows["sp_text"]:
        # tsvectors are computed by PostgreSQL from the folded text, exactly as supersede does.
        # (callers run in a transaction: the scratch rows go at commit)
        await conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS bulk_text (rid bigint, narrative text, content text) ON COMMIT DELETE ROWS"
        )
        await conn.copy_records_to_table("bulk_text", records=rows["sp_text"], columns=["rid", "narrative", "content"])
        await conn.execute(
            f"INSERT INTO sp_text{suffix} (rid, narrative, content) SELECT rid, {_TSV.format('narrative')}, "
            f"{_TSV.format('content')} FROM bulk_text; TRUNCATE bulk_text"
        )


# -- new resources: the resource rows and their index rows in one statement ------------------------------
@lru_cache(maxsize=512)
def _create_sql(tables: frozenset[str], *, audited: bool = False, facts: bool = False) -> str:
    """INSERT the resource rows of ``unnest($1..$4, $6)`` and their index rows in one statement, with a CTE
    only for the index tables in ``tables`` (:func:`filled_tables`): a CTE that inserts nothing still locks and
    opens its table and each of its indexes when the statement starts, and most resources fill four to six of
    the eight tables (a single create: 695 -> 634 us of the backend's CPU, one connection, the CRUD mix's
    resources, a slow 2-core VM).  Index rows carry the 1-based position of their resource (``o``); the
    inserted rows come back with their ``rid`` (RETURNING is how data-modifying CTEs see each other's rows)
    and are joined on (type, id), unique."""
    ctes = [
        "r AS (INSERT INTO resource (type, id, version, last_updated, deleted, patient_id, content, sort_date) "
        "SELECT t, i, 1, $5, false, p, c, s FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[], "
        "$6::timestamptz[]) AS u(t, i, p, c, s) RETURNING rid, type, id)",
        "k AS (SELECT r.rid, u.o FROM r JOIN unnest($1::text[], $2::text[]) WITH ORDINALITY AS u(t, i, o) "
        "ON r.type = u.t AND r.id = u.i)",
    ]
    # $7: the index rows of every resource (rows_json), each row led by its resource's position
    for g, (table, cols, types) in enumerate(_LAYOUT):
        if table in tables:
            ctes.append(f"i_{table} AS (INSERT INTO {table} (rid, {cols}) SELECT k.rid, {_casts(types, 1)}"
                        f" FROM jsonb_array_elements($7::jsonb -> {g}) AS e JOIN k ON k.o = (e ->> 0)::int8)")
    if not tables.intersection(t for t, _c, _t in _LAYOUT):
        ctes.append(_uses("i_none", "$7::jsonb"))
    n = 8
    o, narrative, content = f"${n}::int4[]", f"${n + 1}::text[]", f"${n + 2}::text[]"
    if "sp_text" in tables:
        ctes.append(
            f"i_sp_text AS (INSERT INTO sp_text (rid, narrative, content) SELECT k.rid, {_TSV.format('x.n')}, "
            f"{_TSV.format('x.c')} FROM unnest({o}, {narrative}, {content}) AS x(o, n, c) JOIN k ON k.o = x.o "
            "WHERE x.n <> '' OR x.c <> '')"
        )
    else:
        ctes.append(_uses("i_sp_text", o, narrative, content))
    if not audited:
        return "WITH " + ",\n".join(ctes) + "\nSELECT rid, type, id FROM r"
    # A single create's other effects in the same statement: its origin facility (an access fact) and its
    # audit record (benhan_audit_append_rows locks the chain head until the statement's implicit commit).
    n += 3
    ctes.append(f"og AS (INSERT INTO resource_origin (rid, facility_id) SELECT rid, ${n}::text FROM r "
                f"WHERE ${n}::text IS NOT NULL)")
    ctes.append(_audit_cte(n + 1))
    if facts:  # a single resource (one row in ``r``) of a type that makes access facts
        ctes += facts_ctes(n + 1 + len(APPEND_TYPES), "(SELECT rid FROM r)", new=True)
    return "WITH " + ",\n".join(ctes) + "\nSELECT rid, type, id FROM r CROSS JOIN au"


def filled_tables(rows: Iterable[IndexRows], groups: Iterable[Sequence[Collection[Any]]] | None = None,
                  ) -> frozenset[str]:
    """The index tables that ``rows`` put at least one row in (``groups``: their :func:`_groups`, if made)."""
    filled: set[str] = set()
    rows = list(rows)
    for r, gs in zip(rows, groups if groups is not None else map(_groups, rows), strict=True):
        filled.update(table for (table, _c, _t), group in zip(_LAYOUT, gs, strict=True) if group)
        if r.narrative or r.content:
            filled.add("sp_text")
    return frozenset(filled)


@dataclass(frozen=True, slots=True)
class NewRow:
    """A resource about to be stored as version 1 (``content``: the stamped JSON; ``rows``: its index)."""

    type: str
    id: str
    patient_id: str | None
    content: bytes
    rows: IndexRows


def new_rows(items: Sequence[tuple[JsonObj, str, str]], when: datetime) -> tuple[list[NewRow], list[JsonObj]]:
    """Stamp checked (resource, type, id) items as version 1 and extract their index rows; also the stored
    JSON of each (what access facts and audit records are derived from)."""
    from benhan.fhir.storage.prepare import stamp

    new: list[NewRow] = []
    stored: list[JsonObj] = []
    for resource, type_, id_ in items:
        content = stamp(resource, type_, id_, 1, when)
        stored_json = orjson.loads(content)
        stored.append(stored_json)
        new.append(NewRow(type_, id_, patient_compartment(stored_json), content, extract(type_, stored_json)))
    return new, stored


async def insert_new(
    conn: Conn, new: Sequence[NewRow], when: datetime, *, audit: list[AuditRecord] | None = None,
    origin: str | None = None, facts: Derived | None = None,
) -> list[int]:
    """Store ``new`` as version 1 with their search index rows in one round trip; their ``rid`` in order.
    Used for single creates and for all the POSTs of a transaction Bundle alike.  With ``audit`` (a
    single create outside a transaction block) the origin fact, the other access ``facts`` the resource
    makes (if given) and the audit records go in the same statement, which PostgreSQL commits atomically
    on its own."""
    args: list[Any] = [[r.type for r in new], [r.id for r in new], [r.patient_id for r in new],
                       [pack(r.content, r.type) for r in new], when,
                       [sort_date(r.type, r.rows) for r in new]]
    groups = [_groups(r.rows) for r in new]
    args.append(rows_json([[(pos, *row) for pos, gs in enumerate(groups, 1) for row in gs[g]]
                           for g in range(len(_LAYOUT))]))
    args += [list(range(1, len(new) + 1)), [r.rows.narrative for r in new],
             [r.rows.content[:_CONTENT_LIMIT] for r in new]]
    if audit is not None:
        args.append(origin)
        args.extend(append_args(audit))
    if facts is not None:
        assert audit is not None, "facts go with an audited create"
        assert len(new) == 1, "facts go with a single create"
        args += facts_args(facts)
    tables = filled_tables([r.rows for r in new], groups)
    found = await conn.fetch(_create_sql(tables, audited=audit is not None, facts=facts is not None), *args)
    rid_of = {(row["type"], row["id"]): row["rid"] for row in found}
    return [rid_of[(r.type, r.id)] for r in new]
