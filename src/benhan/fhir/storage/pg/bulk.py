"""Bulk load of new resources with ``COPY`` (synthetic data, demo province, imports).

Each resource is stored exactly as :class:`PgRepository` would create it: the same ``stamp`` (meta
versionId 1 and lastUpdated), the same patient compartment and the same search index rows
(:func:`benhan.fhir.search.extract.extract` on the stored JSON); only the transport differs: ``rid`` values
are reserved from the identity sequence in one query and every table gets one ``COPY`` per batch.
Resources whose (type, id) already exist are skipped, so loading the same deterministic ids twice
writes nothing the second time. No validation here: callers load generated data whose validity is tested.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from benhan.fhir.search.extract import extract, patient_compartment
from benhan.fhir.storage.access_types import Derived
from benhan.fhir.storage.pg import index as index_sql
from benhan.fhir.storage.prepare import stamp
from benhan.kernel import clock
from benhan.kernel.db import Conn

__all__ = ["BulkResult", "existing_keys", "write_batch"]

JsonObj = dict[str, Any]
_RESOURCE_COLUMNS = ["rid", "type", "id", "version", "last_updated", "deleted", "patient_id", "content"]


@dataclass(slots=True)
class BulkResult:
    written: Counter[str] = field(default_factory=Counter)
    skipped: int = 0

    def add(self, other: BulkResult) -> None:
        self.written.update(other.written)
        self.skipped += other.skipped


async def existing_keys(conn: Conn, keys: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which (type, id) pairs are already stored (deleted ones included: their ids stay taken)."""
    if not keys:
        return set()
    found = await conn.fetch(
        "SELECT r.type, r.id FROM resource r JOIN unnest($1::text[], $2::text[]) AS k(type, id)"
        " ON r.type = k.type AND r.id = k.id",
        [k[0] for k in keys], [k[1] for k in keys],
    )
    return {(row["type"], row["id"]) for row in found}


async def write_batch(
    conn: Conn, resources: list[JsonObj], *, skip_existing: bool = True,
    derive: Callable[[JsonObj], Derived] | None = None,
) -> BulkResult:
    """Insert ``resources`` (each with ``resourceType`` and ``id``) as version 1, in the caller's transaction.

    ``derive`` is the access policy's fact extractor (``AccessPolicy.derive``); with it, the access facts
    (organisation tree, care relations, Consent opt-outs) are maintained as ``access_sql.maintain`` does.
    """
    result = BulkResult()
    keys = [(str(r["resourceType"]), str(r["id"])) for r in resources]
    taken = await existing_keys(conn, keys) if skip_existing else set()
    seen: set[tuple[str, str]] = set()
    fresh: list[tuple[str, str, JsonObj]] = []
    for key, res in zip(keys, resources, strict=True):
        if key in taken or key in seen:
            result.skipped += 1
            continue
        seen.add(key)
        fresh.append((key[0], key[1], res))
    if not fresh:
        return result
    rids: list[int] = [r[0] for r in await conn.fetch(
        "SELECT nextval(pg_get_serial_sequence('resource', 'rid')) FROM generate_series(1, $1)", len(fresh)
    )]  # fmt: skip
    when = clock.now()
    rows: list[tuple[Any, ...]] = []
    tables: dict[str, list[tuple[Any, ...]]] = {t: [] for t, _c, _ty in index_sql._LAYOUT}
    texts: list[tuple[int, str, str]] = []
    facts: list[tuple[int, Derived]] = []
    for rid, (type_, id_, res) in zip(rids, fresh, strict=True):
        content = stamp(res, type_, id_, 1, when)
        stored = orjson.loads(content)
        rows.append((rid, type_, id_, 1, when, False, patient_compartment(stored), content))
        _index_rows(rid, type_, stored, tables, texts)
        if derive is not None:
            facts.append((rid, derive(stored)))
        result.written[type_] += 1
    await conn.copy_records_to_table("resource", records=rows, columns=_RESOURCE_COLUMNS)
    await _copy_index(conn, tables, texts)
    if facts:
        await _access_facts(conn, facts)
    return result


async def _access_facts(conn: Conn, facts: list[tuple[int, Derived]]) -> None:
    """The set-based form of ``access_sql.maintain`` for new resources (nothing to delete first)."""
    orgs = [(rid, d.org) for rid, d in facts if d.org is not None]
    if orgs:
        # Tree nodes first: care relations below resolve department -> facility through org_unit.
        await conn.execute(
            "INSERT INTO org_unit (id, kind, parent_id, rid) SELECT i, k, p, r "
            "FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[]) AS t(i, k, p, r) "
            "ON CONFLICT (id) DO UPDATE SET kind = EXCLUDED.kind, parent_id = EXCLUDED.parent_id, rid = EXCLUDED.rid",
            [o.id for _, o in orgs if o], [o.kind for _, o in orgs if o], [o.parent_id for _, o in orgs if o],
            [rid for rid, _ in orgs],
        )
    care = [(rid, c) for rid, d in facts for c in d.care]
    if care:
        await conn.execute(
            "INSERT INTO care_relation (source_rid, patient_id, facility_id, department_id, practitioner_id) "
            "SELECT t.r, t.p, CASE WHEN o.kind = 'department' THEN o.parent_id ELSE t.org END, "
            "CASE WHEN o.kind = 'department' THEN t.org END, t.pr "
            "FROM unnest($1::int8[], $2::text[], $3::text[], $4::text[]) AS t(r, p, org, pr) "
            "LEFT JOIN org_unit o ON o.id = t.org",
            [rid for rid, _ in care], [c.patient_id for _, c in care], [c.organization_id for _, c in care],
            [c.practitioner_id for _, c in care],
        )
    blocks = [(rid, b) for rid, d in facts for b in d.consent_blocks]
    if blocks:
        await conn.execute(
            "INSERT INTO consent_block SELECT r, p, f FROM unnest($1::int8[], $2::text[], $3::text[]) AS t(r, p, f)",
            [rid for rid, _ in blocks], [b[0] for _, b in blocks], [b[1] for _, b in blocks],
        )


def _index_rows(
    rid: int, type_: str, stored: JsonObj, tables: dict[str, list[tuple[Any, ...]]], texts: list[tuple[int, str, str]]
) -> None:
    rows = extract(type_, stored)
    groups = index_sql._groups(rows)
    for (table, _cols, _types), group in zip(index_sql._LAYOUT, groups, strict=True):
        target = tables[table]
        for row in group:
            target.append((rid, *row))
    texts.append((rid, rows.narrative, rows.content[: index_sql._CONTENT_LIMIT]))


async def _copy_index(conn: Conn, tables: dict[str, list[tuple[Any, ...]]], texts: list[tuple[int, str, str]]) -> None:
    for table, cols, _types in index_sql._LAYOUT:
        if tables[table]:
            columns = ["rid", *(c.strip() for c in cols.split(","))]
            await conn.copy_records_to_table(table, records=tables[table], columns=columns)
    # _text/_content are tsvectors: COPY the folded text to a scratch table, convert in SQL exactly as
    # index.write_index does.
    await conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS bulk_text (rid bigint, narrative text, content text) ON COMMIT DELETE ROWS"
    )
    await conn.copy_records_to_table("bulk_text", records=texts, columns=["rid", "narrative", "content"])
    await conn.execute(
        "INSERT INTO sp_text (rid, narrative, content) SELECT rid, CASE WHEN narrative = '' THEN NULL "
        "ELSE to_tsvector('simple', narrative) END, CASE WHEN content = '' THEN NULL ELSE to_tsvector('simple', "
        "content) END FROM bulk_text WHERE narrative <> '' OR content <> ''"
    )
    await conn.execute("TRUNCATE bulk_text")
