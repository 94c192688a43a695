"""Remembered app approvals (SMART App Launch, issue 4).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27

- ``oauth_approval``: a user's "Allow" of an OAuth2 client for a set of scopes, until ``expires``
  (``tokens.approval_days`` of the policy).  While it lasts, ``/oauth2/authorize`` skips the consent screen
  for requests whose scopes are a subset.  One row per user and client: a new approval replaces the old one.
  The user revokes it at ``/account/apps``; disabling the client removes every approval of it.
"""

from benhan.migrate import run_ddl

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_ddl(
        """
        CREATE TABLE oauth_approval (
            user_id text NOT NULL REFERENCES app_user (id),
            client_id text NOT NULL REFERENCES oauth_client (client_id),
            scopes text[] NOT NULL,
            approved timestamptz NOT NULL,
            expires timestamptz NOT NULL,
            PRIMARY KEY (user_id, client_id)
        );
        CREATE INDEX oauth_approval_client ON oauth_approval (client_id);
        GRANT SELECT, INSERT, UPDATE, DELETE ON oauth_approval TO benhan_app;
        """
    )


def downgrade() -> None:
    run_ddl("DROP TABLE oauth_approval;")
