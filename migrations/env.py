"""Alembic environment.  One advisory lock makes ``benhan migrate`` safe from several processes at once:
a second migrator waits for the first, then finds nothing left to do."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, text

from benhan.kernel.db import sqlalchemy_url

MIGRATION_LOCK_KEY = 0x62656E68616E  # "benhan"


def main() -> None:
    url = context.config.attributes.get("database_url")
    if not url:
        raise RuntimeError("migrations/env.py needs config.attributes['database_url'] (use `benhan migrate`)")
    engine = create_engine(sqlalchemy_url(url))
    try:
        with engine.connect() as connection:
            context.configure(connection=connection, target_metadata=None)
            with context.begin_transaction():
                # Transaction-scoped: released at commit; a concurrent migrator blocks here.
                connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline SQL generation is not supported")
main()
