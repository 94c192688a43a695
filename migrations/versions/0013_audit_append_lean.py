"""``benhan_audit_append`` without the chain-head insert on every call; ``benhan_audit_append_rows`` (issue 8).

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26

0003's function began each append with ``INSERT INTO audit_head … ON CONFLICT DO NOTHING`` (the genesis hash
computed, a speculative insertion into the head's primary key) so that a chain beyond the eight it creates
would start itself.  Every chain but such a new one already has its head, so the insert now runs only when
the head's row is missing.  The hashes go into an array of the batch's size instead of one grown per row.
Same arguments, same rows, same hashes (``benhan audit verify`` is unchanged); PostgreSQL CPU per call of
one to three records, without the commit: 100 -> 87 and 127 -> 100 us.

``benhan_audit_append_rows`` appends the same rows from two arguments instead of 13 arrays: the columns as
one JSON array of objects and the contents as ``bytea[]``.  asyncpg checks every array and every element
of an array argument against ``collections.abc`` types (Python-level ``isinstance`` calls): 87 of them for a
batch of three records, a tenth of the read audit's instructions in the server process.  The read audit's
group commit and the writes' own appends use it; the write statements that embed an append in their own
SQL (``fhir/storage/pg/index.py``) keep the array form.
"""

from benhan.migrate import run_ddl

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_BODY = """
CREATE OR REPLACE FUNCTION benhan_audit_append(
    p_chain integer, p_recorded timestamptz[], p_action text[], p_outcome text[], p_user_name text[],
    p_user_id text[], p_client_id text[], p_facility text[], p_department text[], p_patient text[],
    p_glass boolean[], p_entity text[], p_content bytea[]
) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    v_seq bigint;
    v_hash bytea;
    v_hashes bytea[];
    n integer := coalesce(array_length(p_content, 1), 0);
    i integer;
BEGIN
    IF n = 0 THEN
        RETURN 0;
    END IF;
    SELECT seq, hash INTO v_seq, v_hash FROM audit_head WHERE chain = p_chain FOR UPDATE;
    IF NOT FOUND THEN  -- a chain 0003 did not create: its head starts at the genesis hash
        INSERT INTO audit_head VALUES (p_chain, 0, benhan_audit_genesis(p_chain)) ON CONFLICT DO NOTHING;
        SELECT seq, hash INTO v_seq, v_hash FROM audit_head WHERE chain = p_chain FOR UPDATE;
    END IF;
    v_hashes := array_fill(NULL::bytea, ARRAY[n]);
    FOR i IN 1 .. n LOOP
        v_hash := sha256(v_hash || int8send(v_seq + i) || p_content[i]);
        v_hashes[i] := v_hash;
    END LOOP;
    INSERT INTO audit_log (chain, seq, hash, recorded, action, outcome, user_name, user_id, client_id,
                           facility_id, department_id, patient_id, break_glass, entity, content)
    SELECT p_chain, v_seq + t.i, t.h, t.rec, t.act, t.out, t.un, t.uid, t.cid, t.fac, t.dep, t.pat, t.gl,
           coalesce(string_to_array(t.ent, ' '), '{}'::text[]), t.con
    FROM unnest(v_hashes, p_recorded, p_action, p_outcome, p_user_name, p_user_id, p_client_id, p_facility,
                p_department, p_patient, p_glass, p_entity, p_content)
         WITH ORDINALITY AS t(h, rec, act, out, un, uid, cid, fac, dep, pat, gl, ent, con, i);
    UPDATE audit_head SET seq = v_seq + n, hash = v_hash WHERE chain = p_chain;
    RETURN n;
END $$;
"""

_ROWS = """
CREATE FUNCTION benhan_audit_append_rows(p_chain integer, p_rows json, p_content bytea[])
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
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
    SELECT seq, hash INTO v_seq, v_hash FROM audit_head WHERE chain = p_chain FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO audit_head VALUES (p_chain, 0, benhan_audit_genesis(p_chain)) ON CONFLICT DO NOTHING;
        SELECT seq, hash INTO v_seq, v_hash FROM audit_head WHERE chain = p_chain FOR UPDATE;
    END IF;
    v_hashes := array_fill(NULL::bytea, ARRAY[n]);
    FOR i IN 1 .. n LOOP
        v_hash := sha256(v_hash || int8send(v_seq + i) || p_content[i]);
        v_hashes[i] := v_hash;
    END LOOP;
    INSERT INTO audit_log (chain, seq, hash, recorded, action, outcome, user_name, user_id, client_id,
                           facility_id, department_id, patient_id, break_glass, entity, content)
    SELECT p_chain, v_seq + t.i, v_hashes[t.i], t.recorded, t.action, t.outcome, t.user_name, t.user_id,
           t.client_id, t.facility_id, t.department_id, t.patient_id, t.break_glass,
           coalesce(string_to_array(t.entity, ' '), '{}'::text[]), p_content[t.i]
    FROM ROWS FROM (json_to_recordset(p_rows) AS (
            recorded timestamptz, action text, outcome text, user_name text, user_id text, client_id text,
            facility_id text, department_id text, patient_id text, break_glass boolean, entity text))
         WITH ORDINALITY AS t(recorded, action, outcome, user_name, user_id, client_id, facility_id,
                              department_id, patient_id, break_glass, entity, i);
    UPDATE audit_head SET seq = v_seq + n, hash = v_hash WHERE chain = p_chain;
    RETURN n;
END $$;
"""

# 0003's body, for downgrade
_BODY_0003 = """
CREATE OR REPLACE FUNCTION benhan_audit_append(
    p_chain integer, p_recorded timestamptz[], p_action text[], p_outcome text[], p_user_name text[],
    p_user_id text[], p_client_id text[], p_facility text[], p_department text[], p_patient text[],
    p_glass boolean[], p_entity text[], p_content bytea[]
) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    v_seq bigint;
    v_hash bytea;
    v_hashes bytea[] := '{}';
    n integer := coalesce(array_length(p_content, 1), 0);
    i integer;
BEGIN
    IF n = 0 THEN
        RETURN 0;
    END IF;
    INSERT INTO audit_head VALUES (p_chain, 0, benhan_audit_genesis(p_chain)) ON CONFLICT DO NOTHING;
    SELECT seq, hash INTO v_seq, v_hash FROM audit_head WHERE chain = p_chain FOR UPDATE;
    FOR i IN 1 .. n LOOP
        v_hash := sha256(v_hash || int8send(v_seq + i) || p_content[i]);
        v_hashes := v_hashes || v_hash;
    END LOOP;
    INSERT INTO audit_log (chain, seq, hash, recorded, action, outcome, user_name, user_id, client_id,
                           facility_id, department_id, patient_id, break_glass, entity, content)
    SELECT p_chain, v_seq + t.i, t.h, t.rec, t.act, t.out, t.un, t.uid, t.cid, t.fac, t.dep, t.pat, t.gl,
           coalesce(string_to_array(t.ent, ' '), '{}'::text[]), t.con
    FROM unnest(v_hashes, p_recorded, p_action, p_outcome, p_user_name, p_user_id, p_client_id, p_facility,
                p_department, p_patient, p_glass, p_entity, p_content)
         WITH ORDINALITY AS t(h, rec, act, out, un, uid, cid, fac, dep, pat, gl, ent, con, i);
    UPDATE audit_head SET seq = v_seq + n, hash = v_hash WHERE chain = p_chain;
    RETURN n;
END $$;
"""


def upgrade() -> None:
    run_ddl(_BODY + _ROWS)


def downgrade() -> None:
    run_ddl(_BODY_0003 + "DROP FUNCTION benhan_audit_append_rows(integer, json, bytea[]);")
