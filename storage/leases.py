"""Shard leases in SQL: one row per (simulation, shard), written again on every renewal.

An upsert (INSERT ... ON CONFLICT DO UPDATE), so a worker starting a shard, its renewals and
the periodic check sending it again never collide on the unique constraint.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import literal, select

from infscale.storage.records import SqlSessions, dialect_insert, simulation_record, sweep_record
from infscale.storage.rows import FINAL_SWEEP_STATUSES, ShardLease, ShardStart, utc_now
from infscale.storage.tables import ShardLeaseRecord, SimulationRecord, SweepRecord


class SqlLeases(SqlSessions):
    """The shard-lease part of `SqlStore` (see storage.interface.Storage)."""

    def start_shard(self, sweep_id: int, group_key: str, shard_index: int, holder: str, lease: timedelta) -> ShardStart:
        # One statement (one round trip on PostgreSQL): the lease is written only while the
        # sweep is open, and hands back the sweep's creation time; no row back means it ended
        # (or there is no such group: the second query tells, and only then runs).
        now = utc_now()
        leases, simulation, sweeps = ShardLeaseRecord.__table__, SimulationRecord.__table__, SweepRecord.__table__
        moment = ShardLeaseRecord.renewed_at.type
        with self._statement() as connection:
            created_at = connection.execute(
                dialect_insert(connection)(leases)
                .from_select(
                    ["simulation_id", "shard_index", "holder", "renewed_at", "expires_at"],
                    select(
                        simulation.c.id, literal(shard_index), literal(holder), literal(now, moment),
                        literal(now + lease, moment),
                    )
                    .join(sweeps, sweeps.c.id == simulation.c.sweep_id)
                    .where(
                        simulation.c.sweep_id == sweep_id, simulation.c.group_key == group_key,
                        sweeps.c.status.notin_([s.value for s in FINAL_SWEEP_STATUSES]),
                    ),
                )
                .on_conflict_do_update(
                    index_elements=("simulation_id", "shard_index"),
                    set_={"holder": holder, "renewed_at": now, "expires_at": now + lease},
                )
                .returning(select(sweeps.c.created_at).where(sweeps.c.id == sweep_id).scalar_subquery())
            ).scalar()
        if created_at is not None:
            return ShardStart(sweep_open=True, sweep_created_at=created_at)
        with self._reading() as session:
            simulation_record(session, sweep_id, group_key)  # NotFound if it is not there
        return ShardStart(sweep_open=False, sweep_created_at=None)

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
