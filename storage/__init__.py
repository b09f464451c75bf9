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


def open_store(url: str | None = None, *, create: bool = False) -> "Storage":
    """The store at `url`: `memory://` for a `MemoryStore`, else a database URL (None: the
    configured default, $INFSCALE_DATABASE_URL or sqlite:///infscale.db), checked before any
    work: a bad URL, an unreachable database or a schema that is not this infscale's is one
    line (`storage.errors`). Only `infscale db upgrade` migrates; `create` lets a database that
    does not exist yet (a new SQLite file, an empty database) be created at the current schema,
    which is what `infscale run` does. Without it nothing is ever created."""
    if url == MEMORY_URL:
        from infscale.storage.memory import MemoryStore

        return MemoryStore()
    from infscale.config import database_url
    from infscale.storage.database import check_url, require_current_schema, schema_revision, upgrade
    from infscale.storage.sql import SqlStore

    url = database_url(url)
    check_url(url, must_exist=not create)
    if create and schema_revision(url) is None:
        upgrade(url)
    else:
        require_current_schema(url)
    return SqlStore(url, upgrade_schema=False)
