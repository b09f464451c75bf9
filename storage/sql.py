"""`SqlStore`: the `Storage` interface on SQLite or PostgreSQL (SQLAlchemy 2).

One class assembled from one module per concept (sweeps, partials, leases, results, prices), each
written against the shared sessions and record helpers of storage.records. Every method opens
its own session; every write is one transaction, all or nothing.
"""

from __future__ import annotations

from infscale.storage.leases import SqlLeases
from infscale.storage.partials import SqlPartials
from infscale.storage.prices import SqlPrices
from infscale.storage.results import SqlResults
from infscale.storage.sweeps import SqlSweeps


class SqlStore(SqlSweeps, SqlPartials, SqlLeases, SqlResults, SqlPrices):
    """Sweeps, partials, shard leases, results and prices in the database at `url` (storage.database).

    `upgrade_schema` migrates the database to the newest schema first (see storage.database).
    """
