"""Write the search index rows of a resource (layout: migrations/versions/0002_search_index.py).

``write_index`` replaces every row of one resource in a single round trip (data-modifying CTEs and
``unnest`` of arrays); it runs inside the repository's write transaction, so the index always matches
the current version. ``reindex`` rebuilds everything in batches (``benhan reindex``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import asyncpg
import orjson

from benhan.fhir.search.extract import IndexRows, extract
from benhan.kernel.db import Conn

__all__ = ["INDEX_TABLES", "delete_index", "reindex", "write_index"]

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


def _write_sql() -> str:
    ctes = [f"d_{t} AS (DELETE FROM {t} WHERE rid = $1)" for t in INDEX_TABLES if t != "sp_text"]
    n = 2
    for table, cols, types in _LAYOUT:
        args = ", ".join(f"${n + i}::{t}[]" for i, t in enumerate(types))
        ctes.append(f"i_{table} AS (INSERT INTO {table} (rid, {cols}) SELECT $1, * FROM unnest({args}))")
        n += len(types)
    # sp_text has one row per resource: upsert instead of delete + insert in the same statement.
    ctes.append(
        f"i_sp_text AS (INSERT INTO sp_text (rid, narrative, content) VALUES ($1, "
        f"CASE WHEN ${n}::text = '' THEN NULL ELSE to_tsvector('simple', ${n}::text) END, "
        f"to_tsvector('simple', ${n + 1}::text)) ON CONFLICT (rid) DO UPDATE "
        f"SET narrative = excluded.narrative, content = excluded.content)"
    )
    return "WITH " + ",\n".join(ctes) + "\nSELECT 1"


_WRITE_SQL = _write_sql()


def _columns(rows: Sequence[tuple[Any, ...]], width: int) -> list[list[Any]]:
    return [[row[i] for row in rows] for i in range(width)]


def _arguments(rows: IndexRows) -> list[Any]:
    args: list[Any] = []
    groups: tuple[set[Any], ...] = (
        rows.strings, rows.tokens, rows.dates, rows.numbers, rows.quantities, rows.references, rows.uris,
    )
    for group, (_t, _c, types) in zip(groups, _LAYOUT, strict=True):
        args.extend(_columns(list(group), len(types)))
    args += [rows.narrative, rows.content[:_CONTENT_LIMIT]]
    return args


async def write_index(conn: Conn, rid: int, resource_type: str, resource: dict[str, Any]) -> None:
    """Replace all index rows of ``rid`` with those of ``resource`` (one round trip)."""
    await conn.execute(_WRITE_SQL, rid, *_arguments(extract(resource_type, resource)))


async def delete_index(conn: Conn, rid: int) -> None:
    """Remove every index row of ``rid`` (the resource was deleted: it no longer matches any search)."""
    ctes = ", ".join(f"d_{t} AS (DELETE FROM {t} WHERE rid = $1)" for t in INDEX_TABLES)
    await conn.execute(f"WITH {ctes} SELECT 1", rid)


async def _write_batch(
    conn: Conn, batch: list[tuple[int, IndexRows]]
) -> None:
    rids = [rid for rid, _ in batch]
    for table in INDEX_TABLES:
        await conn.execute(f"DELETE FROM {table} WHERE rid = ANY($1::int8[])", rids)
    for i, (table, cols, types) in enumerate(_LAYOUT):
        flat = [(rid, *row) for rid, rows in batch for row in _groups(rows)[i]]
        if not flat:
            continue
        args = ", ".join(f"${k + 2}::{t}[]" for k, t in enumerate(types))
        await conn.execute(
            f"INSERT INTO {table} (rid, {cols}) SELECT * FROM unnest($1::int8[], {args})",
            *_columns(flat, len(types) + 1),
        )
    await conn.execute(
        "INSERT INTO sp_text (rid, narrative, content) SELECT r, CASE WHEN n = '' THEN NULL "
        "ELSE to_tsvector('simple', n) END, to_tsvector('simple', c) "
        "FROM unnest($1::int8[], $2::text[], $3::text[]) AS u(r, n, c)",
        rids, [rows.narrative for _, rows in batch], [rows.content[:_CONTENT_LIMIT] for _, rows in batch],
    )


def _groups(rows: IndexRows) -> tuple[set[Any], ...]:
    return (rows.strings, rows.tokens, rows.dates, rows.numbers, rows.quantities, rows.references, rows.uris)


async def reindex(pool: asyncpg.Pool, progress: Callable[[int, int], None], batch_size: int = 500) -> int:
    """Rebuild the index of every current, non-deleted resource; returns how many were indexed.

    Works in ``rid`` order, one transaction per batch, so it can run while the server is up (each
    resource's rows are replaced atomically) and ``progress(done, total)`` can drive a progress bar.
    """
    async with pool.acquire() as conn:
        total = int(await conn.fetchval("SELECT count(*) FROM resource WHERE NOT deleted"))
        done, last = 0, 0
        progress(0, total)
        while True:
            found = await conn.fetch(
                "SELECT rid, type, content FROM resource WHERE rid > $1 AND NOT deleted ORDER BY rid LIMIT $2",
                last, batch_size,
            )
            if not found:
                return done
            batch = [(r["rid"], extract(r["type"], orjson.loads(r["content"]))) for r in found]
            async with conn.transaction():
                await _write_batch(conn, batch)
            done += len(batch)
            last = found[-1]["rid"]
            progress(done, total)
