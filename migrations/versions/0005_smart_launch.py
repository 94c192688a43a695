"""SMART App Launch context and OpenID Connect signing (issue 4).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25

- ``oauth_launch``: EHR launch contexts minted by the web app (``POST /oauth2/launch``): an opaque id (stored
  as its SHA-256) bound to the user, the patient and optionally the encounter; short-lived and single-use.
- ``oauth_code`` and ``oauth_token`` carry the launch encounter and the OpenID ``nonce``.
- ``oauth_signing_key``: the RS256 key pair that signs id_tokens, generated once by the first process that
  needs it (in the database so every worker signs with, and publishes, the same key).
"""

from benhan.migrate import run_ddl

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_ddl(
        """
        CREATE TABLE oauth_launch (
            launch_hash bytea PRIMARY KEY,
            user_id text NOT NULL REFERENCES app_user (id),
            patient_id text NOT NULL,
            encounter_id text,
            expires timestamptz NOT NULL
        );
        ALTER TABLE oauth_code ADD COLUMN encounter_id text, ADD COLUMN nonce text;
        ALTER TABLE oauth_token ADD COLUMN encounter_id text;
        CREATE TABLE oauth_signing_key (kid text PRIMARY KEY, created timestamptz NOT NULL, private_jwk jsonb NOT NULL);
        GRANT SELECT, INSERT, DELETE ON oauth_launch TO benhan_app;
        GRANT SELECT, INSERT ON oauth_signing_key TO benhan_app;
        """
    )


def downgrade() -> None:
    run_ddl(
        """
        DROP TABLE oauth_launch, oauth_signing_key;
        ALTER TABLE oauth_code DROP COLUMN encounter_id, DROP COLUMN nonce;
        ALTER TABLE oauth_token DROP COLUMN encounter_id;
        """
    )
