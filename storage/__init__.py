"""Persistence for infscale: `storage.store.Store` over SQLite or PostgreSQL, alembic-migrated."""
