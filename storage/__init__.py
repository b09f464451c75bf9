"""Storage: where sweeps, shard partials, results and prices are kept, behind one interface.

- `interface.py`: `Storage`, the contract every implementation keeps (engine types in and out).
- `sql.py`: `SqlStore`, SQLite or PostgreSQL, assembled from one module per concept:
  `sweeps.py`, `partials.py`, `results.py`, `prices.py` (with `records.py`, the record
  helpers they share); `tables.py` is the schema, `migrations/` its alembic history,
  `database.py` connections and migrating, `codec.py` the partials' byte format.
- `memory.py`: `MemoryStore`, the same contract in a process's memory.
- `rows.py`: the types queries return; `errors.py`: what a user is told.

Storage stores: it plans nothing and decides nothing (it may import engine types and
readers.stored_specs, never the scheduler, workers or CLI).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from infscale.storage.interface import Storage

MEMORY_URL = "memory://"


def open_store(url: str | None = None, *, upgrade_schema: bool = True) -> "Storage":
    """The store at `url`: `memory://` for a `MemoryStore`, else a database URL (None: the
    configured default, $INFSCALE_DATABASE_URL or sqlite:///infscale.db)."""
    if url == MEMORY_URL:
        from infscale.storage.memory import MemoryStore

        return MemoryStore()
    from infscale.storage.sql import SqlStore

    return SqlStore(url, upgrade_schema=upgrade_schema)
