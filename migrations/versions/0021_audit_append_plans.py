"""The writers' audit append no longer plans a query on every call (issue 8).

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-27

``benhan_audit_append_rows`` (0017) began with ``IF NOT FOUND AND NOT EXISTS (SELECT … FROM audit_head …)``.
PL/pgSQL runs an ``IF`` condition as a query through the plan cache; with ``FOUND`` a parameter, the custom
plan (``NOT true AND …`` folds to false) always costs less than the generic one, so PostgreSQL planned that
query again on every write: 1,351 plans for 1,350 appends (``pg_stat_statements``), 2.3 % of the backends'
CPU in a profile of the CRUD mix.  The condition is now two nested ``IF``s whose queries plan once per
session.  Same function otherwise; nothing stored changes.
"""

import importlib.util
from pathlib import Path

from benhan.migrate import run_ddl

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

_OLD_TEST = """    IF NOT FOUND AND NOT EXISTS (SELECT FROM audit_head WHERE chain = v_chain) THEN
        -- a chain no migration created starts at its genesis hash
        INSERT INTO audit_head VALUES (v_chain, 0, benhan_audit_genesis(v_chain)) ON CONFLICT DO NOTHING;
        SELECT seq, hash INTO v_seq, v_hash FROM audit_head WHERE chain = v_chain FOR UPDATE;
    ELSIF NOT FOUND THEN
"""
_NEW_TEST = """    IF FOUND THEN
        NULL;  -- the head named, free: the common case, tested without a query
    ELSIF NOT EXISTS (SELECT FROM audit_head WHERE chain = v_chain) THEN
        -- a chain no migration created starts at its genesis hash
        INSERT INTO audit_head VALUES (v_chain, 0, benhan_audit_genesis(v_chain)) ON CONFLICT DO NOTHING;
        SELECT seq, hash INTO v_seq, v_hash FROM audit_head WHERE chain = v_chain FOR UPDATE;
    ELSE
"""


def _function_0017() -> str:
    path = Path(__file__).with_name("0017_audit_flusher_chains.py")
    spec = importlib.util.spec_from_file_location("benhan_migration_0017", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text: str = module._ROWS
    assert _OLD_TEST in text, "0017's function is not the one this migration rewrites"
    return text


def upgrade() -> None:
    run_ddl(_function_0017().replace(_OLD_TEST, _NEW_TEST))


def downgrade() -> None:
    run_ddl(_function_0017())
