"""Keep planner statistics fresh on the resource and search index tables.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25

Search plans depend on estimates of how many index rows a value matches; after a burst of writes (an
import, a busy morning) PostgreSQL's default (re-analyse after 10 % of a table changed) leaves a large
table with stale estimates for a long time, and a patient-scoped search can pick a plan that scans a whole
category (measured: 0.7 s instead of 8 ms).  Re-analysing after 1 % (at least 1,000 rows) keeps them fresh.
"""

from benhan.migrate import run_ddl

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TABLES = ("resource", "sp_string", "sp_token", "sp_date", "sp_number", "sp_quantity", "sp_reference", "sp_uri",
          "sp_text", "care_relation")


def upgrade() -> None:
    run_ddl("".join(
        f"ALTER TABLE {t} SET (autovacuum_analyze_scale_factor = 0.01, autovacuum_analyze_threshold = 1000);"
        for t in TABLES
    ))


def downgrade() -> None:
    run_ddl("".join(
        f"ALTER TABLE {t} RESET (autovacuum_analyze_scale_factor, autovacuum_analyze_threshold);" for t in TABLES
    ))
