"""Versioned FHIR resource store: current versions and an append-only history.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from benhan.migrate import run_ddl

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Current version of every resource (deleted ones too, as tombstones: FHIR R4 http.html#delete says
    # a read after delete answers 410 Gone).  `rid` is an internal surrogate key for index tables;
    # the public id is opaque text.  `patient_id` is the patient compartment (see docs/architecture.md).
    run_ddl(
        """
        CREATE TABLE resource (
            rid          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            type         text        NOT NULL,
            id           text        NOT NULL,
            version      integer     NOT NULL,
            last_updated timestamptz NOT NULL,
            deleted      boolean     NOT NULL DEFAULT false,
            patient_id   text,
            content      bytea       NOT NULL,
            CONSTRAINT resource_type_id UNIQUE (type, id)
        );
        CREATE INDEX resource_patient ON resource (patient_id, type) WHERE patient_id IS NOT NULL;
        CREATE INDEX resource_type_updated ON resource (type, last_updated);
        CREATE INDEX resource_updated ON resource (last_updated);

        -- Every earlier version, moved here when superseded.  Rows are only ever inserted.
        CREATE TABLE resource_history (
            rid          bigint      NOT NULL,
            version      integer     NOT NULL,
            type         text        NOT NULL,
            id           text        NOT NULL,
            last_updated timestamptz NOT NULL,
            deleted      boolean     NOT NULL,
            patient_id   text,
            content      bytea       NOT NULL,
            PRIMARY KEY (rid, version)
        );
        CREATE INDEX resource_history_type_updated ON resource_history (type, last_updated);
        CREATE INDEX resource_history_updated ON resource_history (last_updated);

        CREATE FUNCTION benhan_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'benhan: % on % is not allowed: versions are kept forever', TG_OP, TG_TABLE_NAME
                USING ERRCODE = 'insufficient_privilege';
        END $$;
        CREATE TRIGGER resource_history_append_only
            BEFORE UPDATE OR DELETE ON resource_history
            FOR EACH ROW EXECUTE FUNCTION benhan_refuse_change();
        CREATE TRIGGER resource_no_hard_delete
            BEFORE DELETE ON resource
            FOR EACH ROW EXECUTE FUNCTION benhan_refuse_change();
        """
    )


def downgrade() -> None:
    run_ddl(
        "DROP TABLE resource_history; DROP TABLE resource; DROP FUNCTION benhan_refuse_change();"
    )
