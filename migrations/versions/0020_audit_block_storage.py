"""How PostgreSQL stores a block of the read audit (issue 8).

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-27

A 10-event block (a group commit at 32 clients) is ~4.1 kB as written: its per-event columns (``events``,
~3.1 kB of JSON) and its content (~0.8 kB, already zstd-compressed by benhan).  Past PostgreSQL's default
TOAST threshold (~2 kB) the row was compressed and then, still over it, had a value moved out of line into the
TOAST table: a second heap insert and index entry per block (storage.html §73.2, "TOAST").

- ``content`` is ``STORAGE EXTERNAL``: PostgreSQL no longer tries pglz on zstd output, which never shrinks;
- ``toast_tuple_target = 4000``: a row is compressed only past 4,000 bytes, and kept whole once under it, so a
  10-event block (``events`` compressed to ~1.3 kB) stays in its heap page.

Measured on one connection (``synchronous_commit = off``, 3,000 inserts of the same 10-event block, median of
three): PostgreSQL's CPU per block 130 -> 100 µs, storage 368 -> 338 bytes per event; blocks of 3 events
(8 clients) stay as they were.  Both settings take effect for rows written after; nothing is rewritten.
"""

from benhan.migrate import run_ddl

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_ddl("ALTER TABLE audit_block ALTER COLUMN content SET STORAGE EXTERNAL, SET (toast_tuple_target = 4000);")


def downgrade() -> None:
    run_ddl("ALTER TABLE audit_block ALTER COLUMN content SET STORAGE EXTENDED, RESET (toast_tuple_target);")
