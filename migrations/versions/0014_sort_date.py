"""``resource.sort_date``: a patient's resources newest first from one index (issue 3).

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-26

``Observation?patient=X&category=vital-signs&_sort=-date`` — a chart's vital signs, newest first — took the
patient's Observations from ``resource_patient (patient_id, type)`` and, for each of them, probed the index
rows for its category and its sort key (``max(high)`` of its ``sp_date`` rows) before keeping one page: at
5 M resources the 95th-percentile patient has ~950 vital signs, ~10,000 buffers and 5 ms of PostgreSQL per
search (p95 25-27 ms at 8 clients over HTTP; target 20).  The descending key of each type's ``date``
parameter is now also a column (``fhir/search/sortdate.py``) and ``resource_patient`` becomes
``(patient_id, type, sort_date DESC NULLS LAST)``: the search walks the patient's resources in that order and
stops after the first page.  About 16 bytes per resource that has the parameter (8 in the row, 8 in the index).

The upgrade fills the column from ``sp_date`` (``storage/pg/sortdates.py``; it rewrites every row of a type
with a ``date`` parameter once: minutes for millions of resources, and their old versions are left for
VACUUM) and builds the index before dropping the old one.
"""

from benhan.migrate import run_ddl

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from benhan.fhir.storage.pg.sortdates import sync_sql

    run_ddl(
        f"""
        ALTER TABLE resource ADD COLUMN IF NOT EXISTS sort_date timestamptz;
        {sync_sql()};
        CREATE INDEX IF NOT EXISTS resource_patient_date ON resource (patient_id, type, sort_date DESC NULLS LAST)
            WHERE patient_id IS NOT NULL;
        DROP INDEX IF EXISTS resource_patient;
        """
    )


def downgrade() -> None:
    run_ddl(
        """
        CREATE INDEX IF NOT EXISTS resource_patient ON resource (patient_id, type) WHERE patient_id IS NOT NULL;
        DROP INDEX IF EXISTS resource_patient_date;
        ALTER TABLE resource DROP COLUMN IF EXISTS sort_date;
        """
    )
