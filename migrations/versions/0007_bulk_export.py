"""FHIR Bulk Data export jobs and their NDJSON files (issue 4).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26

- ``bulk_export_job``: one row per ``$export`` kick-off (HL7 FHIR Bulk Data Access IG v2.0.0 export.html):
  who may poll it (``owner``: the user, or the client without a user), its state (``running`` →
  ``completed`` | ``failed``), the kick-off URL, the ``transactionTime``, whether the output is
  de-identified, and the heartbeat of the process working on it (a job whose heartbeat stopped is failed
  on the next status request: its process died).
- ``bulk_export_file``: the NDJSON output, in PostgreSQL so any worker process serves status and files.
  Deleting the job (the client's DELETE of the status URL) deletes its files.
"""

from benhan.migrate import run_ddl

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_ddl(
        """
        CREATE TABLE bulk_export_job (
            id text PRIMARY KEY,
            owner text NOT NULL,
            state text NOT NULL CHECK (state IN ('running', 'completed', 'failed')),
            request text NOT NULL,
            params jsonb NOT NULL,
            transaction_time timestamptz NOT NULL,
            deidentified boolean NOT NULL DEFAULT false,
            progress text,
            error text,
            heartbeat timestamptz NOT NULL,
            finished timestamptz
        );
        CREATE INDEX bulk_export_job_heartbeat ON bulk_export_job (heartbeat) WHERE state = 'running';
        CREATE TABLE bulk_export_file (
            job_id text NOT NULL REFERENCES bulk_export_job (id) ON DELETE CASCADE,
            name text NOT NULL,
            type text NOT NULL,
            count integer NOT NULL,
            content bytea NOT NULL,
            PRIMARY KEY (job_id, name)
        );
        GRANT SELECT, INSERT, UPDATE, DELETE ON bulk_export_job, bulk_export_file TO benhan_app;
        """
    )


def downgrade() -> None:
    run_ddl("DROP TABLE bulk_export_file, bulk_export_job;")
