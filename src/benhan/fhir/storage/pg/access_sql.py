"""SQL for the access policy: the facts a decision needs, the predicate a search/history applies, and the
access facts maintained in each write transaction (tables from migrations/versions/0003_identity_audit.py).

The predicate and :func:`benhan.access.policy.decide` implement the same rules (docs/security.md); the
authorization-matrix tests check both paths on every cell.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg
import orjson

from benhan.fhir.model.resource_types import RESOURCE_TYPES
from benhan.fhir.storage.access_types import (
    LEVEL_ASSIGNED,
    LEVEL_DEPARTMENT,
    LEVEL_FACILITY,
    AuditRecord,
    CareRelation,
    Derived,
    Target,
    Visibility,
    VisibilityRule,
)
from benhan.fhir.storage.content import unpack
from benhan.fhir.storage.pg.audit import APPEND_TYPES, append_args
from benhan.kernel.db import Conn

_FACTS = """
    LEFT JOIN LATERAL (
        SELECT array_agg(d.facility_id) AS fac, array_agg(d.department_id) AS dep,
               array_agg(d.practitioner_id) AS prac
        FROM (SELECT DISTINCT facility_id, department_id, practitioner_id FROM care_relation
              WHERE patient_id = {pid}) d
    ) c ON true
    LEFT JOIN LATERAL (SELECT array_agg(facility_id) AS blocks FROM consent_block WHERE patient_id = {pid}) b ON true
    LEFT JOIN resource_origin o ON o.rid = {rid}
"""
FACT_COLS = "c.fac, c.dep, c.prac, b.blocks, o.facility_id AS origin"


async def fetch_current_with_facts(conn: Conn, type_: str, id_: str, lock: bool = False) -> asyncpg.Record | None:
    """The current row of ``type_/id_`` with the access facts of its patient, in one round trip."""
    facts = _FACTS.format(pid="r.patient_id", rid="r.rid")
    lock_sql = " FOR UPDATE OF r" if lock else ""
    return await conn.fetchrow(
        f"SELECT r.rid, r.type, r.id, r.version, r.last_updated, r.deleted, r.patient_id, r.content, {FACT_COLS}"
        f" FROM resource r {facts} WHERE r.type = $1 AND r.id = $2{lock_sql}", type_, id_,
    )


async def fetch_patient_facts(conn: Conn, patient_id: str, rid: int | None) -> asyncpg.Record:
    facts = _FACTS.format(pid="$1", rid="$2")
    row = await conn.fetchrow(f"SELECT {FACT_COLS} FROM (SELECT 1) one {facts}", patient_id, rid)
    assert row is not None
    return row


def target_from(row: asyncpg.Record | None, type_: str, id_: str | None, patient_id: str | None) -> Target:
    """A policy Target from a facts row (None: no facts, e.g. a non-compartment resource)."""
    if row is None or patient_id is None:
        return Target(type=type_, id=id_, patient_id=patient_id)
    fac, dep, prac = row["fac"] or [], row["dep"] or [], row["prac"] or []
    relations = tuple(CareRelation(patient_id, f, d, p) for f, d, p in zip(fac, dep, prac, strict=True))
    return Target(
        type=type_, id=id_, patient_id=patient_id, relations=relations,
        consent_blocks=tuple(row["blocks"] or ()), origin_facility=row["origin"],
    )


def with_new_relations(target: Target, derived: Derived, units: dict[str, tuple[str, str | None]]) -> Target:
    """The target as it will be once the write's own care links exist (an Encounter at my facility puts
    the patient under my facility's care).  ``units``: organisation id → (kind, parent)."""
    extra: list[CareRelation] = []
    for link in derived.care:
        if link.patient_id != target.patient_id:
            continue
        fac, dep = link.organization_id, None
        kind, parent = units.get(link.organization_id or "", ("facility", None))
        if kind == "department":
            fac, dep = parent, link.organization_id
        extra.append(CareRelation(link.patient_id, fac, dep, link.practitioner_id))
    if not extra:
        return target
    return Target(target.type, target.id, target.patient_id, target.relations + tuple(extra),
                  target.consent_blocks, target.origin_facility, target.exists)


_OWNER_FACILITY = """
    WITH RECURSIVE up(start, id, kind, parent_id, depth) AS (
        SELECT o.start, u.id, u.kind, u.parent_id, 0
        FROM (VALUES (1, $1::text), (2, $2::text)) AS o(start, id) JOIN org_unit u ON u.id = o.id
        UNION ALL
        SELECT up.start, u.id, u.kind, u.parent_id, up.depth + 1
        FROM up JOIN org_unit u ON u.id = up.parent_id WHERE up.kind = 'department' AND up.depth < 8)
    SELECT id FROM up WHERE kind <> 'department' ORDER BY start, depth LIMIT 1
"""


async def owner_facility(conn: Conn, owners: tuple[str, ...]) -> str | None:
    """The facility (or, above every facility, the province) of the first of ``owners`` that the
    organisation tree knows: the nearest ancestor that is not a department.

    ``care.owners`` gives at most two (an Organization and what it is part of), asked two at a time as two
    scalar parameters: with an array parameter (``unnest($1)``) the custom plan, which sees the array's
    length, always looked cheaper than the generic one, so PostgreSQL planned the recursive query again on
    every write of an owned resource (~300 us of its CPU each on a slow 2-core VM)."""
    for i in range(0, len(owners), 2):
        pair = owners[i:i + 2]
        found: str | None = await conn.fetchval(_OWNER_FACILITY, pair[0], pair[1] if len(pair) > 1 else None)
        if found is not None:
            return found
    return None


async def org_units(conn: Conn, ids: list[str]) -> dict[str, tuple[str, str | None]]:
    if not ids:
        return {}
    rows = await conn.fetch("SELECT id, kind, parent_id FROM org_unit WHERE id = ANY($1::text[])", ids)
    return {r["id"]: (r["kind"], r["parent_id"]) for r in rows}


# -- the search/history predicate ---------------------------------------------------------------------
class _Args:
    def __init__(self, first: int) -> None:
        self.first = first
        self.values: list[Any] = []

    def add(self, value: Any, cast: str = "") -> str:
        self.values.append(value)
        return f"${self.first + len(self.values) - 1}{'::' + cast if cast else ''}"


def _relation_sql(rule: VisibilityRule, vis: Visibility, a: _Args) -> str:
    if rule.min_level >= LEVEL_ASSIGNED or (rule.min_level >= LEVEL_DEPARTMENT and not vis.facility_id):
        cond = f"c.practitioner_id = {a.add(vis.practitioner_id or '')}"
    elif rule.min_level == LEVEL_DEPARTMENT:
        cond = (f"((c.facility_id = {a.add(vis.facility_id)} AND c.department_id = {a.add(vis.department_id or '')})"
                f" OR c.practitioner_id = {a.add(vis.practitioner_id or '')})")
    elif rule.min_level == LEVEL_FACILITY:
        cond = (f"(c.facility_id = {a.add(vis.facility_id or '')}"
                f" OR c.practitioner_id = {a.add(vis.practitioner_id or '')})")
    else:
        return "true"
    return f"EXISTS (SELECT 1 FROM care_relation c WHERE c.patient_id = r.patient_id AND {cond})"


def _consent_sql(vis: Visibility, a: _Args) -> str:
    """Consent opt-outs hide other facilities' resources (not the Patient) from the viewer's facility."""
    fac = a.add(vis.facility_id or "")
    return (f"NOT (r.type <> 'Patient' AND EXISTS (SELECT 1 FROM consent_block cb WHERE cb.patient_id = r.patient_id"
            f" AND (cb.facility_id IS NULL OR cb.facility_id = {fac})) AND NOT EXISTS (SELECT 1 FROM resource_origin"
            f" ro WHERE ro.rid = r.rid AND ro.facility_id = {fac}))")


def _rule_sql(rule: VisibilityRule, vis: Visibility, a: _Args, consent: bool) -> str:
    # A rule over every type needs no type test, and one over all but a few (wildcard scopes do not reach
    # AuditEvent) names the few: a 145-element ``= ANY`` array misled the planner (the patient-scoped
    # MedicationRequest search went from 20 to 120 ms).
    missing = RESOURCE_TYPES - rule.types
    if not missing:
        types = "true"
    elif len(missing) <= 8:
        types = f"r.type <> ALL({a.add(sorted(missing), 'text[]')})"
    else:
        types = f"r.type = ANY({a.add(sorted(rule.types), 'text[]')})"
    if rule.patient_id is not None:
        # SMART patient/ scope: only the launch patient's compartment (plus resources outside any compartment).
        scope = f"(r.patient_id IS NULL OR r.patient_id = {a.add(rule.patient_id)})"
        types = f"{types} AND {scope}"
    relation = _relation_sql(rule, vis, a)
    granted = f"({relation} AND {_consent_sql(vis, a)})" if consent else relation
    if vis.glass_patients == ("*",):
        granted = f"({granted} OR true)"
    elif vis.glass_patients:
        granted = f"({granted} OR r.patient_id = ANY({a.add(list(vis.glass_patients), 'text[]')}))"
    return f"({types} AND (r.patient_id IS NULL OR {granted}))"


def visibility_sql(vis: Visibility, first_arg: int = 1, consent: bool = True) -> tuple[str | None, list[Any]]:
    """A predicate over alias ``r`` (a ``resource`` or history row with ``rid, type, patient_id``) and its
    arguments numbered from ``$first_arg``; None when nothing is restricted.  ``consent=False`` (only when
    :func:`consent_applies` said so) leaves out the Consent opt-out test."""
    if vis.unrestricted:
        return None, []
    if not vis.rules:
        return "false", []
    a = _Args(first_arg)
    return "(" + " OR ".join(_rule_sql(rule, vis, a, consent) for rule in vis.rules) + ")", a.values


async def consent_applies(conn: Conn, facility_id: str | None) -> bool:
    """Whether any Consent opt-out could hide a resource from a viewer at ``facility_id`` (see _consent_sql).

    Almost always false: then the search predicate need not name ``r.type``, ``r.rid`` or (for province-wide
    roles) ``r.patient_id``, and a count over millions of Observations can be an index-only scan instead of
    a visit to each row (2 s → ~0.15 s at 3.6 M Observations).  A separate statement: an opt-out committed
    between it and the search is treated as if it had come just after the search."""
    found: bool = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM consent_block WHERE facility_id IS NULL OR facility_id = $1)",
        facility_id or "")
    return found


async def visible_rids(conn: Conn, rids: list[int], vis: Visibility) -> set[int]:
    sql, args = visibility_sql(vis, 2)
    if sql is None:
        return set(rids)
    rows = await conn.fetch(f"SELECT r.rid FROM resource r WHERE r.rid = ANY($1::bigint[]) AND {sql}", rids, *args)
    return {r["rid"] for r in rows}


# -- maintenance in the write transaction ------------------------------------------------------------
#: how many parameters :func:`facts_ctes` takes (:func:`facts_args` gives them)
FACT_PARAMS = 8


def facts_ctes(n: int, rid: str = "$1", *, new: bool = False, gated: bool = False) -> list[str]:
    """CTEs that replace the access facts (care links, Consent opt-outs, organisation tree node) the resource
    ``rid`` (SQL) contributes with those of ``$n..$n+7`` (:func:`facts_args`), for a write statement.

    ``new``: the resource has just been inserted by the same statement, so it has no facts to delete.
    ``gated``: every part happens only if the statement's CTE ``g`` (``index._gate_cte``) found the version it
    expected; the old facts are then those of ``g``'s row.  All CTEs see the snapshot from before the
    statement: a department named by a care link resolves to its facility by the organisation tree as it was
    (no resource both is a tree node and makes care links)."""
    care_p, care_org, care_pr, block_p, block_f, org_id, org_kind, org_parent = (f"${n + i}" for i in range(8))
    gate = " AND EXISTS (SELECT 1 FROM g)" if gated else ""
    old = "(SELECT rid FROM g)" if gated else rid
    ctes = [] if new else [
        f"f_care_old AS (DELETE FROM care_relation WHERE source_rid = {old})",
        f"f_block_old AS (DELETE FROM consent_block WHERE source_rid = {old})",
        f"f_org_old AS (DELETE FROM org_unit WHERE rid = {old} AND {org_id}::text IS NULL)",
    ]
    return [
        *ctes,
        f"f_org AS (INSERT INTO org_unit (id, kind, parent_id, rid) SELECT {org_id}, {org_kind}, {org_parent}, {rid}"
        f" WHERE {org_id}::text IS NOT NULL{gate} ON CONFLICT (id) DO UPDATE SET kind = EXCLUDED.kind,"
        f" parent_id = EXCLUDED.parent_id, rid = EXCLUDED.rid)",
        f"f_block AS (INSERT INTO consent_block (source_rid, patient_id, facility_id) SELECT {rid}, t.p, t.f"
        f" FROM unnest({block_p}::text[], {block_f}::text[]) AS t(p, f) WHERE true{gate})",
        "f_care AS (INSERT INTO care_relation (source_rid, patient_id, facility_id, department_id, practitioner_id)"
        f" SELECT {rid}, t.p, CASE WHEN o.kind = 'department' THEN o.parent_id ELSE t.org END,"
        " CASE WHEN o.kind = 'department' THEN t.org END, t.pr"
        f" FROM unnest({care_p}::text[], {care_org}::text[], {care_pr}::text[]) AS t(p, org, pr)"
        f" LEFT JOIN org_unit o ON o.id = t.org WHERE true{gate})",
    ]


def facts_args(derived: Derived, deleted: bool = False) -> list[Any]:
    """The :data:`FACT_PARAMS` arguments of :func:`facts_ctes` for ``derived`` (none for a deletion)."""
    care = [] if deleted else derived.care
    blocks = [] if deleted else derived.consent_blocks
    org = None if deleted else derived.org
    return [[c.patient_id for c in care], [c.organization_id for c in care], [c.practitioner_id for c in care],
            [b[0] for b in blocks], [b[1] for b in blocks],
            org.id if org else None, org.kind if org else None, org.parent_id if org else None]


def _maintain_sql(audited: bool) -> str:
    """:func:`maintain`'s statement: the facts of ``$1`` (``$2..$9``), its origin facility (``$10``) and, when
    ``audited``, the write's audit records (``$11..$13``, :func:`.audit.append_args`)."""
    ctes = [*facts_ctes(2),
            "og AS (INSERT INTO resource_origin SELECT $1, $10 WHERE $10::text IS NOT NULL ON CONFLICT DO NOTHING)"]
    if not audited:
        return "WITH " + ",\n".join(ctes) + "\nSELECT 1"
    call = ", ".join(f"${11 + i}::{t}" for i, t in enumerate(APPEND_TYPES))
    return "WITH " + ",\n".join(ctes) + f"\nSELECT benhan_audit_append_rows({call})"


_MAINTAIN = {audited: _maintain_sql(audited) for audited in (False, True)}


async def maintain(conn: Conn, rid: int, derived: Derived, origin_facility: str | None, deleted: bool = False, *,
                   audit: list[AuditRecord] | None = None) -> None:
    """Replace the access facts a resource contributes (care links, opt-outs, tree node), and append
    ``audit`` (the write's records) in the same statement: one round trip.  (Single writes outside a unit of
    work put the same CTEs in their write statement instead: ``index.supersede`` and ``insert_new``.)"""
    await conn.execute(_MAINTAIN[bool(audit)], rid, *facts_args(derived, deleted), origin_facility,
                       *(append_args(audit) if audit else ()))


async def rebuild_facts(conn: Conn, derive: Callable[[dict[str, Any]], Derived], types: frozenset[str]) -> int:
    """Recompute the access facts of every current resource of ``types`` (after a bulk load that bypassed
    the repository, e.g. COPY).  Organizations first, so departments resolve to their facility."""
    done = 0
    for group in (["Organization"], sorted(types - {"Organization"})):
        rows = await conn.fetch(
            "SELECT rid, content FROM resource WHERE type = ANY($1::text[]) AND NOT deleted ORDER BY rid", group)
        for row in rows:
            await maintain(conn, row["rid"], derive(orjson.loads(unpack(row["content"]))), None)
            done += 1
    return done
