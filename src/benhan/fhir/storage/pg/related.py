"""A search and the resources related to its matches, in one statement (for the use-cases' list screens).

``Encounter?service-provider=…&status=in-progress`` with its Patients (as ``_include=Encounter:subject``), the
Conditions of those stays and their vital signs of the last day (as ``_revinclude=Condition:encounter`` and
``_revinclude=Observation:encounter`` with filters, which FHIR R4 search.html#revinclude has no syntax for)
is one round trip instead of one per type, and the related searches no longer carry a 60-reference OR list
to parse and plan.  The caller's access predicate (over alias ``r``) applies to every arm, as it does to
the matches, chains and includes of :func:`benhan.fhir.storage.pg.search.search`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import asyncpg

from benhan.fhir.search import registry
from benhan.fhir.search.parse import parse, parse_query_string
from benhan.fhir.search.query import Chain, Has, Test
from benhan.fhir.storage.pg.search_sql import Sql
from benhan.fhir.storage.protocol import Related
from benhan.kernel.db import Conn, custom_plans
from benhan.kernel.errors import BenhanError, ErrorCode

_COLS = "r.rid, r.type, r.id, r.content"

#: the access predicate for a statement reading only ``types``, numbered from ``first_arg``: (sql, args)
AccessFor = Callable[[tuple[str, ...], int], tuple[str | None, list[object]]]


def _reference_param(type_: str, code: str) -> registry.SearchParam:
    found = registry.lookup(type_, code)
    if found is None or found.type != "reference":
        raise BenhanError(ErrorCode.UNKNOWN_SEARCH_PARAMETER, f"{code} is not a reference parameter of {type_}")
    return found


def _types(type_: str, tests: Sequence[Test]) -> tuple[str, ...]:
    """``type_`` and every type a chain or ``_has`` of ``tests`` reads (the rows the predicate must judge)."""
    out = [type_]
    for t in tests:
        if isinstance(t, Chain):
            for target in t.target_types:
                out += _types(target, (t.inner,))
        elif isinstance(t, Has):
            out += _types(t.source_type, (t.inner,))
    return tuple(dict.fromkeys(out))


def _where(sql: Sql, access_for: AccessFor, type_: str, tests: Sequence[Test], compartment: str | None = None) -> str:
    """``resource_where`` under the predicate for just the types this arm reads: the policy's rules for one
    type are a short test, where the rules for all 146 types cost ~20 ms of planning per statement."""
    pred, args = access_for(_types(type_, tests), len(sql.args) + 1)
    sql.access = pred
    sql.args.extend(args)
    return sql.resource_where((type_,), tuple(tests), compartment)


def _arm(sql: Sql, access_for: AccessFor, base_type: str, rel: Related) -> str:
    """One related arm, reading the matches from the CTE ``m``."""
    tests = parse(rel.type, list(rel.params), strict=True).tests if rel.params else ()
    where = _where(sql, access_for, rel.type, tests)
    if rel.reverse:
        # rel.type.param points at a match.  COLLATE "C": the index columns' collation, so the probe of
        # sp_reference_target is by index (resource.type/id have the default collation).
        p = _reference_param(rel.type, rel.param)
        return (f"SELECT {_COLS} FROM resource r WHERE {where} AND r.rid IN (SELECT x.rid FROM m JOIN sp_reference x"
                f" ON {sql.params(p)} AND x.ref_id = m.id COLLATE \"C\" AND x.ref_type = m.type COLLATE \"C\")")
    # the matches' param points at rel.type: one index probe of resource per distinct target (see
    # search._include_round for the collation and OFFSET 0)
    p = _reference_param(base_type, rel.param)
    return (f"SELECT {_COLS} FROM (SELECT DISTINCT x.ref_type, x.ref_id FROM sp_reference x WHERE x.rid IN "
            f"(SELECT m.rid FROM m) AND {sql.params(p)}) t CROSS JOIN LATERAL (SELECT * FROM resource r WHERE "
            f"r.type = t.ref_type COLLATE \"default\" AND r.id = t.ref_id COLLATE \"default\" OFFSET 0) r "
            f"WHERE {where}")


@custom_plans
async def fetch_related(
    conn: Conn, type_: str, query_string: str, related: Sequence[Related], access_for: AccessFor
) -> list[list[asyncpg.Record]]:
    """Rows (rid, type, id, content) of the current matches of ``type_?query_string`` and of each related
    arm, in rid order, every row passing ``access_for``'s predicate.  Strict parsing: an unknown parameter
    is an error."""
    query = parse(type_, parse_query_string(query_string), strict=True)
    sql = Sql(None, None)
    where = _where(sql, access_for, type_, query.tests, query.compartment)
    arms = ["SELECT 0 AS arm, m.* FROM m"] + [
        f"SELECT {i} AS arm, a.* FROM ({_arm(sql, access_for, type_, rel)}) a" for i, rel in enumerate(related, 1)
    ]
    rows = await conn.fetch(
        f"WITH m AS MATERIALIZED (SELECT {_COLS} FROM resource r WHERE {where}) "
        + " UNION ALL ".join(arms) + " ORDER BY arm, rid",
        *sql.args,
    )
    out: list[list[asyncpg.Record]] = [[] for _ in range(len(related) + 1)]
    for row in rows:
        out[row["arm"]].append(row)
    return out


def audit_query(type_: str, query_string: str, related: Sequence[Related], arm: int) -> str:
    """What arm ``arm`` searched, for its audit record: the query itself, or the related filter written with
    the matches' search in brackets (``encounter=[Encounter?service-provider=…]&date=ge…``)."""
    if arm == 0:
        return query_string
    rel = related[arm - 1]
    own = "".join(f"&{k}={v}" for k, v in rel.params)
    if rel.reverse:
        return f"{rel.param}=[{type_}?{query_string}]{own}"
    return f"_id=[{type_}?{query_string}].{rel.param}{own}"
