"""Alembic environment: always run programmatically by auditor.store.db on a connection it
already holds (under the store's migration lock), never from an alembic.ini."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=None)
with context.begin_transaction():
    context.run_migrations()
