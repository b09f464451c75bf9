"""`MemoryStore`: the `Storage` interface in this process's memory.

For tests and notebooks: nothing persists, nothing is encoded, every call holds one lock, so
the same exactly-once rules as the SQL store hold between threads. The contract tests
(tests/test_storage_contract.py) run against it and against SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Iterable, Iterator, Sequence

from infscale.engine.selection import Recommendation
from infscale.engine.specs import ModelSpec, SweepSpec
from infscale.engine.statistics import Partial
from infscale.storage import MEMORY_URL
from infscale.storage.errors import NotFound
from infscale.storage.memory_prices import MemoryPrices
from infscale.storage.memory_records import (
    RecommendationEntry,
    RunEntry,
    SimulationEntry,
    SweepEntry,
    check_results,
    finish_run,
    in_method_order,
    recommendation_row,
)
from infscale.storage.ordering import SweepOrder, latest_revisions
from infscale.storage.rows import (
    FINAL_SWEEP_STATUSES,
    ChoiceRow,
    GroupProgress,
    PartialTime,
    PriceRow,
    RecommendationRow,
    RunModel,
    RUN_STATUS_ON_SWEEP_END,
    RunStatus,
    SavedPartial,
    ShardLease,
    ShardStart,
    SimulationRow,
    StoredCurves,
    SweepRow,
    SweepStatus,
    utc_now,
)

if TYPE_CHECKING:
    from infscale.engine.results import RunResult, SweepResult
    from infscale.engine.plan import SweepPlan


class MemoryStore(MemoryPrices):
    """Sweeps, partials, results and prices in dictionaries (see storage.interface.Storage)."""

    def __init__(self) -> None:
        self.url = MEMORY_URL
        self._lock = threading.RLock()
        self._sweeps: dict[int, SweepEntry] = {}
        self._runs: list[RunEntry] = []
        self._recommendations: list[RecommendationEntry] = []
        self._prices: list[PriceRow] = []

    def close(self) -> None:
        pass

    def __enter__(self) -> "MemoryStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- sweeps ---------------------------------------------------------------------------

    def create_sweep(self, plan: SweepPlan, status: str = SweepStatus.PENDING) -> int:
        with self._lock:
            return self._insert_sweep(plan, SweepStatus(status))[0]

    def save_local_result(self, plan: SweepPlan, result: SweepResult) -> int:
        with self._lock:
            check_results(self._pending_runs_of_plan(plan), result.runs, f"sweep {plan.sweep.name!r}")
            sweep_id, runs = self._insert_sweep(plan, SweepStatus.DONE)
            now = utc_now()
            by_key = {(r.model.key, r.scenario.name): r for r in runs}
            for run_result in result.runs:
                finish_run(by_key[run_result.model.key, run_result.scenario.name], run_result, now)
            if plan.sweep.adaptive is not None:  # each simulation used as many blocks as its runs' trials
                for run in runs:
                    self._sweeps[sweep_id].groups[run.group_key].n_blocks = -(-run.trials // plan.block_trials)
            self._add_recommendations(sweep_id, result.recommendations, 1, now)
            return sweep_id

    def finish_group(self, sweep_id: int, group_key: str, runs: Sequence[RunResult]) -> bool:
        with self._lock:
            self._simulation(sweep_id, group_key)
            records = [r for r in self._current(sweep_id) if r.group_key == group_key]
            if any(r.status != RunStatus.PENDING for r in records):
                return False
            check_results(records, runs, group_key)
            by_key = {(r.model.key, r.scenario.name): r for r in records}
            now = utc_now()
            for result in runs:
                finish_run(by_key[result.model.key, result.scenario.name], result, now)
            return True

    def simulation(self, sweep_id: int, group_key: str) -> SimulationRow:
        with self._lock:
            simulation = self._simulation(sweep_id, group_key)
            return SimulationRow(group_key, simulation.n_blocks, simulation.n_shards, self._sweeps[sweep_id].blocks_per_shard)

    def extend_simulation(self, sweep_id: int, group_key: str, blocks: range, n_shards: int) -> bool:
        with self._lock:
            simulation = self._simulation(sweep_id, group_key)
            runs = [r for r in self._current(sweep_id) if r.group_key == group_key]
            if simulation.n_blocks != blocks.start or any(r.status != RunStatus.PENDING for r in runs):
                return False
            simulation.n_blocks, simulation.n_shards = blocks.stop, simulation.n_shards + n_shards
            return True

    def finish_sweep(self, sweep_id: int, recommendations: Iterable[Recommendation]) -> bool:
        with self._lock:
            sweep = self._sweep(sweep_id)
            if sweep.row.status in FINAL_SWEEP_STATUSES:
                return False
            if any(r.status != RunStatus.DONE for r in self._current(sweep_id)):
                return False
            self._add_recommendations(sweep_id, recommendations, 1, utc_now())
            sweep.row = replace(sweep.row, status=SweepStatus.DONE.value, finished_at=utc_now())
            return True

    def set_sweep_status(self, sweep_id: int, status: str, error: str | None = None) -> bool:
        new = SweepStatus(status)
        with self._lock:
            sweep = self._sweep(sweep_id)
            if sweep.row.status in FINAL_SWEEP_STATUSES:
                return False
            finished = utc_now() if new in FINAL_SWEEP_STATUSES else None
            sweep.row = replace(sweep.row, status=new.value, error=error, finished_at=finished)
            run_status = RUN_STATUS_ON_SWEEP_END.get(new)
            if run_status is not None:
                for run in self._current(sweep_id):
                    if run.status == RunStatus.PENDING:
                        run.status, run.error, run.finished_at = run_status.value, error, finished
            return True

    def fail_sweep(self, sweep_id: int, error: str) -> bool:
        return self.set_sweep_status(sweep_id, SweepStatus.FAILED, error)

    def cancel_sweep(self, sweep_id: int) -> bool:
        return self.set_sweep_status(sweep_id, SweepStatus.CANCELLED)

    def sweep(self, sweep_id: int) -> SweepRow:
        with self._lock:
            return self._sweep(sweep_id).row

    def sweeps(self, statuses: Iterable[str] | None = None) -> list[SweepRow]:
        wanted = None if statuses is None else {SweepStatus(s).value for s in statuses}
        with self._lock:
            return [s.row for s in self._sweeps.values() if wanted is None or s.row.status in wanted]

    def latest_sweep_id(self, as_of: datetime | None = None) -> int | None:
        with self._lock:
            done = [
                i for i, s in self._sweeps.items()
                if s.row.status == SweepStatus.DONE and (as_of is None or s.row.finished_at <= as_of)
            ]
            return max(done, default=None)

    def sweep_spec(self, sweep_id: int) -> SweepSpec:
        with self._lock:
            return self._sweep(sweep_id).spec

    # --- partials -------------------------------------------------------------------------

    def save_partial(
        self, sweep_id: int, group_key: str, shard_index: int, partial: Partial, seconds: float
    ) -> SavedPartial:
        with self._lock:
            simulation = self._simulation(sweep_id, group_key)
            if not 0 <= shard_index < simulation.n_shards:
                raise ValueError(f"{group_key}: shard index {shard_index} is outside 0..{simulation.n_shards - 1}")
            if shard_index in simulation.partials:
                return SavedPartial(stored=False, completed_group=False)
            simulation.partials[shard_index] = (partial, float(seconds), utc_now())
            return SavedPartial(stored=True, completed_group=len(simulation.partials) == simulation.n_shards)

    def partials(self, sweep_id: int, group_key: str) -> list[Partial]:
        with self._lock:
            stored = self._simulation(sweep_id, group_key).partials
            return [stored[i][0] for i in sorted(stored)]

    def stream_partials(self, sweep_id: int, group_key: str) -> Iterator[Partial]:
        return iter(self.partials(sweep_id, group_key))  # held in memory already

    def shard_counts(self, sweep_id: int) -> dict[str, tuple[int, int]]:
        return {g.group_key: (g.shards_done, g.n_shards) for g in self.progress(sweep_id)}

    def progress(self, sweep_id: int) -> list[GroupProgress]:
        with self._lock:
            runs = self._current(sweep_id)
            return [
                GroupProgress(
                    key, sim.n_shards, len(sim.partials), sum(p.n_trials for p, _, _ in sim.partials.values()),
                    n_runs=sum(r.group_key == key for r in runs),
                    runs_done=sum(r.group_key == key and r.status == RunStatus.DONE for r in runs),
                )
                for key, sim in self._sweep(sweep_id).groups.items()
            ]

    def partial_times(self, sweep_id: int) -> list[PartialTime]:
        with self._lock:
            times = [
                PartialTime(key, index, partial.n_trials, seconds, at)
                for key, sim in self._sweep(sweep_id).groups.items()
                for index, (partial, seconds, at) in sim.partials.items()
            ]
            return sorted(times, key=lambda t: t.created_at)

    # --- shard leases ---------------------------------------------------------------------

    def start_shard(self, sweep_id: int, group_key: str, shard_index: int, holder: str, lease: timedelta) -> ShardStart:
        with self._lock:
            self._simulation(sweep_id, group_key)  # NotFound if it is not there
            row = self._sweep(sweep_id).row
            if row.status in FINAL_SWEEP_STATUSES:
                return ShardStart(sweep_open=False, sweep_created_at=None)
            self.lease_shard(sweep_id, group_key, shard_index, holder, lease)
            return ShardStart(sweep_open=True, sweep_created_at=row.created_at)

    def lease_shard(
        self, sweep_id: int, group_key: str, shard_index: int, holder: str, lease: timedelta,
        now: datetime | None = None,
    ) -> None:
        now = now or utc_now()
        with self._lock:
            self._simulation(sweep_id, group_key).leases[shard_index] = (holder, now, now + lease)

    def shard_leases(self, sweep_id: int) -> list[ShardLease]:
        with self._lock:
            return [
                ShardLease(key, index, *sim.leases[index])
                for key, sim in self._sweep(sweep_id).groups.items()
                for index in sorted(sim.leases)
            ]

    # --- results --------------------------------------------------------------------------

    def choices(
        self, sweep_id: int, model: str | None = None, scenario: str | None = None, as_of: datetime | None = None
    ) -> list[ChoiceRow]:
        with self._lock:
            runs = self._select(sweep_id, model, scenario, self._current(sweep_id, as_of))
            return [
                ChoiceRow(
                    sweep_id, r.id, r.model.key, r.scenario.name, c.method.value, c.status.value, c.k,
                    c.total_cost, c.total_time, c.accuracy, c.reason, c.confidence, r.trials, r.stop_reason,
                )
                for r in runs if r.result is not None
                for c in in_method_order(r.result.decision.choices)
            ]

    def recommendations(
        self, sweep_id: int, scenario: str | None = None, as_of: datetime | None = None
    ) -> list[RecommendationRow]:
        with self._lock:
            order = self._order(sweep_id)
            if scenario is not None:
                order.check_scenario(scenario)
            records = [
                r for r in self._recommendations
                if r.sweep_id == sweep_id and (as_of is None or r.created_at <= as_of)
                and (scenario is None or r.rec.scenario == scenario)
            ]
            latest = latest_revisions(records, lambda r: (r.rec.scenario, r.rec.method))
            rows = [recommendation_row(sweep_id, r.rec) for r in latest]
            return sorted(rows, key=lambda r: order.key(None, r.scenario, r.method))

    def curves(self, sweep_id: int, model: str, scenario: str) -> StoredCurves:
        with self._lock:
            runs = self._select(sweep_id, model, scenario, self._current(sweep_id))
            if not runs:
                raise NotFound(f"sweep {sweep_id} has no run of model {model!r} under scenario {scenario!r}")
            run = runs[0]
            if run.result is None:
                raise NotFound(f"run {model}/{scenario} has no curves yet (status {run.status})")
            decision = run.result.decision
            return StoredCurves(
                run.id, model, scenario, run.result.curves, decision.feasible, decision.frontier,
                run.model.accuracy_model.value,
            )

    def run_results(self, sweep_id: int, scenarios: Sequence[str] | None = None) -> tuple[RunResult, ...]:
        with self._lock:
            return tuple(
                replace(r.result, stop_reason=r.stop_reason)
                for r in self._select(sweep_id, None, None, self._current(sweep_id))
                if r.status == RunStatus.DONE and (scenarios is None or r.scenario.name in scenarios)
            )

    def run_models(self, sweep_id: int) -> list[RunModel]:
        with self._lock:
            return [
                RunModel(r.model.key, r.scenario.name, r.revision, r.model)
                for r in self._select(sweep_id, None, None, self._current(sweep_id))
                if r.status == RunStatus.DONE
            ]

    def stored_models(self) -> dict[str, ModelSpec]:
        with self._lock:
            latest: dict[str, RunEntry] = {}
            for run in self._runs:  # in id order: the last one of a model wins
                latest[run.model.key] = run
            return {key: latest[key].model for key in sorted(latest)}

    # --- inside ---------------------------------------------------------------------------

    def _insert_sweep(self, plan: SweepPlan, status: SweepStatus) -> tuple[int, list[RunEntry]]:
        sweep, now = plan.sweep, utc_now()
        sweep_id = max(self._sweeps, default=0) + 1
        row = SweepRow(
            sweep_id, sweep.name, sweep.source, status.value, sweep.mode.value, sweep.trials, sweep.seed,
            now, now if status in FINAL_SWEEP_STATUSES else None, None,
        )
        record = SweepEntry(row, sweep, plan.blocks_per_shard)
        group_of: dict[tuple[str, str], str] = {}
        for group_plan in plan.groups:
            record.groups[group_plan.group.key] = SimulationEntry(group_plan.n_blocks, len(group_plan.shards))
            for scenario in group_plan.group.scenarios:
                group_of[group_plan.group.model.key, scenario.name] = group_plan.group.key
        self._sweeps[sweep_id] = record
        runs = [
            RunEntry(self._next_run_id() + i, sweep_id, group_of[m.key, s.name], m, s)
            for i, (m, s) in enumerate((m, s) for m in sweep.models for s in sweep.scenarios)
        ]
        self._runs.extend(runs)
        return sweep_id, runs

    def _pending_runs_of_plan(self, plan: SweepPlan) -> list[RunEntry]:
        """The runs a plan would create (for checking results before anything is written)."""
        return [RunEntry(0, 0, "", m, s) for m in plan.sweep.models for s in plan.sweep.scenarios]

    def _next_run_id(self) -> int:
        return max((r.id for r in self._runs), default=0) + 1

    def _add_recommendations(
        self, sweep_id: int, recommendations: Iterable[Recommendation], revision: int, now: datetime
    ) -> None:
        self._recommendations.extend(RecommendationEntry(sweep_id, revision, now, r) for r in recommendations)

    def _sweep(self, sweep_id: int) -> SweepEntry:
        if sweep_id not in self._sweeps:
            raise NotFound(f"sweep {sweep_id} does not exist")
        return self._sweeps[sweep_id]

    def _simulation(self, sweep_id: int, group_key: str) -> SimulationEntry:
        groups = self._sweep(sweep_id).groups
        if group_key not in groups:
            raise NotFound(f"sweep {sweep_id} has no simulation group {group_key!r} (groups: {', '.join(groups)})")
        return groups[group_key]

    def _current(self, sweep_id: int, as_of: datetime | None = None) -> list[RunEntry]:
        self._sweep(sweep_id)
        runs = [
            r for r in self._runs
            if r.sweep_id == sweep_id and (as_of is None or (r.finished_at is not None and r.finished_at <= as_of))
        ]
        return latest_revisions(runs, lambda r: (r.model_key, r.scenario_name))

    def _order(self, sweep_id: int) -> SweepOrder:
        spec = self._sweep(sweep_id).spec
        return SweepOrder(sweep_id, (m.key for m in spec.models), (s.name for s in spec.scenarios))

    def _select(self, sweep_id: int, model: str | None, scenario: str | None, runs: Iterable[RunEntry]) -> list[RunEntry]:
        return self._order(sweep_id).select(runs, model, scenario)
