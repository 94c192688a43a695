"""The read audit is stored in blocks: one row per group commit (issue 8).

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-27

The read audit's flusher (``fhir/storage/pg/audit.py`` ``AuditLog``) commits the records of the reads,
searches, denials and logins that arrived during the previous commit, ~10 at 32 clients.  Until now each
became a row of ``audit_log``: its own compression, hash, heap tuple and four index entries.  Now a batch is
one row of ``audit_block``: the events' canonical JSON joined by newlines (RFC 8259 JSON as benhan writes it
holds no raw newline) and compressed once, one hash in the block's chain, and the columns the reports query
as arrays, one element per event.  ``patients`` and ``users`` (the distinct patients and user names of the
block) are GIN-indexed, so "who viewed this record" and the auditor's search by user find a patient's or a
user's blocks without reading the others; ``recorded_from``/``recorded_to`` bound a block's events in time
(BRIN: blocks are appended in time order).

Blocks have chains of their own, 64-95 (a worker's flusher takes ``64 + pid % 32``), with their heads in
``audit_head`` like every chain: ``hash_n = sha256(hash_(n-1) || int8send(seq_n) || content_n)``, checked by
``benhan audit verify`` with the rows' chains.  Writes are still audited as rows, in their own transaction.

``audit_event`` is the one relation every reader queries: the rows of ``audit_log`` (``part`` 0) and the
events of the blocks (``part`` 1..n, their order in the block), with the same columns, the stored content
for rows only (a block's is read and split by the reader), and ``patients``, ``users``, ``recorded_from``,
``recorded_to`` and ``any_glass`` so that a query can name the block-level conditions its filters imply:
PostgreSQL pushes those into the blocks' scan (indexes) before their events are unnested.
"""

from benhan.migrate import run_ddl

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

BLOCK_CHAINS = (64, 96)  # fhir/storage/pg/audit.py BLOCK_CHAINS

_UP = f"""
CREATE TABLE audit_block (
    chain integer NOT NULL,
    seq bigint NOT NULL,
    hash bytea NOT NULL,
    recorded_from timestamptz NOT NULL,
    recorded_to timestamptz NOT NULL,
    patients text[] NOT NULL,
    users text[] NOT NULL,
    any_glass boolean NOT NULL,
    recorded timestamptz[] NOT NULL,
    action text[] NOT NULL,
    outcome text[] NOT NULL,
    user_name text[] NOT NULL,
    user_id text[] NOT NULL,
    client_id text[] NOT NULL,
    facility_id text[] NOT NULL,
    department_id text[] NOT NULL,
    patient_id text[] NOT NULL,
    break_glass boolean[] NOT NULL,
    entity text[] NOT NULL,
    content bytea NOT NULL,
    PRIMARY KEY (chain, seq)
);
CREATE INDEX audit_block_patients ON audit_block USING gin (patients);
CREATE INDEX audit_block_users ON audit_block USING gin (users);
CREATE INDEX audit_block_recorded ON audit_block USING brin (recorded_from, recorded_to);
CREATE INDEX audit_block_glass ON audit_block (recorded_from) WHERE any_glass;

CREATE TRIGGER audit_block_append_only BEFORE UPDATE OR DELETE ON audit_block
    FOR EACH ROW EXECUTE FUNCTION benhan_audit_refuse();
CREATE TRIGGER audit_block_no_truncate BEFORE TRUNCATE ON audit_block
    FOR EACH STATEMENT EXECUTE FUNCTION benhan_audit_refuse();

CREATE VIEW audit_event AS
SELECT chain, seq, 0 AS part, recorded, action, outcome, user_name, user_id, client_id, facility_id, department_id,
       patient_id, break_glass, entity, content, ARRAY[patient_id] AS patients, ARRAY[user_name] AS users,
       recorded AS recorded_from, recorded AS recorded_to, break_glass AS any_glass
FROM audit_log
UNION ALL
SELECT b.chain, b.seq, e.part::integer, e.recorded, e.action, e.outcome, e.user_name, e.user_id, e.client_id,
       e.facility_id, e.department_id, e.patient_id, e.break_glass,
       coalesce(string_to_array(e.entity, ' '), '{{}}'::text[]), NULL::bytea, b.patients, b.users,
       b.recorded_from, b.recorded_to, b.any_glass
FROM audit_block b
CROSS JOIN LATERAL unnest(b.recorded, b.action, b.outcome, b.user_name, b.user_id, b.client_id, b.facility_id,
                          b.department_id, b.patient_id, b.break_glass, b.entity)
     WITH ORDINALITY AS e(recorded, action, outcome, user_name, user_id, client_id, facility_id, department_id,
                          patient_id, break_glass, entity, part);

INSERT INTO audit_head SELECT c, 0, benhan_audit_genesis(c)
FROM generate_series({BLOCK_CHAINS[0]}, {BLOCK_CHAINS[1] - 1}) c ON CONFLICT DO NOTHING;

GRANT SELECT, INSERT ON audit_block TO benhan_app;
GRANT SELECT ON audit_event TO benhan_app;
"""


def upgrade() -> None:
    run_ddl(_UP)


def downgrade() -> None:
    # the blocks go, and with them their chains' heads (which would name blocks no longer there)
    run_ddl(f"DROP VIEW audit_event; DROP TABLE audit_block; DELETE FROM audit_head WHERE chain >= {BLOCK_CHAINS[0]};")
