"""Write the search index rows of a resource (layout: migrations/versions/0002_search_index.py).

``write_index`` replaces every row of one resource in a single round trip (data-modifying CTEs and
``unnest`` of arrays); it runs inside the repository's write transaction, so the index always matches
the current version. ``copy_index`` writes the rows of many resources with ``COPY`` (bulk loads) and
``reindex`` (:mod:`.reindex`) rebuilds everything (``benhan reindex``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from benhan.fhir.search.extract import IndexRows, extract
from benhan.kernel.db import Conn

__all__ = ["INDEX_TABLES", "TableRows", "copy_index", "delete_index", "table_rows", "write_index"]

INDEX_TABLES = (
    "sp_string", "sp_token", "sp_date", "sp_number", "sp_quantity", "sp_reference", "sp_uri", "sp_text",
)
_CONTENT_LIMIT = 20_000  # characters of folded text in the _content vector (tsvector entries stay small)

# (table, columns, array types) for the unnest inserts, in IndexRows field order.
_LAYOUT: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("sp_string", "param, value, exact", ("int4", "text", "text")),
    ("sp_token", "param, system, code", ("int4", "int8", "text")),
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


def _write_sql(fresh: bool = False) -> str:
    """The one-statement index writer; ``fresh``: a new resource, which has no earlier rows to delete."""
    ctes = [] if fresh else [f"d_{t} AS (DELETE FROM {t} WHERE rid = $1)" for t in INDEX_TABLES if t != "sp_text"]
    n = 2
    for table, cols, types in _LAYOUT:
        args = ", ".join(f"${n + i}::{t}[]" for i, t in enumerate(types))
        ctes.append(f"i_{table} AS (INSERT INTO {table} (rid, {cols}) SELECT $1, * FROM unnest({args}))")
        n += len(types)
    # sp_text has one row per resource, and none when there is no text: upsert or delete.
    narrative, content = f"${n}::text", f"${n + 1}::text"
    if not fresh:
        ctes.append(f"d_sp_text AS (DELETE FROM sp_text WHERE rid = $1 AND {narrative} = '' AND {content} = '')")
    ctes.append(
        f"i_sp_text AS (INSERT INTO sp_text (rid, narrative, content) SELECT $1, {_TSV.format(narrative)}, "
        f"{_TSV.format(content)} WHERE {narrative} <> '' OR {content} <> '' ON CONFLICT (rid) DO UPDATE "
        f"SET narrative = excluded.narrative, content = excluded.content)"
    )
    return "WITH " + ",\n".join(ctes) + "\nSELECT 1"


_WRITE_SQL = _write_sql()
_INSERT_SQL = _write_sql(fresh=True)


def _columns(rows: Sequence[tuple[Any, ...]], width: int) -> list[list[Any]]:
    return [[row[i] for row in rows] for i in range(width)]


def _groups(rows: IndexRows) -> tuple[set[Any], ...]:
    return (rows.strings, rows.tokens, rows.dates, rows.numbers, rows.quantities, rows.references, rows.uris)


def _arguments(rows: IndexRows) -> list[Any]:
    args: list[Any] = []
    for group, (_t, _c, types) in zip(_groups(rows), _LAYOUT, strict=True):
        args.extend(_columns(list(group), len(types)))
    args += [rows.narrative, rows.content[:_CONTENT_LIMIT]]
    return args


async def write_index(
    conn: Conn, rid: int, resource_type: str, resource: dict[str, Any], *, fresh: bool = False
) -> None:
    """Replace all index rows of ``rid`` with those of ``resource`` (one round trip); ``fresh`` skips the
    deletes for a resource created in this transaction."""
    await conn.execute(_INSERT_SQL if fresh else _WRITE_SQL, rid, *_arguments(extract(resource_type, resource)))


async def delete_index(conn: Conn, rid: int) -> None:
    """Remove every index row of ``rid`` (the resource was deleted: it no longer matches any search)."""
    ctes = ", ".join(f"d_{t} AS (DELETE FROM {t} WHERE rid = $1)" for t in INDEX_TABLES)
    await conn.execute(f"WITH {ctes} SELECT 1", rid)


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
        # tsvectors are computed by PostgreSQL from the folded text, exactly as write_index does.
        # (callers run in a transaction: the scratch rows go at commit)
        await conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS bulk_text (rid bigint, narrative text, content text) ON COMMIT DELETE ROWS"
        )
        await conn.copy_records_to_table("bulk_text", records=rows["sp_text"], columns=["rid", "narrative", "content"])
        await conn.execute(
            f"INSERT INTO sp_text{suffix} (rid, narrative, content) SELECT rid, {_TSV.format('narrative')}, "
            f"{_TSV.format('content')} FROM bulk_text; TRUNCATE bulk_text"
        )
