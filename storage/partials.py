"""Shard partials in SQL: stored once per (simulation, shard), read back in shard order, and
the progress they make.

A partial is stored encoded (storage.codec) and handed back decoded: callers see engine
`Partial`s, never bytes. A second delivery of a shard finds its row and stores nothing
(a unique constraint and INSERT ... ON CONFLICT DO NOTHING).
"""

from __future__ import annotations

from typing import Iterator

from sqlalchemy import func, select

from infscale.engine.statistics import Partial
from infscale.storage.codec import partial_from_bytes, partial_to_bytes
from infscale.storage.records import SqlSessions, current_runs, insert_unless_present, simulation_record, sweep_record
from infscale.storage.rows import GroupProgress, PartialTime, RunStatus, utc_now
from infscale.storage.tables import PartialRecord, SimulationRecord


class SqlPartials(SqlSessions):
    """The partials part of `SqlStore` (see storage.interface.Storage)."""

    def save_partial(self, sweep_id: int, group_key: str, shard_index: int, partial: Partial, seconds: float) -> bool:
        with self._transaction() as session:
            simulation = simulation_record(session, sweep_id, group_key)
            if not 0 <= shard_index < simulation.n_shards:
                raise ValueError(
                    f"{group_key}: shard index {shard_index} is outside 0..{simulation.n_shards - 1}"
                )
            return insert_unless_present(
                session, PartialRecord, ("simulation_id", "shard_index"),
                simulation_id=simulation.id, shard_index=shard_index, n_shards=simulation.n_shards,
                trials=partial.n_trials, data=partial_to_bytes(partial), seconds=float(seconds), created_at=utc_now(),
            )

    def partials(self, sweep_id: int, group_key: str) -> list[Partial]:
        return list(self.stream_partials(sweep_id, group_key))

    def stream_partials(self, sweep_id: int, group_key: str) -> Iterator[Partial]:
        with self._reading() as session:
            simulation = simulation_record(session, sweep_id, group_key)
            rows = session.scalars(
                select(PartialRecord.data)
                .where(PartialRecord.simulation_id == simulation.id)
                .order_by(PartialRecord.shard_index)
                .execution_options(yield_per=4)  # a few encoded rows fetched at a time
            )
            for data in rows:
                yield partial_from_bytes(data)

    def shard_counts(self, sweep_id: int) -> dict[str, tuple[int, int]]:
        """group_key -> (shards stored, shards in total), groups in sweep order."""
        return {g.group_key: (g.shards_done, g.n_shards) for g in self.progress(sweep_id)}

    def progress(self, sweep_id: int) -> list[GroupProgress]:
        """Per simulation group, in sweep order: shards stored and trials in them, runs done."""
        with self._reading() as session:
            sweep_record(session, sweep_id)
            rows = session.execute(
                select(
                    SimulationRecord.id, SimulationRecord.group_key, SimulationRecord.n_shards,
                    func.count(PartialRecord.id), func.coalesce(func.sum(PartialRecord.trials), 0),
                )
                .outerjoin(PartialRecord, PartialRecord.simulation_id == SimulationRecord.id)
                .where(SimulationRecord.sweep_id == sweep_id)
                .group_by(SimulationRecord.id, SimulationRecord.group_key, SimulationRecord.n_shards)
                .order_by(SimulationRecord.id)
            ).all()
            runs = current_runs(session, sweep_id)
            return [
                GroupProgress(
                    key, int(n_shards), int(done), int(trials),
                    n_runs=sum(r.simulation_id == sim_id for r in runs),
                    runs_done=sum(r.simulation_id == sim_id and r.status == RunStatus.DONE for r in runs),
                )
                for sim_id, key, n_shards, done, trials in rows
            ]

    def partial_times(self, sweep_id: int) -> list[PartialTime]:
        """Every stored partial's trials, simulation seconds and storing time, oldest first."""
        with self._reading() as session:
            sweep_record(session, sweep_id)
            rows = session.execute(
                select(
                    SimulationRecord.group_key, PartialRecord.shard_index, PartialRecord.trials,
                    PartialRecord.seconds, PartialRecord.created_at,
                )
                .join(SimulationRecord, PartialRecord.simulation_id == SimulationRecord.id)
                .where(SimulationRecord.sweep_id == sweep_id)
                .order_by(PartialRecord.created_at, PartialRecord.id)
            )
            return [PartialTime(*row) for row in rows]
