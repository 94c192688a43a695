"""Run a parsed FHIR search against PostgreSQL: matches, keyset paging, totals, ``_include``/``_revinclude``.

Paging is keyset paging on (sort keys, rid): a cursor holds the sort values of the last (or first) row
shown, so rows inserted between two page requests never cause a duplicate or a skip (issue 3).
Totals: ``accurate`` counts, ``estimate`` asks the planner, the default is free — exact when the first
page holds everything, otherwise absent (FHIR R4 search.html#total).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg
import orjson

from benhan.fhir.search import registry, sortdate
from benhan.fhir.search.parse import parse, parse_query_string
from benhan.fhir.search.query import Include, SearchQuery, SortKey
from benhan.fhir.search.result import Row, SearchResult
from benhan.fhir.storage.content import unpack
from benhan.fhir.storage.pg.search_sql import FirstRows, Sql
from benhan.kernel.db import Conn, custom_plans
from benhan.kernel.errors import BenhanError, ErrorCode

__all__ = ["SearchResult", "find_matches", "search"]

_COLS = "r.rid, r.type, r.id, r.version, r.last_updated, r.content"
_SORT_SQL = {  # (table, column for ascending, column for descending)
    "date": ("sp_date", "min(x.low)", "max(x.high)"), "string": ("sp_string", "min(x.value)", "max(x.value)"),
    "token": ("sp_token", "min(x.code)", "max(x.code)"), "number": ("sp_number", "min(x.value)", "max(x.value)"),
    "quantity": ("sp_quantity", "min(x.value)", "max(x.value)"),
    "reference": ("sp_reference", "min(x.ref_id)", "max(x.ref_id)"), "uri": ("sp_uri", "min(x.value)", "max(x.value)"),
}
_MAX_INCLUDE_ROUNDS = 4


@dataclass(frozen=True, slots=True)
class _Key:
    expr: str
    desc: bool
    kind: str  # how cursor values are decoded: date | number | text | int

    @property
    def nullable(self) -> bool:
        """Every key but the row id may be missing: those get a NULLs-last flag in the cursor."""
        return self.expr != "r.rid"


def _sort_keys(sql: Sql, query: SearchQuery) -> list[_Key]:
    keys: list[_Key] = []
    for k in query.sort:
        keys.append(_sort_key(sql, k, query.types))
    keys.append(_Key("r.rid", False, "int"))
    return keys


def _sort_key(sql: Sql, k: SortKey, types: tuple[str, ...]) -> _Key:
    kind = _kind(k)
    if k.param.code == "_id":
        return _Key("r.id", k.descending, kind)
    if k.param.code == "_lastUpdated":
        return _Key("r.last_updated", k.descending, kind)
    if k.descending and len(types) == 1 and k.param == sortdate.param_of(types[0]):
        # the same key stored on the row (search/sortdate.py): a patient's page comes off resource_patient_date
        return _Key("r.sort_date", True, kind)
    table, asc, desc = _SORT_SQL[k.param.type]
    agg = desc if k.descending else asc
    return _Key(f"(SELECT {agg} FROM {table} x WHERE x.rid = r.rid AND {sql.params(k.param)})", k.descending, kind)


def _kind(k: SortKey) -> str:
    """How the cursor carries the values of sort key ``k`` (``_Key.kind``)."""
    if k.param.code == "_id":
        return "text"
    if k.param.code == "_lastUpdated" or k.param.type == "date":  # sort_date answers only date parameters
        return "date"
    return "number" if k.param.type in ("number", "quantity") else "text"


def _cursor_kinds(query: SearchQuery) -> list[str]:
    """The kinds of :func:`_components` of the query's keys, without building their SQL: a NULLs-last flag
    and the value of each sort key, then the row id."""
    return [kind for k in query.sort for kind in ("bool", _kind(k))] + ["int"]


def _cursor_values(row: asyncpg.Record, keys: list[_Key]) -> list[Any]:
    """A row's values in the order of :func:`_components` (the NULLs-last flags included)."""
    out: list[Any] = []
    for i, k in enumerate(keys):
        value = row[f"s{i}"]
        if k.nullable:
            out.append(value is None)
        out.append(value)
    return out


def _components(keys: list[_Key]) -> list[tuple[str, bool, str]]:
    """Ordering components: a NULLs-last flag before every nullable key, then the key itself."""
    out: list[tuple[str, bool, str]] = []
    for k in keys:
        if k.nullable:
            out.append((f"({k.expr} IS NULL)", False, "bool"))
        out.append((k.expr, k.desc, k.kind))
    return out


def _encode(values: list[Any], direction: str) -> str:
    def enc(v: Any) -> Any:
        return v.isoformat() if isinstance(v, datetime) else str(v) if isinstance(v, Decimal) else v

    raw = orjson.dumps([direction, [enc(v) for v in values]])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str, kinds: list[str]) -> tuple[str, list[Any]]:
    try:
        direction, values = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if direction not in ("next", "prev") or len(values) != len(kinds):
            raise ValueError(cursor)
        out = [_decode_value(v, kind) for v, kind in zip(values, kinds, strict=True)]
    except (ValueError, TypeError, orjson.JSONDecodeError) as exc:
        raise BenhanError(ErrorCode.INVALID_PARAMETER, "_cursor is not valid for this search") from exc
    return direction, out


def _decode_value(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "date":
        return datetime.fromisoformat(value)
    if kind == "number":
        return Decimal(value)
    return int(value) if kind == "int" else value


def _keyset(sql: Sql, comps: list[tuple[str, bool, str]], values: list[Any], backwards: bool) -> str:
    """Rows strictly after ``values`` in the (possibly reversed) order of ``comps``."""
    ors = []
    for i, (expr, desc, _kind) in enumerate(comps):
        if values[i] is None and i > 0 and comps[i - 1][2] == "bool":
            continue  # a NULL key: only the equality of its flag matters
        eqs = [f"{e} IS NOT DISTINCT FROM {sql.arg(values[j])}" for j, (e, _d, _k) in enumerate(comps[:i])]
        op = ">" if desc == backwards else "<"
        ors.append(" AND ".join([*eqs, f"{expr} {op} {sql.arg(values[i])}"]))
    return "(" + " OR ".join(f"({o})" for o in ors) + ")"


@custom_plans
async def search(
    conn: Conn, query: SearchQuery, *, access_filter: str | None = None,
    access_args: list[object] | None = None,
) -> SearchResult:
    """Run ``query``; ``access_filter`` (over alias ``r``, using ``$1..$k`` = ``access_args``) limits every
    resource that can appear or influence the result: matches, totals, chains, ``_has`` and includes."""
    if query.summary == "count" or query.count == 0:
        total = await _count(conn, query, access_filter, access_args, query.total or "accurate")
        return SearchResult(total=total)
    direction, values = "next", None
    if query.cursor:
        direction, values = _decode(query.cursor, _cursor_kinds(query))
    backwards = direction == "prev"
    first = None
    if not query.sort:  # rid order: a string test may read just this page's rows (Sql._string_rows)
        first = FirstRows(4 * (query.count + 1), values[-1] if values else None, backwards)
    keys, rows = await _page(conn, query, access_filter, access_args, values, backwards, first)
    if first is not None and len(rows) <= query.count:  # a short page: it may have missed matches
        keys, rows = await _page(conn, query, access_filter, access_args, values, backwards, None)
    more = len(rows) > query.count
    rows = rows[: query.count]
    if backwards:
        rows.reverse()
    page_values = [_cursor_values(row, keys) for row in rows]
    next_cursor = prev_cursor = None
    if rows and (more if not backwards else True):
        next_cursor = _encode(page_values[-1], "next")
    if rows and (query.cursor is not None if not backwards else more):
        prev_cursor = _encode(page_values[0], "prev")
    total = await _total(conn, query, access_filter, access_args, len(rows), more)
    matches = [_row(r) for r in rows]
    includes = await _includes(conn, query, rows, access_filter, access_args)
    return SearchResult(matches, includes, total, next_cursor, prev_cursor)


async def _page(
    conn: Conn, query: SearchQuery, access_filter: str | None, access_args: list[object] | None,
    cursor: list[Any] | None, backwards: bool, first: FirstRows | None,
) -> tuple[list[_Key], list[asyncpg.Record]]:
    """The rows of one page and one more (is there a next one?), in the page's order."""
    sql = Sql(access_filter, access_args, query.value_sets)
    where = sql.resource_where(query.types, query.tests, query.compartment, first)
    keys = _sort_keys(sql, query)
    if cursor is not None:
        where += " AND " + _keyset(sql, _components(keys), cursor, backwards)
    # Each key is computed once per row: its NULLs-last flag is NULLS LAST in ORDER BY and ``value is None``
    # in Python (computing ``(key IS NULL)`` in SQL ran the key's subquery twice per row).
    order = ", ".join(f"{k.expr} {'DESC' if k.desc != backwards else 'ASC'} NULLS {'FIRST' if backwards else 'LAST'}"
                      for k in keys)
    selects = ", ".join(f"{k.expr} AS s{i}" for i, k in enumerate(keys))
    rows = await conn.fetch(
        f"SELECT {_COLS}, {selects} FROM resource r WHERE {where} ORDER BY {order} LIMIT {query.count + 1}",
        *sql.args,
    )
    return keys, rows


def _row(r: asyncpg.Record) -> Row:
    return (r["type"], r["id"], r["version"], r["last_updated"], unpack(r["content"]))


async def _total(
    conn: Conn, query: SearchQuery, access: str | None, args: list[object] | None,
    shown: int, more: bool,
) -> int | None:
    if query.total in ("accurate", "estimate"):
        return await _count(conn, query, access, args, query.total)
    if query.total is None and query.cursor is None and not more:
        return shown  # everything fits in the first page: the exact total is free
    return None


async def _count(
    conn: Conn, query: SearchQuery, access: str | None, args: list[object] | None, mode: str
) -> int | None:
    if mode == "none":
        return None
    sql = Sql(access, args, query.value_sets)
    where = sql.resource_where(query.types, query.tests, query.compartment)
    if mode == "estimate":
        plan = await conn.fetchval(f"EXPLAIN (FORMAT JSON) SELECT 1 FROM resource r WHERE {where}", *sql.args)
        return int(orjson.loads(plan)[0]["Plan"]["Plan Rows"])
    return int(await conn.fetchval(f"SELECT count(*) FROM resource r WHERE {where}", *sql.args))


def _include_params(sql: Sql, inc: Include) -> str:
    """``x.param …`` for the reference rows an include follows (``*``: every reference parameter)."""
    if inc.param is not None:
        return sql.params(inc.param)
    pids = [p.pid for p in registry.params_of(inc.source_type).values() if p.type == "reference" and p.indexed]
    return f"x.param = ANY({sql.arg(pids, 'int4[]')})"


async def _include_round(
    conn: Conn, incs: list[Include], sources: list[asyncpg.Record], access: str | None,
    args: list[object] | None,
) -> list[asyncpg.Record]:
    out: list[asyncpg.Record] = []
    for inc in incs:
        # _include starts from resources of the source type; _revinclude from any resource it may target.
        src = sources if inc.reverse else [r for r in sources if r["type"] == inc.source_type]
        if not src:
            continue
        sql = Sql(access, args)
        pids = _include_params(sql, inc)
        acc = f" AND ({access})" if access else ""
        if inc.reverse:
            found = await conn.fetch(
                f"SELECT {_COLS} FROM resource r WHERE r.type = {sql.arg(inc.source_type)} AND NOT r.deleted{acc} "
                f"AND r.rid IN (SELECT x.rid FROM sp_reference x WHERE {pids} AND (x.ref_id, x.ref_type)"
                f" IN (SELECT * FROM unnest({sql.arg([s['id'] for s in src], 'text[]')}, "
                f"{sql.arg([s['type'] for s in src], 'text[]')})))", *sql.args)
        else:
            target = f" AND x.ref_type = {sql.arg(inc.target_type)}" if inc.target_type else ""
            # LATERAL: an index probe per distinct target (see everything._referenced); the index columns
            # are COLLATE "C", resource.type/id the default collation: say which, or the index is not used.
            found = await conn.fetch(
                f"SELECT {_COLS} FROM (SELECT DISTINCT x.ref_type, x.ref_id FROM sp_reference x WHERE x.rid = "
                f"ANY({sql.arg([s['rid'] for s in src], 'int8[]')}) AND {pids}{target}) t CROSS JOIN LATERAL "
                f"(SELECT * FROM resource r WHERE r.type = t.ref_type COLLATE \"default\" AND r.id = t.ref_id "
                f"COLLATE \"default\" OFFSET 0) r "
                f"WHERE NOT r.deleted{acc}", *sql.args)
        out.extend(found)
    return out


async def _includes(
    conn: Conn, query: SearchQuery, matches: list[asyncpg.Record], access: str | None,
    args: list[object] | None,
) -> list[Row]:
    if not query.includes or not matches:
        return []
    seen = {r["rid"] for r in matches}
    found: list[asyncpg.Record] = []
    sources, incs = matches, list(query.includes)
    for _round in range(_MAX_INCLUDE_ROUNDS):
        new = [r for r in await _include_round(conn, incs, sources, access, args) if r["rid"] not in seen]
        new = list({r["rid"]: r for r in new}.values())
        if not new:
            break
        seen.update(r["rid"] for r in new)
        found.extend(new)
        # search.html#revinclude: only :iterate includes apply to included resources.
        sources, incs = new, [i for i in query.includes if i.iterate]
        if not incs:
            break
    return [_row(r) for r in found]


@custom_plans
async def find_matches(conn: Conn, resource_type: str, query_string: str) -> list[tuple[int, str, int]]:
    """(rid, id, version) of every current resource matching ``Type?query_string`` (conditional create,
    update and delete). Strict handling: an unknown parameter is an error, never silently "match all"."""
    query = parse(resource_type, parse_query_string(query_string), strict=True)
    sql = Sql(None, None)
    where = sql.resource_where(query.types, query.tests, query.compartment)
    rows = await conn.fetch(f"SELECT r.rid, r.id, r.version FROM resource r WHERE {where} ORDER BY r.rid", *sql.args)
    return [(r["rid"], r["id"], r["version"]) for r in rows]
