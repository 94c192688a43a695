"""Search index: one narrow table per search parameter type, keyed by the resource's ``rid``.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25

Layout choices (issue 3: fast at ~5M resources, small per resource):
- ``param`` is an int4 id (``registry.stable_id("Type.code")``), so rows are narrow and a parameter of
  one type never collides with the same code on another type.
- token and quantity systems are stored as int8 hashes (``extract.system_hash``): systems are long URLs.
- every table has a ``(param, value...)`` index for "find by value" and a ``(rid)`` index for patient-
  scoped queries (few rids, then look up their values) and for replacing a resource's rows.
- no foreign key to ``resource``: resource rows are never hard-deleted (0001 forbids it) and FK checks
  would slow every bulk insert; ``storage/pg/index.py`` is the only writer.
- text columns compared by prefix use ``COLLATE "C"`` so ``LIKE 'abc%'`` can use the btree.
- storage (≤ 1.5 kB of index per resource): parameters whose expression duplicates or unions others
  (``combo-code``, ``Observation.patient`` = ``subject`` filtered on Patient) store no rows of their own
  (``registry.SearchParam.stored``); ``sp_string.exact`` is NULL when equal to the folded value; ``_content``
  is indexed only for document/catalogue types.
- composite parameters (token + value) are rows of the value's table under ``registry.composite_id``.
"""

from benhan.migrate import run_ddl

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLES = ("sp_string", "sp_token", "sp_date", "sp_number", "sp_quantity", "sp_reference", "sp_uri", "sp_text")


def upgrade() -> None:
    run_ddl(
        """
        CREATE TABLE sp_string (
            rid bigint NOT NULL, param integer NOT NULL,
            value text COLLATE "C" NOT NULL,  -- folded: lower case, no diacritics, đ -> d
            exact text                        -- as written, for :exact; NULL when equal to value
        );
        CREATE INDEX sp_string_value ON sp_string (param, value);
        CREATE INDEX sp_string_rid ON sp_string (rid);

        CREATE TABLE sp_token (
            rid bigint NOT NULL, system bigint NOT NULL, param integer NOT NULL,
            code text COLLATE "C" NOT NULL
        );
        CREATE INDEX sp_token_code ON sp_token (param, code, system);
        CREATE INDEX sp_token_rid ON sp_token (rid);

        CREATE TABLE sp_date (
            rid bigint NOT NULL, param integer NOT NULL,
            low timestamptz NOT NULL, high timestamptz NOT NULL  -- [low, high)
        );
        CREATE INDEX sp_date_low ON sp_date (param, low, high);
        CREATE INDEX sp_date_rid ON sp_date (rid);

        CREATE TABLE sp_number (rid bigint NOT NULL, param integer NOT NULL, value numeric NOT NULL);
        CREATE INDEX sp_number_value ON sp_number (param, value);
        CREATE INDEX sp_number_rid ON sp_number (rid);

        CREATE TABLE sp_quantity (
            rid bigint NOT NULL, system bigint NOT NULL, param integer NOT NULL,
            value numeric NOT NULL, code text COLLATE "C" NOT NULL,
            canonical_value numeric, canonical_code text COLLATE "C"  -- simple UCUM scaling
        );
        CREATE INDEX sp_quantity_value ON sp_quantity (param, value);
        CREATE INDEX sp_quantity_rid ON sp_quantity (rid);

        CREATE TABLE sp_reference (
            rid bigint NOT NULL, param integer NOT NULL,
            ref_type text COLLATE "C" NOT NULL,  -- '' when unknown
            ref_id text COLLATE "C" NOT NULL     -- logical id, or the absolute/canonical URL
        );
        CREATE INDEX sp_reference_target ON sp_reference (param, ref_id, ref_type);
        CREATE INDEX sp_reference_rid ON sp_reference (rid);

        CREATE TABLE sp_uri (rid bigint NOT NULL, param integer NOT NULL, value text COLLATE "C" NOT NULL);
        CREATE INDEX sp_uri_value ON sp_uri (param, value);
        CREATE INDEX sp_uri_rid ON sp_uri (rid);

        -- _summary=count / _total=accurate on a whole type: an index-only scan, not a heap scan.
        CREATE INDEX resource_type_live ON resource (type) WHERE NOT deleted;

        -- _text (narrative) and _content (every string, only for registry.CONTENT_TYPES), PostgreSQL full
        -- text on folded text; no row when a resource has neither.
        CREATE TABLE sp_text (rid bigint PRIMARY KEY, narrative tsvector, content tsvector);
        CREATE INDEX sp_text_narrative ON sp_text USING gin (narrative);
        CREATE INDEX sp_text_content ON sp_text USING gin (content);
        """
    )


def downgrade() -> None:
    run_ddl("DROP TABLE " + ", ".join(TABLES))
