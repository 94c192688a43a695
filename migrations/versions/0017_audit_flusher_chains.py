"""The read audit's flushers get chains of their own, 32 to 63 (issue 8).

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-27

A flusher (``fhir/storage/pg/audit.py`` ``AuditLog``) appends a batch of read records to one chain, and until
now called ``benhan_audit_append_rows`` for it like every write does: PL/pgSQL that locks the chain's head,
hashes each record, parses the rows and updates the head.  A flusher now keeps its chain's head in memory,
hashes the records itself and sends one ``UPDATE … RETURNING`` + ``INSERT`` statement that moves the head only
if it still is where the flusher left it (else nothing is inserted and the flusher reads the head again).
That is cheapest when no writer appends to the flusher's chain, so the flushers take chains 32-63 (a worker
takes ``32 + pid % 32``), and the writers' append, when the chain it names is held, now looks for a free head
among 0-31 only.  Each chain stays one hash chain, checked by ``benhan audit verify`` as before.
"""

from benhan.migrate import run_ddl

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

WRITER_CHAINS = 32  # fhir/storage/pg/audit.py AUDIT_CHAINS; the flushers' are 32-63 (FLUSHER_CHAINS)

# 0015's function; only the fallback's search for a free head keeps to the writers' chains.
_ROWS = """
CREATE OR REPLACE FUNCTION benhan_audit_append_rows(p_chain integer, p_rows json, p_content bytea[])
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    v_chain integer;
    v_seq bigint;
    v_hash bytea;
    v_hashes bytea[];
    n integer := coalesce(array_length(p_content, 1), 0);
    i integer;
BEGIN
    IF n = 0 THEN
        RETURN 0;
    END IF;
    IF json_array_length(p_rows) <> n THEN
        RAISE EXCEPTION 'benhan_audit_append_rows: % rows for % contents', json_array_length(p_rows), n;
    END IF;
    v_chain := p_chain;
    SELECT seq, hash INTO v_seq, v_hash FROM audit_head WHERE chain = v_chain FOR UPDATE SKIP LOCKED;
    IF NOT FOUND AND NOT EXISTS (SELECT FROM audit_head WHERE chain = v_chain) THEN
        -- a chain no migration created starts at its genesis hash
        INSERT INTO audit_head VALUES (v_chain, 0, benhan_audit_genesis(v_chain)) ON CONFLICT DO NOTHING;
        SELECT seq, hash INTO v_seq, v_hash FROM audit_head WHERE chain = v_chain FOR UPDATE;
    ELSIF NOT FOUND THEN
        -- held by another transaction: the next writers' head from p_chain on (then from 0) nobody holds
        SELECT chain, seq, hash INTO v_chain, v_seq, v_hash FROM audit_head WHERE chain < __WRITERS__
            ORDER BY chain < p_chain, chain FOR UPDATE SKIP LOCKED LIMIT 1;
        IF NOT FOUND THEN  -- every head is held: wait for the one named
            v_chain := p_chain;
            SELECT seq, hash INTO v_seq, v_hash FROM audit_head WHERE chain = v_chain FOR UPDATE;
        END IF;
    END IF;
    v_hashes := array_fill(NULL::bytea, ARRAY[n]);
    FOR i IN 1 .. n LOOP
        v_hash := sha256(v_hash || int8send(v_seq + i) || p_content[i]);
        v_hashes[i] := v_hash;
    END LOOP;
    INSERT INTO audit_log (chain, seq, hash, recorded, action, outcome, user_name, user_id, client_id,
                           facility_id, department_id, patient_id, break_glass, entity, content)
    SELECT v_chain, v_seq + t.i, v_hashes[t.i], t.recorded, t.action, t.outcome, t.user_name, t.user_id,
           t.client_id, t.facility_id, t.department_id, t.patient_id, t.break_glass,
           coalesce(string_to_array(t.entity, ' '), '{}'::text[]), p_content[t.i]
    FROM ROWS FROM (json_to_recordset(p_rows) AS (
            recorded timestamptz, action text, outcome text, user_name text, user_id text, client_id text,
            facility_id text, department_id text, patient_id text, break_glass boolean, entity text))
         WITH ORDINALITY AS t(recorded, action, outcome, user_name, user_id, client_id, facility_id,
                              department_id, patient_id, break_glass, entity, i);
    UPDATE audit_head SET seq = v_seq + n, hash = v_hash WHERE chain = v_chain;
    RETURN n;
END $$;
""".replace("__WRITERS__", str(WRITER_CHAINS))


def upgrade() -> None:
    run_ddl(
        f"INSERT INTO audit_head SELECT c, 0, benhan_audit_genesis(c)"
        f" FROM generate_series({WRITER_CHAINS}, {2 * WRITER_CHAINS - 1}) c ON CONFLICT DO NOTHING;\n{_ROWS}"
    )


def downgrade() -> None:
    # 0015's function (the heads of chains 32-63 stay: records may hang from them)
    run_ddl(_ROWS.replace(f" WHERE chain < {WRITER_CHAINS}\n", "\n"))
