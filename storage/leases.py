"""Shard leases in SQL: one row per (simulation, shard), written again on every renewal.

An upsert (INSERT ... ON CONFLICT DO UPDATE), so a worker starting a shard, its renewals and
the periodic check sending it again never collide on the unique constraint.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from infscale.storage.records import SqlSessions, dialect_insert, simulation_record, sweep_record
from infscale.storage.rows import ShardLease, utc_now
from infscale.storage.tables import ShardLeaseRecord, SimulationRecord


class SqlLeases(SqlSessions):
    """The shard-lease part of `SqlStore` (see storage.interface.Storage)."""

    def lease_shard(
        self, sweep_id: int, group_key: str, shard_index: int, holder: str, lease: timedelta,
        now: datetime | None = None,
    ) -> None:
        now = now or utc_now()
        with self._transaction() as session:
            simulation = simulation_record(session, sweep_id, group_key)
            values = {"holder": holder, "renewed_at": now, "expires_at": now + lease}
            session.execute(
                dialect_insert(session)(ShardLeaseRecord.__table__)
                .values(simulation_id=simulation.id, shard_index=shard_index, **values)
                .on_conflict_do_update(index_elements=("simulation_id", "shard_index"), set_=values)
            )

    def shard_leases(self, sweep_id: int) -> list[ShardLease]:
        with self._reading() as session:
            sweep_record(session, sweep_id)
            rows = session.execute(
                select(
                    SimulationRecord.group_key, ShardLeaseRecord.shard_index, ShardLeaseRecord.holder,
                    ShardLeaseRecord.renewed_at, ShardLeaseRecord.expires_at,
                )
                .join(SimulationRecord, ShardLeaseRecord.simulation_id == SimulationRecord.id)
                .where(SimulationRecord.sweep_id == sweep_id)
                .order_by(SimulationRecord.id, ShardLeaseRecord.shard_index)
            )
            return [ShardLease(*row) for row in rows]
