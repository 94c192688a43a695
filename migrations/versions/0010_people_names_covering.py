"""A covering index for the name and address searches of people: their index rows in the index itself.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26

A string search reads its matching index rows first, then the resources by primary key
(``storage/pg/search_sql.py``). ``sp_string_value (param, value)`` holds no ``rid``, so each matching row was
fetched from the table: ``Patient?name=nguyen`` at 5 M resources touched 3,912 heap pages for 7,582 rows
(7.5 ms warm, 20-320 ms cold; the full benchmark's p95 at 8 clients was 211 ms). With ``rid`` included the
same rows come from the index alone (index-only scan): 2.2 ms cold.

Only for the string parameters of Patient, Practitioner, RelatedPerson and Person (below; the registry's
``params_of(type)`` with type ``string`` at this revision, checked by ``tests/unit/search``): the same index
over all of ``sp_string`` would be 7 times the size of 0002's, because the display texts of codes
(``:text`` rows, most of the table) repeat and B-tree deduplication does not apply to an index with INCLUDE
columns. PostgreSQL uses a partial index when the query's ``param = …`` implies its predicate (a list of at
most 100 constants).
"""

from benhan.migrate import run_ddl

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

PEOPLE_STRING_PARAMS = (
    -974032757,  # Patient.address
    1472417707,  # Patient.address-city
    -31444427,  # Patient.address-country
    -1040421293,  # Patient.address-postalcode
    -304076386,  # Patient.address-state
    2037506917,  # Patient.family
    726722583,  # Patient.given
    -23963185,  # Patient.name
    -653949030,  # Practitioner.address
    398379074,  # Practitioner.address-city
    1929389769,  # Practitioner.address-country
    1397710319,  # Practitioner.address-postalcode
    1027572157,  # Practitioner.address-state
    -2075584719,  # Practitioner.family
    103490152,  # Practitioner.given
    -2115872861,  # Practitioner.name
    -269683437,  # RelatedPerson.address
    -1646352967,  # RelatedPerson.address-city
    83068171,  # RelatedPerson.address-country
    -1582371998,  # RelatedPerson.address-postalcode
    -269111831,  # RelatedPerson.address-state
    -885967869,  # RelatedPerson.name
    -859641163,  # Person.address
    933515946,  # Person.address-city
    888122320,  # Person.address-country
    417579053,  # Person.address-postalcode
    -378306274,  # Person.address-state
    2010056927,  # Person.name
)


def upgrade() -> None:
    run_ddl(
        "CREATE INDEX IF NOT EXISTS sp_string_people ON sp_string (param, value) INCLUDE (rid) "
        f"WHERE param IN ({', '.join(str(p) for p in PEOPLE_STRING_PARAMS)});"
    )


def downgrade() -> None:
    run_ddl("DROP INDEX IF EXISTS sp_string_people;")
