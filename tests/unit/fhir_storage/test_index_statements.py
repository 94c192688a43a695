"""The write statements of storage/pg/index.py name only the index tables a create fills (no database)."""

from __future__ import annotations

import re

from benhan.fhir.search.extract import extract
from benhan.fhir.storage.pg import access_sql, index


def _inserted_tables(sql: str) -> set[str]:
    return set(re.findall(r"INSERT INTO (sp_\w+)", sql))


_FACT_WRITES = {f"{verb} {table}" for verb in ("INSERT INTO", "DELETE FROM")
                for table in ("org_unit", "consent_block", "care_relation")}


def _fact_writes(sql: str) -> set[str]:
    return set(re.findall(r"(?:INSERT INTO|DELETE FROM) (?:org_unit|consent_block|care_relation)", sql))


def test_filled_tables_are_the_tables_with_rows() -> None:
    patient = extract("Patient", {"resourceType": "Patient", "id": "p1", "gender": "female",
                                  "name": [{"family": "Nguyễn"}], "birthDate": "1980-01-02"})
    filled = index.filled_tables([patient])
    assert {"sp_string", "sp_token", "sp_date", "sp_text"} <= filled
    assert "sp_quantity" not in filled  # a Patient has no quantity
    assert "sp_number" not in filled  # nor number
    vital = extract("Observation", {"resourceType": "Observation", "id": "o1", "status": "final",
                                    "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
                                    "valueQuantity": {"value": 72, "unit": "/min",
                                                      "system": "http://unitsofmeasure.org", "code": "/min"}})
    assert "sp_quantity" in index.filled_tables([vital])
    assert index.filled_tables([patient, vital]) == index.filled_tables([patient]) | index.filled_tables([vital])
    assert index.filled_tables([]) == frozenset()


def test_a_create_statement_inserts_into_the_filled_tables_only() -> None:
    variants = [(t, a) for t in (frozenset({"sp_string", "sp_token"}), frozenset({"sp_text"}), frozenset())
                for a in (False, True)]
    for tables, audited in variants:
        sql = index._create_sql(tables, audited=audited)
        assert _inserted_tables(sql) == set(tables)
        # every parameter is still used, so one argument list fits every variant
        assert {int(n) for n in re.findall(r"\$(\d+)", sql)} == set(range(1, (14 if audited else 10) + 1))
        assert "care_relation" not in sql
    for tables in (frozenset({"sp_reference"}), frozenset()):  # an Encounter's create: its facts go with it
        sql = index._create_sql(tables, audited=True, facts=True)
        assert _inserted_tables(sql) == set(tables)
        assert {int(n) for n in re.findall(r"\$(\d+)", sql)} == set(range(1, 14 + access_sql.FACT_PARAMS + 1))
        assert _fact_writes(sql) == {"INSERT INTO org_unit", "INSERT INTO consent_block", "INSERT INTO care_relation"}
    tables = frozenset({"sp_string", "sp_token"})
    everything = frozenset(index.INDEX_TABLES)
    assert _inserted_tables(index._create_sql(everything)) == set(everything)
    assert index._create_sql(tables) is index._create_sql(tables)  # built once per set


def test_an_update_statement_deletes_from_every_table_and_inserts_into_the_filled_ones() -> None:
    """The old version's rows go from all eight tables (which it filled is not known); the new rows are
    inserted only where the new version has some; every parameter is used in every variant."""
    for tables in (frozenset({"sp_token", "sp_date"}), frozenset({"sp_text"}), frozenset()):
        for audited in (False, True):
            for gated in (False, True):
                sql = index._supersede_sql(tables, audited=audited, gated=gated)
                assert set(re.findall(r"DELETE FROM (sp_\w+)", sql)) == set(index.INDEX_TABLES)
                assert _inserted_tables(sql) == set(tables)
                last = 10 + (3 if audited else 0) + (1 if gated else 0)
                assert {int(n) for n in re.findall(r"\$(\d+)", sql)} == set(range(1, last + 1))
                assert not _fact_writes(sql)
                with_facts = index._supersede_sql(tables, audited=audited, gated=gated, facts=True)
                assert _inserted_tables(with_facts) == set(tables)
                assert {int(n) for n in re.findall(r"\$(\d+)", with_facts)} == set(
                    range(1, last + access_sql.FACT_PARAMS + 1))
                assert _fact_writes(with_facts) == _FACT_WRITES


def test_a_delete_statement_takes_the_facts_when_asked() -> None:
    for audited in (False, True):
        for gated in (False, True):
            last = 7 + (3 if audited else 0) + (1 if gated else 0)
            sql = index._delete_sql(audited=audited, gated=gated)
            assert {int(n) for n in re.findall(r"\$(\d+)", sql)} == set(range(1, last + 1))
            assert not _fact_writes(sql)
            with_facts = index._delete_sql(audited=audited, gated=gated, facts=True)
            assert {int(n) for n in re.findall(r"\$(\d+)", with_facts)} == set(
                range(1, last + access_sql.FACT_PARAMS + 1))
            assert _fact_writes(with_facts) == _FACT_WRITES
            # a gated statement removes facts only through the row the gate found
            if gated:
                assert "DELETE FROM care_relation WHERE source_rid = (SELECT rid FROM g)" in with_facts
