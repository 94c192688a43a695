"""The (param, value) statistics of ``sp_string`` keep 100 pairs instead of 1,000 (issue 8).

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-26

0008 gave the planner the frequent (param, value) pairs of the string index, with a list of 1,000 pairs.
PostgreSQL reads that list back from the catalogue and decodes it every time it plans a statement that tests
``sp_string`` (statext_mcv_deserialize), and searches are planned at every execution (custom plans,
``kernel/db.search_connection``): with 1,000 pairs that took 190-300 us of each name search's planning. The
name search has since become a top-N read of its own index rows (``search_sql.FirstRows``, eighth session),
whose plan does not hang on that estimate.  With the 100 most frequent pairs (the family names and places
that make up most rows) over HTTP at 1 M resources: ``Patient?name=`` PostgreSQL CPU per search 1,644-2,105
-> 896-1,202 us, 555 / 578 -> 683 / 836 searches/s at 8 clients (docs/performance.md).
"""

from benhan.migrate import run_ddl

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # the new list at once rather than at the next autovacuum ANALYZE (a sample of 30,000 rows: seconds)
    run_ddl("ALTER STATISTICS sp_string_param_value SET STATISTICS 100; ANALYZE sp_string;")


def downgrade() -> None:
    run_ddl("ALTER STATISTICS sp_string_param_value SET STATISTICS 1000; ANALYZE sp_string;")
