"""The search predicate of a visibility rule names few types, never a near-complete type list (issue 3 plans)."""

from __future__ import annotations

from benhan.fhir.model.resource_types import RESOURCE_TYPES
from benhan.fhir.storage.access_types import LEVEL_PROVINCE, Visibility, VisibilityRule
from benhan.fhir.storage.pg.access_sql import visibility_sql


def test_every_type_needs_no_type_test() -> None:
    sql, args = visibility_sql(Visibility(rules=(VisibilityRule(frozenset(RESOURCE_TYPES), LEVEL_PROVINCE),)))
    assert sql is not None
    assert sql.startswith("((true AND ")
    assert "ANY" not in sql.split(" AND ")[0]
    assert all(not isinstance(a, list) or len(a) < 10 for a in args)


def test_all_but_audit_event_names_the_exception() -> None:
    # A wildcard scope (system/*.rs) does not reach AuditEvent: the rule covers 145 of the 146 types.
    rule = VisibilityRule(frozenset(RESOURCE_TYPES - {"AuditEvent"}), LEVEL_PROVINCE)
    sql, args = visibility_sql(Visibility(rules=(rule,)))
    assert sql is not None
    assert "r.type <> ALL($1::text[])" in sql
    assert args[0] == ["AuditEvent"]


def test_a_few_types_are_listed() -> None:
    rule = VisibilityRule(frozenset({"Patient", "Coverage"}), LEVEL_PROVINCE)
    sql, args = visibility_sql(Visibility(rules=(rule,)))
    assert sql is not None
    assert "r.type = ANY($1::text[])" in sql
    assert args[0] == ["Coverage", "Patient"]
