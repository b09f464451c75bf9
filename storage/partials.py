"""Shard partials in SQL: stored once per (simulation, shard), read back in shard order, and
the progress they make.

A partial is stored encoded (storage.codec) and handed back decoded: callers see engine
`Partial`s, never bytes. A second delivery of a shard finds its row and stores nothing
(a unique constraint and INSERT ... ON CONFLICT DO NOTHING).
"""

from __future__ import annotations

from typing import Iterator

from sqlalchemy import Double, LargeBinary, and_, case, func, literal, select, update

from infscale.engine.statistics import Partial
from infscale.storage.codec import partial_from_bytes, partial_to_bytes
from infscale.storage.records import SqlSessions, dialect_insert, simulation_record, sweep_record
from infscale.storage.rows import GroupProgress, PartialTime, RunStatus, SavedPartial, utc_now
from infscale.storage.tables import PartialRecord, RunRecord, SimulationRecord


class SqlPartials(SqlSessions):
    """The partials part of `SqlStore` (see storage.interface.Storage)."""

    def save_partial(
        self, sweep_id: int, group_key: str, shard_index: int, partial: Partial, seconds: float
    ) -> SavedPartial:
        # One statement on PostgreSQL (one round trip): insert the row unless the shard has one,
        # and count it in its simulation's `shards_stored`. Counting the rows instead could not
        # tell two shards storing at once that the group is complete (neither sees the other's
        # row); the UPDATE waits for the other's increment and sees it (migration 0008).
        simulation = SimulationRecord.__table__
        with self._statement() as connection:
            inserted = (
                dialect_insert(connection)(PartialRecord.__table__)
                .from_select(
                    ["simulation_id", "shard_index", "n_shards", "trials", "data", "seconds", "created_at"],
                    select(
                        simulation.c.id, literal(shard_index), simulation.c.n_shards, literal(partial.n_trials),
                        literal(partial_to_bytes(partial), LargeBinary), literal(float(seconds), Double),
                        literal(utc_now(), PartialRecord.created_at.type),
                    ).where(
                        simulation.c.sweep_id == sweep_id, simulation.c.group_key == group_key,
                        simulation.c.n_shards > shard_index, literal(shard_index) >= 0,
                    ),
                )
                .on_conflict_do_nothing(index_elements=("simulation_id", "shard_index"))
                .returning(PartialRecord.simulation_id)
            )
            counted = update(simulation).values(shards_stored=simulation.c.shards_stored + 1).returning(
                simulation.c.shards_stored, simulation.c.n_shards
            )
            if connection.dialect.name == "postgresql":
                stored = inserted.cte("stored")
                row = connection.execute(counted.where(simulation.c.id == stored.c.simulation_id)).first()
            else:  # no INSERT inside WITH: two statements, in one transaction holding the write lock
                simulation_id = connection.execute(inserted).scalar()
                row = None if simulation_id is None else connection.execute(
                    counted.where(simulation.c.id == simulation_id)
                ).first()
        if row is None:
            self._check_shard(sweep_id, group_key, shard_index)  # why not: raises, or it is a duplicate
            return SavedPartial(stored=False, completed_group=False)
        shards_stored, n_shards = row
        return SavedPartial(stored=True, completed_group=shards_stored == n_shards)

    def _check_shard(self, sweep_id: int, group_key: str, shard_index: int) -> None:
        """NotFound for a group the sweep does not have, ValueError for a shard index outside it."""
        with self._reading() as session:
            simulation = simulation_record(session, sweep_id, group_key)
            if not 0 <= shard_index < simulation.n_shards:
                raise ValueError(f"{group_key}: shard index {shard_index} is outside 0..{simulation.n_shards - 1}")

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
        """Per simulation group, in sweep order: shards stored and trials in them, runs done.
        Counted in the database (two queries, however many runs and partials)."""
        with self._reading() as session:
            groups = session.execute(
                select(
                    SimulationRecord.id, SimulationRecord.group_key, SimulationRecord.n_shards,
                    func.count(PartialRecord.id), func.coalesce(func.sum(PartialRecord.trials), 0),
                )
                .outerjoin(PartialRecord, PartialRecord.simulation_id == SimulationRecord.id)
                .where(SimulationRecord.sweep_id == sweep_id)
                .group_by(SimulationRecord.id, SimulationRecord.group_key, SimulationRecord.n_shards)
                .order_by(SimulationRecord.id)
            ).all()
            if not groups:
                sweep_record(session, sweep_id)  # NotFound if there is no such sweep
            latest = (  # each (model, scenario) run's current revision
                select(RunRecord.model_key, RunRecord.scenario_name, func.max(RunRecord.revision).label("revision"))
                .where(RunRecord.sweep_id == sweep_id)
                .group_by(RunRecord.model_key, RunRecord.scenario_name)
                .subquery()
            )
            runs = {
                simulation_id: (int(n), int(done or 0))
                for simulation_id, n, done in session.execute(
                    select(
                        RunRecord.simulation_id, func.count(),
                        func.sum(case((RunRecord.status == RunStatus.DONE.value, 1), else_=0)),
                    )
                    .join(latest, and_(
                        RunRecord.model_key == latest.c.model_key, RunRecord.scenario_name == latest.c.scenario_name,
                        RunRecord.revision == latest.c.revision,
                    ))
                    .where(RunRecord.sweep_id == sweep_id)
                    .group_by(RunRecord.simulation_id)
                )
            }
            return [
                GroupProgress(key, int(n_shards), int(done), int(trials), *runs.get(sim_id, (0, 0)))
                for sim_id, key, n_shards, done, trials in groups
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
