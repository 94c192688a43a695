"""A block's per-event columns become one JSON value (issue 8).

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-27

Migration 0018 stored a block's report columns as eleven arrays, one element per event.  asyncpg encodes an
array parameter element by element: the eleven arrays of a 10-event block cost the worker ~90 µs of its CPU
per block, ~9 µs per audited read (``bench.sql_costs``), more than building the read's AuditEvent.  They now
travel and are stored as one ``jsonb`` value, an object of the same eleven arrays
(``{"recorded": [...], "action": [...], ...}``), which the worker serialises in one call and PostgreSQL
parses once.  ``audit_event`` turns it back into the same columns (``jsonb_to_record``, then ``unnest``), so
no reader changes.  The block-level columns (``patients``, ``users``, the time span, ``any_glass``) and their
indexes stay as they were.

The upgrade rewrites every block once (its hash covers its content, which does not change); the downgrade
turns the JSON back into the arrays.
"""

from benhan.migrate import run_ddl

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

#: the per-event columns, as 0018 declared them and as ``events`` holds them
_EVENTS = ("recorded timestamptz[], action text[], outcome text[], user_name text[], user_id text[],"
           " client_id text[], facility_id text[], department_id text[], patient_id text[], break_glass boolean[],"
           " entity text[]")
_NAMES = [c.split()[0] for c in _EVENTS.split(",")]
#: ``audit_event`` as 0018 made it but for where a block's per-event columns come from: its arrays (0018), or
#: ``c``, the arrays of its ``events`` (0019)
_VIEW = """
CREATE VIEW audit_event AS
SELECT chain, seq, 0 AS part, recorded, action, outcome, user_name, user_id, client_id, facility_id, department_id,
       patient_id, break_glass, entity, content, ARRAY[patient_id] AS patients, ARRAY[user_name] AS users,
       recorded AS recorded_from, recorded AS recorded_to, break_glass AS any_glass
FROM audit_log
UNION ALL
SELECT b.chain, b.seq, e.part::integer, e.recorded, e.action, e.outcome, e.user_name, e.user_id, e.client_id,
       e.facility_id, e.department_id, e.patient_id, e.break_glass,
       coalesce(string_to_array(e.entity, ' '), '{}'::text[]), NULL::bytea, b.patients, b.users,
       b.recorded_from, b.recorded_to, b.any_glass
FROM audit_block b
CROSS JOIN LATERAL unnest(%(columns)s)
     WITH ORDINALITY AS e(recorded, action, outcome, user_name, user_id, client_id, facility_id, department_id,
                          patient_id, break_glass, entity, part);
GRANT SELECT ON audit_event TO benhan_app;
"""


def _view(source: str, lateral: str = "") -> str:
    columns = ", ".join(f"{source}.{n}" for n in _NAMES)
    return _VIEW.replace("FROM audit_block b\n", f"FROM audit_block b\n{lateral}") % {"columns": columns}


_LATERAL = f"CROSS JOIN LATERAL jsonb_to_record(b.events) AS c({_EVENTS})\n"

_UP = f"""
DROP VIEW audit_event;
ALTER TABLE audit_block ADD COLUMN events jsonb;
ALTER TABLE audit_block DISABLE TRIGGER audit_block_append_only;
UPDATE audit_block SET events = jsonb_build_object({", ".join(f"'{n}', {n}" for n in _NAMES)});
ALTER TABLE audit_block ENABLE TRIGGER audit_block_append_only;
ALTER TABLE audit_block ALTER COLUMN events SET NOT NULL, {", ".join(f"DROP COLUMN {n}" for n in _NAMES)};
{_view("c", _LATERAL)}
"""

_DOWN = f"""
DROP VIEW audit_event;
ALTER TABLE audit_block {", ".join(f"ADD COLUMN {c.strip()}" for c in _EVENTS.split(","))};
ALTER TABLE audit_block DISABLE TRIGGER audit_block_append_only;
UPDATE audit_block b SET ({", ".join(_NAMES)}) = (SELECT {", ".join(f"c.{n}" for n in _NAMES)}
                                                  FROM jsonb_to_record(b.events) AS c({_EVENTS}));
ALTER TABLE audit_block ENABLE TRIGGER audit_block_append_only;
ALTER TABLE audit_block {", ".join(f"ALTER COLUMN {n} SET NOT NULL" for n in _NAMES)}, DROP COLUMN events;
{_view("b")}
"""


def upgrade() -> None:
    run_ddl(_UP)


def downgrade() -> None:
    run_ddl(_DOWN)
