"""An audit append takes a chain head nobody holds; 32 chains instead of 8 (issue 8).

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-26

``benhan_audit_append_rows`` locked the head of the chain its caller named (``FOR UPDATE``) and kept the lock
until its transaction committed, the WAL flush included.  Writers name a random chain of eight, so at eight
clients concurrent writes met on one head often: in the CRUD mix ``pg_stat_statements`` gave the head's
``SELECT … FOR UPDATE`` 220-250 us of waiting per append (a quarter of an update statement's time).
The append still takes the named chain when nobody holds its head; when somebody does, it takes the next
head from there that no other transaction holds (``FOR UPDATE SKIP LOCKED``, sql-select.html "The Locking
Clause"), and waits only when every head is held — then, as before, for the one named.  Chains
8 to 31 get their heads here, so 32 appends can run at once.  Each chain stays one hash chain
(``benhan audit verify`` is unchanged); which chain a record joins was never meaningful.
"""

import importlib.util
from pathlib import Path

from benhan.migrate import run_ddl

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

CHAINS = 32  # fhir/storage/pg/audit.py AUDIT_CHAINS

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
        -- held by another transaction: the next head from p_chain on (then from 0) that nobody holds
        SELECT chain, seq, hash INTO v_chain, v_seq, v_hash FROM audit_head
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
"""


def upgrade() -> None:
    run_ddl(
        f"INSERT INTO audit_head SELECT c, 0, benhan_audit_genesis(c) FROM generate_series(0, {CHAINS - 1}) c"
        f" ON CONFLICT DO NOTHING;\n{_ROWS}"
    )


def downgrade() -> None:
    # 0013's function (the heads of chains 8-31 stay: records may hang from them)
    spec = importlib.util.spec_from_file_location("m0013", Path(__file__).with_name("0013_audit_append_lean.py"))
    assert spec is not None
    assert spec.loader is not None
    m0013 = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m0013)
    run_ddl(m0013._ROWS.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
