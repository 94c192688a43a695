"""An index on the upper bound of date ranges: ``ge``, ``gt`` and ``eb`` searches.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26

FHIR R4 search.html#prefix: ``gt`` and ``ge`` ask whether the resource's range ends after the value, ``eb``
whether it ends before it — conditions on ``sp_date.high``, which 0002's ``(param, low, high)`` index can only
filter after reading every row of the parameter. At 5 M resources ``Observation?date=ge<7 days ago>`` read all
3.6 M Observation dates; with this index the ``gt`` arm of ``ge`` (``high > end OR (low >= start AND high <=
end)``) is an index range and the planner ORs two bitmaps: 28,565 recent rows in 9 ms, estimated 37,442 (it
estimated 196 for a form that spelled out the implied ``high >= start``). About 15 bytes per resource.
"""

from benhan.migrate import run_ddl

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_ddl("CREATE INDEX IF NOT EXISTS sp_date_high ON sp_date (param, high);")


def downgrade() -> None:
    run_ddl("DROP INDEX IF EXISTS sp_date_high;")
