"""Sweeps in SQL: creating them from a plan, finishing groups and sweeps exactly once, status.

Writes that several workers may race on are idempotent: a group's runs are finished once
(`finish_group`), a `trials: auto` simulation gets each further round once
(`extend_simulation`) and a sweep is finished once (`finish_sweep`); the loser of a race gets
False and nothing changes. Every write is one transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Iterable, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from infscale.engine.selection import Recommendation
from infscale.engine.specs import SweepSpec
from infscale.readers.stored_specs import model_to_dict, scenario_to_dict, sweep_from_dict, sweep_to_dict
from infscale.storage.records import (
    SqlSessions,
    current_runs,
    latest_runs,
    match_runs,
    simulation_record,
    sweep_record,
    sweep_row,
    write_recommendations,
    write_run_results,
)
from infscale.storage.rows import FINAL_SWEEP_STATUSES, RUN_STATUS_ON_SWEEP_END, RunStatus, SimulationRow, SweepRow, SweepStatus, utc_now
from infscale.storage.tables import RunRecord, SimulationRecord, SweepRecord

if TYPE_CHECKING:
    from infscale.engine.results import RunResult, SweepResult
    from infscale.engine.plan import SweepPlan

class SqlSweeps(SqlSessions):
    """The sweep part of `SqlStore` (see storage.interface.Storage for each method's contract)."""

    def create_sweep(self, plan: SweepPlan, status: str = SweepStatus.PENDING) -> int:
        with self._transaction() as session:
            record, _ = _insert_sweep(session, plan, SweepStatus(status))
            return record.id

    def save_local_result(self, plan: SweepPlan, result: SweepResult) -> int:
        sweep = plan.sweep
        with self._transaction() as session:
            record, runs = _insert_sweep(session, plan, SweepStatus.DONE)
            write_run_results(session, match_runs(runs, result.runs, f"sweep {sweep.name!r}"), utc_now())
            if sweep.adaptive is not None:  # each simulation used as many blocks as its runs' trials
                block_trials = plan.block_trials
                trials = {run.simulation_id: run.trials for run in runs}
                for simulation in session.scalars(select(SimulationRecord).where(SimulationRecord.sweep_id == record.id)):
                    simulation.n_blocks = -(-trials[simulation.id] // block_trials)
            write_recommendations(session, record.id, result.recommendations)
            return record.id

    def finish_group(self, sweep_id: int, group_key: str, runs: Sequence[RunResult]) -> bool:
        """Write a group's curves and choices and mark its runs done, exactly once.

        The group's run rows are locked (`SELECT ... FOR UPDATE` on PostgreSQL; SQLite's write
        lock is taken at BEGIN) and must all be pending; otherwise nothing is written and the
        result is False (already finished, or the sweep was cancelled or failed).
        """
        with self._transaction() as session:
            simulation = simulation_record(session, sweep_id, group_key)
            records = latest_runs(session.scalars(
                select(RunRecord).where(RunRecord.simulation_id == simulation.id).with_for_update()
            ))
            if any(r.status != RunStatus.PENDING for r in records):
                return False
            write_run_results(session, match_runs(records, runs, group_key), utc_now())
            return True

    def simulation(self, sweep_id: int, group_key: str) -> SimulationRow:
        with self._reading() as session:
            simulation = simulation_record(session, sweep_id, group_key)
            per_shard = sweep_record(session, sweep_id).blocks_per_shard
            return SimulationRow(group_key, simulation.n_blocks, simulation.n_shards, per_shard)

    def extend_simulation(self, sweep_id: int, group_key: str, blocks: range, n_shards: int) -> bool:
        """Add a round of `blocks` in `n_shards` shards to a simulation (`trials: auto`), exactly
        once: False, with nothing changed, unless it is at `blocks.start` blocks and its runs
        are pending (another reduce extended it, or the sweep ended)."""
        with self._transaction() as session:
            simulation = simulation_record(session, sweep_id, group_key, lock=True)
            runs = latest_runs(session.scalars(select(RunRecord).where(RunRecord.simulation_id == simulation.id)))
            if simulation.n_blocks != blocks.start or any(r.status != RunStatus.PENDING for r in runs):
                return False
            simulation.n_blocks, simulation.n_shards = blocks.stop, simulation.n_shards + n_shards
            return True

    def finish_sweep(self, sweep_id: int, recommendations: Iterable[Recommendation]) -> bool:
        """Write the recommendations and mark the sweep done, exactly once.

        False, with nothing written, while some run is not done or when the sweep has ended.
        """
        with self._transaction() as session:
            sweep = sweep_record(session, sweep_id, lock=True)
            if sweep.status in FINAL_SWEEP_STATUSES:
                return False
            if any(r.status != RunStatus.DONE for r in current_runs(session, sweep_id)):
                return False
            write_recommendations(session, sweep_id, recommendations)
            sweep.status, sweep.finished_at = SweepStatus.DONE.value, utc_now()
            return True

    def set_sweep_status(self, sweep_id: int, status: str, error: str | None = None) -> bool:
        """Move a sweep that has not ended to `status` (pending, running, done, failed, cancelled).

        Ending it as failed or cancelled also ends its pending runs so. A sweep that has ended
        stays as it is: the result is False and nothing changes.
        """
        new = SweepStatus(status)
        with self._transaction() as session:
            sweep = sweep_record(session, sweep_id, lock=True)
            if sweep.status in FINAL_SWEEP_STATUSES:
                return False
            sweep.status, sweep.error = new.value, error
            if new in FINAL_SWEEP_STATUSES:
                sweep.finished_at = utc_now()
            run_status = RUN_STATUS_ON_SWEEP_END.get(new)
            if run_status is not None:
                for run in current_runs(session, sweep_id):
                    if run.status == RunStatus.PENDING:
                        run.status, run.error, run.finished_at = run_status.value, error, sweep.finished_at
            return True

    def fail_sweep(self, sweep_id: int, error: str) -> bool:
        """Mark the sweep and its pending runs failed with `error` (False if it had ended)."""
        return self.set_sweep_status(sweep_id, SweepStatus.FAILED, error)

    def cancel_sweep(self, sweep_id: int) -> bool:
        """Mark the sweep and its pending runs cancelled (False if it had ended)."""
        return self.set_sweep_status(sweep_id, SweepStatus.CANCELLED)

    def sweep(self, sweep_id: int) -> SweepRow:
        with self._reading() as session:
            return sweep_row(sweep_record(session, sweep_id))

    def sweeps(self, statuses: Iterable[str] | None = None) -> list[SweepRow]:
        """Every sweep, or those with one of `statuses` (e.g. the open ones), oldest first."""
        query = select(SweepRecord).order_by(SweepRecord.id)
        if statuses is not None:
            query = query.where(SweepRecord.status.in_([SweepStatus(s).value for s in statuses]))
        with self._reading() as session:
            return [sweep_row(r) for r in session.scalars(query)]

    def latest_sweep_id(self, as_of: datetime | None = None) -> int | None:
        """The id of the most recently created sweep that is done (by `as_of`), or None."""
        query = select(func.max(SweepRecord.id)).where(SweepRecord.status == SweepStatus.DONE.value)
        if as_of is not None:
            query = query.where(SweepRecord.finished_at <= as_of)
        with self._reading() as session:
            return session.scalar(query)

    def sweep_spec(self, sweep_id: int) -> SweepSpec:
        """The sweep's spec exactly as it was stored."""
        with self._reading() as session:
            return sweep_from_dict(sweep_record(session, sweep_id).spec)



def _insert_sweep(session: Session, plan: SweepPlan, status: SweepStatus) -> tuple[SweepRecord, list[RunRecord]]:
    """The sweep row, its simulations (as planned) and its pending runs (in sweep order)."""
    sweep, blocks_per_shard = plan.sweep, plan.blocks_per_shard
    now = utc_now()
    record = SweepRecord(
        name=sweep.name, source=sweep.source, spec=sweep_to_dict(sweep), mode=sweep.mode.value,
        trials=sweep.trials, seed=sweep.seed, status=status.value, blocks_per_shard=blocks_per_shard,
        created_at=now, finished_at=now if status in FINAL_SWEEP_STATUSES else None,
    )
    session.add(record)
    session.flush()
    simulation_of: dict[tuple[str, str], SimulationRecord] = {}
    for group_plan in plan.groups:
        group = group_plan.group
        simulation = SimulationRecord(
            sweep_id=record.id, group_key=group.key, model_key=group.model.key,
            parallelism=group.parallelism, k_max=group.k_max, k_grid=group.k_grid.value,
            n_blocks=group_plan.n_blocks, n_shards=len(group_plan.shards),
        )
        session.add(simulation)
        for scenario in group.scenarios:
            simulation_of[group.model.key, scenario.name] = simulation
    session.flush()
    # Each model's and scenario's stored form once, not once per run (thousands of runs).
    model_dicts = {model.key: model_to_dict(model) for model in sweep.models}
    scenario_dicts = {scenario.name: scenario_to_dict(scenario) for scenario in sweep.scenarios}
    runs = [
        RunRecord(
            sweep_id=record.id, simulation_id=simulation_of[model.key, scenario.name].id,
            model_key=model.key, scenario_name=scenario.name, model=model_dicts[model.key],
            scenario=scenario_dicts[scenario.name], status=RunStatus.PENDING.value,
        )
        for model in sweep.models
        for scenario in sweep.scenarios
    ]
    session.add_all(runs)
    session.flush()
    return record, runs
