"""Identity, access facts and the tamper-evident audit log (issue 4).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25

- access facts maintained by the repository in each write transaction: ``org_unit`` (the organisation tree),
  ``care_relation`` (patient ↔ facility/department/practitioner), ``consent_block`` (Consent opt-outs) and
  ``resource_origin`` (the facility that created a resource);
- identity: users, their role grants, web sessions, OAuth2 clients, codes and tokens (secrets stored hashed);
- ``audit_log``: append-only and hash-chained.  Several chains (``chain``) let concurrent writers append
  without queueing on one lock; each row's ``hash = sha256(previous hash of its chain || seq || content)``,
  computed by ``benhan_audit_append`` under a row lock on the chain head (``audit_head``).
- role ``benhan_app``: what the application runs as in production (docs/security.md): it cannot UPDATE,
  DELETE or TRUNCATE the audit log, and triggers refuse those for everyone else too.
"""

from benhan.migrate import run_ddl

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

AUDIT_CHAINS = 8


def upgrade() -> None:
    run_ddl(_ACCESS_FACTS + _IDENTITY + _AUDIT + _ROLE)


_ACCESS_FACTS = """
CREATE TABLE org_unit (
    id text PRIMARY KEY, kind text NOT NULL, parent_id text, rid bigint NOT NULL
);
CREATE INDEX org_unit_parent ON org_unit (parent_id);

CREATE TABLE care_relation (
    source_rid bigint NOT NULL, patient_id text NOT NULL,
    facility_id text, department_id text, practitioner_id text
);
CREATE INDEX care_relation_patient ON care_relation (patient_id, facility_id, department_id);
CREATE INDEX care_relation_source ON care_relation (source_rid);
CREATE INDEX care_relation_practitioner ON care_relation (practitioner_id) WHERE practitioner_id IS NOT NULL;

CREATE TABLE consent_block (source_rid bigint NOT NULL, patient_id text NOT NULL, facility_id text);
CREATE INDEX consent_block_patient ON consent_block (patient_id);
CREATE INDEX consent_block_source ON consent_block (source_rid);

CREATE TABLE resource_origin (rid bigint PRIMARY KEY, facility_id text NOT NULL);
"""

_IDENTITY = """
CREATE TABLE app_user (
    id text PRIMARY KEY,
    username text NOT NULL,
    display_name text NOT NULL DEFAULT '',
    password_hash text NOT NULL,
    practitioner_id text,
    disabled boolean NOT NULL DEFAULT false,
    failed_logins integer NOT NULL DEFAULT 0,
    locked_until timestamptz,
    totp_secret text,
    totp_last_step bigint,
    created timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX app_user_username ON app_user (lower(username));

CREATE TABLE user_grant (
    user_id text NOT NULL REFERENCES app_user (id),
    role text NOT NULL, facility_id text NOT NULL, department_id text NOT NULL DEFAULT '',
    PRIMARY KEY (user_id, role, facility_id, department_id)
);

CREATE TABLE auth_session (
    id_hash bytea PRIMARY KEY,
    user_id text NOT NULL REFERENCES app_user (id),
    csrf text NOT NULL,
    created timestamptz NOT NULL, last_seen timestamptz NOT NULL, expires timestamptz NOT NULL,
    facility_id text, department_id text,
    btg_reason text, btg_patient text, btg_until timestamptz,
    remote_addr text, user_agent text
);
CREATE INDEX auth_session_user ON auth_session (user_id);

CREATE TABLE oauth_client (
    client_id text PRIMARY KEY,
    name text NOT NULL,
    secret_hash text,
    jwks jsonb,
    auth_method text NOT NULL,
    redirect_uris text[] NOT NULL DEFAULT '{}',
    grant_types text[] NOT NULL,
    scope text NOT NULL,
    facility_id text,
    disabled boolean NOT NULL DEFAULT false,
    created timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE oauth_code (
    code_hash bytea PRIMARY KEY,
    client_id text NOT NULL, user_id text NOT NULL, redirect_uri text NOT NULL, scope text NOT NULL,
    code_challenge text NOT NULL, code_challenge_method text NOT NULL,
    facility_id text, department_id text, patient_id text,
    expires timestamptz NOT NULL
);

CREATE TABLE oauth_token (
    access_hash bytea PRIMARY KEY,
    refresh_hash bytea UNIQUE,
    client_id text NOT NULL, user_id text, scope text NOT NULL,
    facility_id text, department_id text, patient_id text,
    issued timestamptz NOT NULL, expires timestamptz NOT NULL, refresh_expires timestamptz,
    revoked boolean NOT NULL DEFAULT false
);
CREATE INDEX oauth_token_user ON oauth_token (user_id);

CREATE TABLE oauth_jti (jti text PRIMARY KEY, expires timestamptz NOT NULL);
"""

_AUDIT = f"""
CREATE TABLE audit_head (chain integer PRIMARY KEY, seq bigint NOT NULL, hash bytea NOT NULL);

CREATE TABLE audit_log (
    chain integer NOT NULL,
    seq bigint NOT NULL,
    hash bytea NOT NULL,
    recorded timestamptz NOT NULL,
    action text NOT NULL,
    outcome text NOT NULL,
    user_name text, user_id text, client_id text,
    facility_id text, department_id text, patient_id text,
    break_glass boolean NOT NULL DEFAULT false,
    entity text[] NOT NULL DEFAULT '{{}}',
    content bytea NOT NULL,
    PRIMARY KEY (chain, seq)
);
CREATE INDEX audit_log_patient ON audit_log (patient_id, recorded) WHERE patient_id IS NOT NULL;
CREATE INDEX audit_log_user ON audit_log (user_name, recorded);
CREATE INDEX audit_log_recorded ON audit_log USING brin (recorded);  -- append-only, time-ordered: BRIN is tiny
CREATE INDEX audit_log_glass ON audit_log (facility_id, department_id, recorded) WHERE break_glass;

-- The genesis hash of a chain: fixed, so a verifier needs nothing but the table.
CREATE FUNCTION benhan_audit_genesis(p_chain integer) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
    SELECT sha256(convert_to('benhan-audit-genesis-' || p_chain::text, 'UTF8'))
$$;

-- Append rows to one chain: hash_n = sha256(hash_(n-1) || int8send(seq_n) || content_n).
-- The chain head's row lock (FOR UPDATE, held until commit) makes appends to one chain serial, so the
-- chain order is the commit order.  Hashes are computed in a loop; the rows go in with one INSERT.
CREATE FUNCTION benhan_audit_append(
    p_chain integer, p_recorded timestamptz[], p_action text[], p_outcome text[], p_user_name text[],
    p_user_id text[], p_client_id text[], p_facility text[], p_department text[], p_patient text[],
    p_glass boolean[], p_entity text[], p_content bytea[]
) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    v_seq bigint;
    v_hash bytea;
    v_hashes bytea[] := '{{}}';
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
           coalesce(string_to_array(t.ent, ' '), '{{}}'::text[]), t.con
    FROM unnest(v_hashes, p_recorded, p_action, p_outcome, p_user_name, p_user_id, p_client_id, p_facility,
                p_department, p_patient, p_glass, p_entity, p_content)
         WITH ORDINALITY AS t(h, rec, act, out, un, uid, cid, fac, dep, pat, gl, ent, con, i);
    UPDATE audit_head SET seq = v_seq + n, hash = v_hash WHERE chain = p_chain;
    RETURN n;
END $$;

CREATE FUNCTION benhan_audit_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'benhan: % on % is not allowed: the audit log is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION benhan_audit_refuse();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION benhan_audit_refuse();
INSERT INTO audit_head SELECT c, 0, benhan_audit_genesis(c) FROM generate_series(0, {AUDIT_CHAINS - 1}) c;
"""

# The application's database role.  Cluster-wide, so created only when missing (several databases, e.g.
# test runs, share one server).  Production connects as a LOGIN role that is a member of benhan_app.
_ROLE = """
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'benhan_app') THEN
        CREATE ROLE benhan_app NOLOGIN;
    END IF;
END $$;
GRANT USAGE ON SCHEMA public TO benhan_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO benhan_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO benhan_app;
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log, resource_history FROM benhan_app;
REVOKE UPDATE, DELETE, TRUNCATE ON audit_head FROM benhan_app;
GRANT UPDATE ON audit_head TO benhan_app;
"""


def downgrade() -> None:
    run_ddl(
        """
        DROP TABLE audit_log, audit_head, oauth_jti, oauth_token, oauth_code, oauth_client, auth_session,
            user_grant, app_user, resource_origin, consent_block, care_relation, org_unit;
        DROP FUNCTION benhan_audit_append(integer, timestamptz[], text[], text[], text[], text[], text[],
            text[], text[], text[], boolean[], text[], bytea[]);
        DROP FUNCTION benhan_audit_genesis(integer);
        DROP FUNCTION benhan_audit_refuse();
        """
    )
