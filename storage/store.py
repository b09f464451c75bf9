"""`Store`: the one narrow interface to the database. Callers never build SQL.

Every method opens its own session; every write method is one transaction, all or nothing.
Writes that several workers may race on are idempotent: a shard's partial is stored once
(`save_partial`), a group's runs are finished once (`finish_group`), a `trials: auto`
simulation gets each further round once (`extend_simulation`) and a sweep is finished once
(`finish_sweep`); the loser of a race gets False and nothing changes.

Runs and recommendations carry a revision; queries read the highest revision of each, or
the highest one in force at a given time (`as_of`). Model prices are versioned in time
(`import_prices`); a recalculation stores recomputed runs as new revisions (`save_revision`).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import fields
from datetime import datetime
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence, TypeVar

import numpy as np
from sqlalchemy import func, insert, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from infscale.engine.adaptive import first_round
from infscale.engine.pipeline import RunResult, SweepResult
from infscale.engine.plan import block_plan, shard_ranges, simulation_groups
from infscale.engine.prices import PriceQuote, Prices, prices_of
from infscale.engine.selection import Choice, Decision, Method, Recommendation, Status
from infscale.engine.serialize import (
    model_from_dict,
    model_to_dict,
    scenario_from_dict,
    scenario_to_dict,
    sweep_from_dict,
    sweep_to_dict,
)
from infscale.engine.specs import ModelSpec, SweepSpec
from infscale.engine.statistics import METRICS, Curves, MetricCurve
from infscale.storage.database import database_url, make_engine, upgrade, writer
from infscale.storage.errors import NotFound
from infscale.storage.rows import (
    Changes,
    ChoiceRow,
    GroupProgress,
    PartialTime,
    PriceImport,
    PriceRow,
    RecommendationChange,
    RecommendationRow,
    RunChange,
    RunModel,
    RunRevision,
    StoredCurves,
    SweepRow,
)
from infscale.storage.tables import (
    FINAL_SWEEP_STATUSES,
    ChoiceRecord,
    CurvePointRecord,
    ModelPriceRecord,
    PartialRecord,
    RecommendationRecord,
    RunRecord,
    RunStatus,
    SimulationRecord,
    SweepRecord,
    SweepStatus,
    utc_now,
)

__all__ = ["Store", "SweepRow", "ChoiceRow", "RecommendationRow", "StoredCurves"]

METHOD_ORDER = {m.value: i for i, m in enumerate(Method)}
STATS = tuple(f.name for f in fields(MetricCurve))  # mean, se, p05, p50, p95
CURVE_FLOATS = tuple(f"{m}_{s}" for m in METRICS for s in STATS) + ("feasible_probability",)
"""The float columns of `curve_points`, in the order `_curves_from_rows` reads them."""

# What a run becomes when its sweep ends another way than done.
_RUN_STATUS_ON_SWEEP_END = {SweepStatus.FAILED: RunStatus.FAILED, SweepStatus.CANCELLED: RunStatus.CANCELLED}

R = TypeVar("R")


class Store:
    """Sweeps, partials and results in the database at `url` (see `storage.database`)."""

    def __init__(self, url: str | None = None, *, upgrade_schema: bool = True) -> None:
        self.url = database_url(url)
        if upgrade_schema:
            upgrade(self.url)
        self._engine = make_engine(self.url)
        self._reader = sessionmaker(self._engine, expire_on_commit=False)
        self._writer = sessionmaker(writer(self._engine), expire_on_commit=False)

    def close(self) -> None:
        """Close pooled connections (the store stays usable; it reconnects on demand)."""
        self._engine.dispose()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- writing a sweep ----------------------------------------------------------------

    def create_sweep(
        self, sweep: SweepSpec, blocks_per_shard: int | None = None, status: str = SweepStatus.PENDING
    ) -> int:
        """The sweep, one simulation per engine group and one pending run per (model, scenario).

        `blocks_per_shard` None means one shard per group. Returns the sweep id.
        """
        with self._transaction() as session:
            record, _ = _insert_sweep(session, sweep, blocks_per_shard, SweepStatus(status))
            return record.id

    def save_local_result(self, sweep: SweepSpec, result: SweepResult) -> int:
        """A sweep computed in this process, with every result, as one done sweep. Returns its id."""
        with self._transaction() as session:
            record, runs = _insert_sweep(session, sweep, None, SweepStatus.DONE)
            now = utc_now()
            for run, run_result in _match_runs(runs, result.runs, f"sweep {sweep.name!r}"):
                _write_run_result(session, run, run_result, now)
            if sweep.adaptive is not None:  # each simulation used as many blocks as its runs' trials
                block_trials = block_plan(sweep).block_trials
                trials = {run.simulation_id: run.trials for run in runs}
                for simulation in session.scalars(select(SimulationRecord).where(SimulationRecord.sweep_id == record.id)):
                    simulation.n_blocks = -(-trials[simulation.id] // block_trials)
            _write_recommendations(session, record.id, result.recommendations)
            return record.id

    def save_partial(
        self, sweep_id: int, group_key: str, shard_index: int, data: bytes, trials: int, seconds: float
    ) -> bool:
        """Store one shard's encoded partial (storage.codec). False if it was already stored."""
        with self._transaction() as session:
            simulation = _simulation(session, sweep_id, group_key)
            if not 0 <= shard_index < simulation.n_shards:
                raise ValueError(
                    f"{group_key}: shard index {shard_index} is outside 0..{simulation.n_shards - 1}"
                )
            return _insert_unless_present(
                session, PartialRecord, ("simulation_id", "shard_index"),
                simulation_id=simulation.id, shard_index=shard_index, n_shards=simulation.n_shards,
                trials=int(trials), data=bytes(data), seconds=float(seconds), created_at=utc_now(),
            )

    def finish_group(self, sweep_id: int, group_key: str, runs: Sequence[RunResult]) -> bool:
        """Write a group's curves and choices and mark its runs done, exactly once.

        The group's run rows are locked (`SELECT ... FOR UPDATE` on PostgreSQL; SQLite's write
        lock is taken at BEGIN) and must all be pending; otherwise nothing is written and the
        result is False (already finished, or the sweep was cancelled or failed).
        """
        with self._transaction() as session:
            simulation = _simulation(session, sweep_id, group_key)
            records = _latest_runs(session.scalars(
                select(RunRecord).where(RunRecord.simulation_id == simulation.id).with_for_update()
            ))
            if any(r.status != RunStatus.PENDING for r in records):
                return False
            now = utc_now()
            for run, run_result in _match_runs(records, runs, group_key):
                _write_run_result(session, run, run_result, now)
            return True

    def next_shards(self, sweep_id: int, group_key: str, blocks: range) -> list[tuple[int, range]]:
        """The shards (index, blocks) a further round of `blocks` would add to a simulation, cut
        like its first round; [] if the simulation is no longer at `blocks.start` blocks."""
        with self._reading() as session:
            simulation = _simulation(session, sweep_id, group_key)
            if simulation.n_blocks != blocks.start:
                return []
            per_shard = _sweep_record(session, sweep_id).blocks_per_shard or len(blocks)
            ranges = shard_ranges(len(blocks), per_shard)
            return [
                (simulation.n_shards + i, range(blocks.start + r.start, blocks.start + r.stop))
                for i, r in enumerate(ranges)
            ]

    def extend_simulation(self, sweep_id: int, group_key: str, blocks: range, n_shards: int) -> bool:
        """Add a round of `blocks` in `n_shards` shards to a simulation (`trials: auto`), exactly
        once: False, with nothing changed, unless it is at `blocks.start` blocks and its runs
        are pending (another reduce extended it, or the sweep ended)."""
        with self._transaction() as session:
            simulation = _simulation(session, sweep_id, group_key, lock=True)
            runs = _latest_runs(session.scalars(select(RunRecord).where(RunRecord.simulation_id == simulation.id)))
            if simulation.n_blocks != blocks.start or any(r.status != RunStatus.PENDING for r in runs):
                return False
            simulation.n_blocks, simulation.n_shards = blocks.stop, simulation.n_shards + n_shards
            return True

    def finish_sweep(self, sweep_id: int, recommendations: Iterable[Recommendation]) -> bool:
        """Write the recommendations and mark the sweep done, exactly once.

        False, with nothing written, while some run is not done or when the sweep has ended.
        """
        with self._transaction() as session:
            sweep = _sweep_record(session, sweep_id, lock=True)
            if sweep.status in FINAL_SWEEP_STATUSES:
                return False
            if any(r.status != RunStatus.DONE for r in _current_runs(session, sweep_id)):
                return False
            _write_recommendations(session, sweep_id, recommendations)
            sweep.status, sweep.finished_at = SweepStatus.DONE.value, utc_now()
            return True

    def set_sweep_status(self, sweep_id: int, status: str, error: str | None = None) -> bool:
        """Move a sweep that has not ended to `status` (pending, running, done, failed, cancelled).

        Ending it as failed or cancelled also ends its pending runs so. A sweep that has ended
        stays as it is: the result is False and nothing changes.
        """
        new = SweepStatus(status)
        with self._transaction() as session:
            sweep = _sweep_record(session, sweep_id, lock=True)
            if sweep.status in FINAL_SWEEP_STATUSES:
                return False
            sweep.status, sweep.error = new.value, error
            if new in FINAL_SWEEP_STATUSES:
                sweep.finished_at = utc_now()
            run_status = _RUN_STATUS_ON_SWEEP_END.get(new)
            if run_status is not None:
                for run in _current_runs(session, sweep_id):
                    if run.status == RunStatus.PENDING:
                        run.status, run.error, run.finished_at = run_status.value, error, sweep.finished_at
            return True

    def fail_sweep(self, sweep_id: int, error: str) -> bool:
        """Mark the sweep and its pending runs failed with `error` (False if it had ended)."""
        return self.set_sweep_status(sweep_id, SweepStatus.FAILED, error)

    def cancel_sweep(self, sweep_id: int) -> bool:
        """Mark the sweep and its pending runs cancelled (False if it had ended)."""
        return self.set_sweep_status(sweep_id, SweepStatus.CANCELLED)

    # --- reading --------------------------------------------------------------------------

    def partials(self, sweep_id: int, group_key: str) -> list[bytes]:
        """The group's stored partials (encoded), in shard order."""
        with self._reading() as session:
            simulation = _simulation(session, sweep_id, group_key)
            return [bytes(b) for b in session.scalars(
                select(PartialRecord.data)
                .where(PartialRecord.simulation_id == simulation.id)
                .order_by(PartialRecord.shard_index)
            )]

    def shard_counts(self, sweep_id: int) -> dict[str, tuple[int, int]]:
        """group_key -> (shards stored, shards in total), groups in sweep order."""
        return {g.group_key: (g.shards_done, g.n_shards) for g in self.progress(sweep_id)}

    def progress(self, sweep_id: int) -> list[GroupProgress]:
        """Per simulation group, in sweep order: shards stored and trials in them, runs done."""
        with self._reading() as session:
            _sweep_record(session, sweep_id)
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
            runs = _current_runs(session, sweep_id)
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
            _sweep_record(session, sweep_id)
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

    def sweep(self, sweep_id: int) -> SweepRow:
        with self._reading() as session:
            return _sweep_row(_sweep_record(session, sweep_id))

    def sweeps(self, statuses: Iterable[str] | None = None) -> list[SweepRow]:
        """Every sweep, or those with one of `statuses` (e.g. the open ones), oldest first."""
        query = select(SweepRecord).order_by(SweepRecord.id)
        if statuses is not None:
            query = query.where(SweepRecord.status.in_([SweepStatus(s).value for s in statuses]))
        with self._reading() as session:
            return [_sweep_row(r) for r in session.scalars(query)]

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
            return sweep_from_dict(_sweep_record(session, sweep_id).spec)

    def choices(
        self, sweep_id: int, model: str | None = None, scenario: str | None = None, as_of: datetime | None = None
    ) -> list[ChoiceRow]:
        """Choices of the sweep's finished runs: by model, then scenario (as in the spec), then method.

        `as_of`: the revision of each run in force at that time (none for runs finished later).
        """
        with self._reading() as session:
            order = _SweepOrder(_sweep_record(session, sweep_id))
            runs = {r.id: r for r in order.select(_current_runs(session, sweep_id, as_of), model, scenario)}
            records = session.scalars(select(ChoiceRecord).where(ChoiceRecord.run_id.in_(runs)))
            rows = [_choice_row(sweep_id, runs[c.run_id], c) for c in records]
            return sorted(rows, key=lambda c: order.key(c.model, c.scenario, c.method))

    def recommendations(
        self, sweep_id: int, scenario: str | None = None, as_of: datetime | None = None
    ) -> list[RecommendationRow]:
        """Cross-model recommendations, by scenario (as in the spec), then method (`as_of`: the
        revision in force at that time)."""
        with self._reading() as session:
            order = _SweepOrder(_sweep_record(session, sweep_id))
            query = select(RecommendationRecord).where(RecommendationRecord.sweep_id == sweep_id)
            if as_of is not None:
                query = query.where(RecommendationRecord.created_at <= as_of)
            if scenario is not None:
                order.check_scenario(scenario)
                query = query.where(RecommendationRecord.scenario_name == scenario)
            records = _latest(session.scalars(query), lambda r: (r.scenario_name, r.method))
            rows = [_recommendation_row(r) for r in records]
            return sorted(rows, key=lambda r: order.key(None, r.scenario, r.method))

    def curves(self, sweep_id: int, model: str, scenario: str) -> StoredCurves:
        """One finished run's curves, feasible set and frontier, as computed."""
        with self._reading() as session:
            order = _SweepOrder(_sweep_record(session, sweep_id))
            runs = order.select(_current_runs(session, sweep_id), model, scenario)
            if not runs:
                raise NotFound(f"sweep {sweep_id} has no run of model {model!r} under scenario {scenario!r}")
            run = runs[0]
            curves, feasible, frontier = _load_curves(session, run)
            return StoredCurves(run.id, model, scenario, curves, feasible, frontier)

    def run_results(self, sweep_id: int) -> tuple[RunResult, ...]:
        """The sweep's finished runs rebuilt as engine results, in sweep order.

        What `engine.pipeline.recommend_all` needs once every group has been finished,
        possibly by different workers.
        """
        with self._reading() as session:
            order = _SweepOrder(_sweep_record(session, sweep_id))
            out = []
            for run in order.select(_current_runs(session, sweep_id), None, None):
                if run.status != RunStatus.DONE:
                    continue
                curves, feasible, frontier = _load_curves(session, run)
                choices = session.scalars(select(ChoiceRecord).where(ChoiceRecord.run_id == run.id))
                decision = Decision(feasible, frontier, tuple(
                    _choice(c) for c in sorted(choices, key=lambda c: METHOD_ORDER[c.method])
                ))
                out.append(RunResult(
                    model_from_dict(run.model), scenario_from_dict(run.scenario), curves, decision, run.stop_reason
                ))
            return tuple(out)

    # --- prices and revisions ------------------------------------------------------------

    def import_prices(
        self, quotes: Sequence[PriceQuote], source: str, effective_at: datetime | None = None
    ) -> PriceImport:
        """A new price version, effective at `effective_at` (default: now), for each quoted model
        whose prices differ from the version in force then; the same prices again add nothing.

        Times a quote leaves open are carried over from the version in force. One transaction
        (serialised with other imports), so a failure imports nothing.
        """
        when = effective_at or utc_now()
        with self._transaction() as session:
            _lock(session, _PRICES_LOCK_ID)
            in_force = {r.model_key: _price_of(r) for r in _prices_in_force(session, when)}
            changed, unchanged = [], []
            for quote in quotes:
                prices = quote.prices.over(in_force.get(quote.model))
                if in_force.get(quote.model) == prices:
                    unchanged.append(quote.model)
                    continue
                session.add(ModelPriceRecord(
                    model_key=quote.model, c_in=prices.c_in, c_out=prices.c_out, t_in=prices.t_in,
                    t_out=prices.t_out, effective_at=when, source=source, created_at=utc_now(),
                ))
                in_force[quote.model] = prices
                changed.append(quote.model)
            return PriceImport(when, tuple(changed), tuple(unchanged))

    def prices(self, at: datetime | None = None) -> dict[str, PriceRow]:
        """model key -> the price version in force at `at` (default: now), by model key."""
        with self._reading() as session:
            records = sorted(_prices_in_force(session, at or utc_now()), key=lambda r: r.model_key)
            return {r.model_key: _price_row(r) for r in records}

    def price_history(self, model: str | None = None) -> list[PriceRow]:
        """Every price version (of `model`, or of all models), by model, oldest first."""
        query = select(ModelPriceRecord).order_by(ModelPriceRecord.model_key, ModelPriceRecord.effective_at)
        if model is not None:
            query = query.where(ModelPriceRecord.model_key == model)
        with self._reading() as session:
            return [_price_row(r) for r in session.scalars(query)]

    def run_models(self, sweep_id: int) -> list[RunModel]:
        """The current revision of each of the sweep's done runs and the model it used, in sweep order."""
        with self._reading() as session:
            order = _SweepOrder(_sweep_record(session, sweep_id))
            return [
                RunModel(r.model_key, r.scenario_name, r.revision, model_from_dict(r.model))
                for r in order.select(_current_runs(session, sweep_id), None, None)
                if r.status == RunStatus.DONE
            ]

    def stored_models(self) -> dict[str, ModelSpec]:
        """model key -> the model (prices, litellm_key, ...) of its most recently stored run."""
        with self._reading() as session:
            latest = select(func.max(RunRecord.id)).group_by(RunRecord.model_key)
            records = session.scalars(select(RunRecord).where(RunRecord.id.in_(latest)).order_by(RunRecord.model_key))
            return {r.model_key: model_from_dict(r.model) for r in records}

    def save_revision(
        self,
        sweep_id: int,
        runs: Sequence[RunResult],
        recommendations: Iterable[Recommendation],
        based_on: Mapping[tuple[str, str], int],
    ) -> bool:
        """Recomputed runs as the next revision of each, and the sweep's recommendations as
        their next revision, in one transaction; older revisions stay.

        `based_on` is the revision of every run of the sweep, (model, scenario) -> revision,
        that the recomputation read. If the sweep's current revisions are no longer exactly
        those (another recalculation got there first), nothing is written and the result is False.
        """
        with self._transaction() as session:
            _sweep_record(session, sweep_id, lock=True)  # PostgreSQL: one revision writer per sweep
            current = {(r.model_key, r.scenario_name): r for r in _current_runs(session, sweep_id)}
            if {key: r.revision for key, r in current.items()} != dict(based_on):
                return False
            now = utc_now()
            for result in runs:
                old = current[result.model.key, result.scenario.name]
                new = RunRecord(
                    sweep_id=sweep_id, simulation_id=old.simulation_id, model_key=old.model_key,
                    scenario_name=old.scenario_name, model=model_to_dict(result.model),
                    scenario=scenario_to_dict(result.scenario), status=RunStatus.PENDING.value,
                    revision=old.revision + 1, created_at=now,
                )
                session.add(new)
                session.flush()
                _write_run_result(session, new, result, now)
            latest = session.scalar(
                select(func.max(RecommendationRecord.revision)).where(RecommendationRecord.sweep_id == sweep_id)
            )
            _write_recommendations(session, sweep_id, recommendations, (latest or 0) + 1, now)
            return True

    def run_history(self, sweep_id: int, model: str, scenario: str) -> list[RunRevision]:
        """Every finished revision of one run, oldest first."""
        with self._reading() as session:
            order = _SweepOrder(_sweep_record(session, sweep_id))
            order.check_model(model)
            order.check_scenario(scenario)
            records = session.scalars(
                select(RunRecord)
                .where(RunRecord.sweep_id == sweep_id, RunRecord.model_key == model,
                       RunRecord.scenario_name == scenario, RunRecord.status == RunStatus.DONE.value)
                .order_by(RunRecord.revision)
            )
            return [_run_revision(session, r) for r in records]

    def changes(self, sweep_id: int, since: datetime | None = None) -> Changes:
        """What recalculations changed in a sweep: each run and recommendation whose revision in
        force at `since` (default: its previous revision) is not its current one, old and new.

        One first computed after `since` is compared from its first revision.
        """
        with self._reading() as session:
            order = _SweepOrder(_sweep_record(session, sweep_id))
            runs = session.scalars(
                select(RunRecord).where(RunRecord.sweep_id == sweep_id, RunRecord.status == RunStatus.DONE.value)
            )
            run_pairs = _revision_pairs(runs, lambda r: (r.model_key, r.scenario_name), lambda r: r.finished_at, since)
            recs = session.scalars(select(RecommendationRecord).where(RecommendationRecord.sweep_id == sweep_id))
            rec_pairs = _revision_pairs(recs, lambda r: (r.scenario_name, r.method), lambda r: r.created_at, since)
            run_changes = sorted(
                (RunChange(_run_revision(session, old), _run_revision(session, new)) for old, new in run_pairs),
                key=lambda c: order.key(c.new.model, c.new.scenario, Method.MAX_ACCURACY.value),
            )
            rec_changes = sorted(
                (RecommendationChange(old.revision, _recommendation_row(old), new.revision, _recommendation_row(new))
                 for old, new in rec_pairs),
                key=lambda c: order.key(None, c.new.scenario, c.new.method),
            )
            return Changes(sweep_id, tuple(run_changes), tuple(rec_changes))

    # --- sessions ---------------------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        """One write transaction: committed when the block ends, rolled back on any exception."""
        with self._writer() as session, session.begin():
            yield session

    @contextmanager
    def _reading(self) -> Iterator[Session]:
        with self._reader() as session, session.begin():
            yield session


# --- writing helpers ---------------------------------------------------------------------------


def _insert_sweep(
    session: Session, sweep: SweepSpec, blocks_per_shard: int | None, status: SweepStatus
) -> tuple[SweepRecord, list[RunRecord]]:
    """The sweep row, its simulations and its pending runs (in sweep order)."""
    n_blocks = first_round(sweep).stop  # all blocks, unless `trials: auto` (it adds rounds)
    n_shards = len(shard_ranges(n_blocks, blocks_per_shard or max(n_blocks, 1)))  # exact mode: none
    now = utc_now()
    record = SweepRecord(
        name=sweep.name, source=sweep.source, spec=sweep_to_dict(sweep), mode=sweep.mode.value,
        trials=sweep.trials, seed=sweep.seed, status=status.value, blocks_per_shard=blocks_per_shard,
        created_at=now, finished_at=now if status in FINAL_SWEEP_STATUSES else None,
    )
    session.add(record)
    session.flush()
    simulation_of: dict[tuple[str, str], SimulationRecord] = {}
    for group in simulation_groups(sweep):
        simulation = SimulationRecord(
            sweep_id=record.id, group_key=group.key, model_key=group.model.key,
            parallelism=group.parallelism, k_max=group.k_max, k_grid=group.k_grid.value,
            n_blocks=n_blocks, n_shards=n_shards,
        )
        session.add(simulation)
        for scenario in group.scenarios:
            simulation_of[group.model.key, scenario.name] = simulation
    session.flush()
    runs = [
        RunRecord(
            sweep_id=record.id, simulation_id=simulation_of[model.key, scenario.name].id,
            model_key=model.key, scenario_name=scenario.name, model=model_to_dict(model),
            scenario=scenario_to_dict(scenario), status=RunStatus.PENDING.value,
        )
        for model in sweep.models
        for scenario in sweep.scenarios
    ]
    session.add_all(runs)
    session.flush()
    return record, runs


def _match_runs(
    records: Sequence[RunRecord], results: Sequence[RunResult], what: str
) -> list[tuple[RunRecord, RunResult]]:
    """Pair run rows with engine results by (model, scenario); both sets must be the same."""
    by_key = {(r.model_key, r.scenario_name): r for r in records}
    result_keys = [(r.model.key, r.scenario.name) for r in results]
    if sorted(result_keys) != sorted(by_key):
        raise ValueError(
            f"{what}: results for {sorted(result_keys)} do not match the stored runs {sorted(by_key)}"
        )
    return [(by_key[key], result) for key, result in zip(result_keys, results)]


def _write_run_result(session: Session, run: RunRecord, result: RunResult, now: datetime) -> None:
    """A run's curve points and choices; the run becomes done."""
    curves, decision = result.curves, result.decision
    columns: dict[str, list[Any]] = {"k": curves.k.tolist()}
    for metric in METRICS:
        for stat in STATS:
            columns[f"{metric}_{stat}"] = getattr(getattr(curves, metric), stat).tolist()
    columns["feasible_probability"] = curves.feasible_probability.tolist()
    columns["feasible"] = decision.feasible.tolist()
    columns["on_frontier"] = decision.frontier.tolist()
    names = list(columns)
    session.execute(insert(CurvePointRecord), [
        {"run_id": run.id, **dict(zip(names, values))} for values in zip(*columns.values())
    ])
    session.execute(insert(ChoiceRecord), [
        {
            "run_id": run.id, "method": c.method.value, "status": c.status.value, "k": c.k,
            "total_cost": c.total_cost, "total_time": c.total_time, "accuracy": c.accuracy,
            "reason": c.reason, "confidence": c.confidence,
        }
        for c in decision.choices
    ])
    run.status, run.trials, run.finished_at = RunStatus.DONE.value, curves.trials, now
    run.stop_reason = result.stop_reason


def _write_recommendations(
    session: Session, sweep_id: int, recommendations: Iterable[Recommendation], revision: int = 1,
    now: datetime | None = None,
) -> None:
    now = now or utc_now()
    rows = [
        {
            "sweep_id": sweep_id, "scenario_name": r.scenario, "method": Method(r.method).value,
            "status": Status(r.status).value, "model_key": r.model, "k": r.k, "total_cost": r.total_cost,
            "total_time": r.total_time, "accuracy": r.accuracy, "reason": r.reason,
            "confidence": r.confidence, "revision": revision, "created_at": now,
        }
        for r in recommendations
    ]
    if rows:
        session.execute(insert(RecommendationRecord), rows)


def _insert_unless_present(session: Session, record_class: type, unique: tuple[str, ...], **values: Any) -> bool:
    """INSERT ... ON CONFLICT (unique) DO NOTHING; True if the row was inserted.

    RETURNING tells which happened (psycopg reports no rowcount for this statement).
    """
    table = record_class.__table__
    dialect_insert = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}[session.get_bind().dialect.name]
    statement = (
        dialect_insert(table).values(**values)
        .on_conflict_do_nothing(index_elements=unique)
        .returning(*table.primary_key.columns)
    )
    return session.execute(statement).first() is not None


# --- reading helpers ----------------------------------------------------------------------------


def _sweep_record(session: Session, sweep_id: int, lock: bool = False) -> SweepRecord:
    record = session.get(SweepRecord, sweep_id, with_for_update=lock)
    if record is None:
        raise NotFound(f"sweep {sweep_id} does not exist")
    return record


def _simulation(session: Session, sweep_id: int, group_key: str, lock: bool = False) -> SimulationRecord:
    query = select(SimulationRecord).where(SimulationRecord.sweep_id == sweep_id, SimulationRecord.group_key == group_key)
    simulation = session.scalar(query.with_for_update() if lock else query)
    if simulation is None:
        _sweep_record(session, sweep_id)
        known = session.scalars(select(SimulationRecord.group_key).where(SimulationRecord.sweep_id == sweep_id))
        raise NotFound(f"sweep {sweep_id} has no simulation group {group_key!r} (groups: {', '.join(known)})")
    return simulation


def _current_runs(session: Session, sweep_id: int, as_of: datetime | None = None) -> list[RunRecord]:
    """The highest revision of each (model, scenario) run of the sweep (finished by `as_of`)."""
    query = select(RunRecord).where(RunRecord.sweep_id == sweep_id)
    if as_of is not None:
        query = query.where(RunRecord.finished_at <= as_of)
    return _latest_runs(session.scalars(query))


def _latest_runs(records: Iterable[RunRecord]) -> list[RunRecord]:
    return _latest(records, lambda r: (r.model_key, r.scenario_name))


def _latest(records: Iterable[R], key: Callable[[R], Any]) -> list[R]:
    """Of records with the same key, the one with the highest `revision`."""
    best: dict[Any, R] = {}
    for record in records:
        k = key(record)
        if k not in best or record.revision > best[k].revision:  # type: ignore[attr-defined]
            best[k] = record
    return list(best.values())


def _load_curves(session: Session, run: RunRecord) -> tuple[Curves, np.ndarray, np.ndarray]:
    """A done run's Curves, feasible mask and frontier mask from its curve points."""
    if run.status != RunStatus.DONE:
        raise NotFound(f"run {run.model_key}/{run.scenario_name} has no curves yet (status {run.status})")
    table = CurvePointRecord
    rows = session.execute(
        select(table.k, table.feasible, table.on_frontier, *(getattr(table, c) for c in CURVE_FLOATS))
        .where(table.run_id == run.id)
        .order_by(table.k)
    ).all()
    k = np.array([r[0] for r in rows], dtype=np.int64)
    feasible = np.array([r[1] for r in rows], dtype=bool)
    frontier = np.array([r[2] for r in rows], dtype=bool)
    floats = np.array([r[3:] for r in rows], dtype=np.float64).reshape(len(rows), len(CURVE_FLOATS))
    column = {name: floats[:, i].copy() for i, name in enumerate(CURVE_FLOATS)}
    metrics = [MetricCurve(*(column[f"{m}_{s}"] for s in STATS)) for m in METRICS]
    curves = Curves(k, int(run.trials or 0), *metrics, column["feasible_probability"])
    return curves, feasible, frontier


class _SweepOrder:
    """The spec's model and scenario order, and checks that named ones exist."""

    def __init__(self, sweep: SweepRecord) -> None:
        self.sweep_id = sweep.id
        self.models = {m["key"]: i for i, m in enumerate(sweep.spec["models"])}
        self.scenarios = {s["name"]: i for i, s in enumerate(sweep.spec["scenarios"])}

    def key(self, model: str | None, scenario: str, method: str) -> tuple[int, int, int]:
        return (self.models.get(model, -1), self.scenarios[scenario], METHOD_ORDER[method])

    def check_model(self, model: str) -> None:
        if model not in self.models:
            raise NotFound(f"sweep {self.sweep_id} has no model {model!r} (models: {', '.join(self.models)})")

    def check_scenario(self, scenario: str) -> None:
        if scenario not in self.scenarios:
            raise NotFound(
                f"sweep {self.sweep_id} has no scenario {scenario!r} (scenarios: {', '.join(self.scenarios)})"
            )

    def select(self, runs: Iterable[RunRecord], model: str | None, scenario: str | None) -> list[RunRecord]:
        """Runs of the named model and scenario (None: any), in sweep order."""
        if model is not None:
            self.check_model(model)
        if scenario is not None:
            self.check_scenario(scenario)
        chosen = [
            r for r in runs
            if (model is None or r.model_key == model) and (scenario is None or r.scenario_name == scenario)
        ]
        return sorted(chosen, key=lambda r: (self.models[r.model_key], self.scenarios[r.scenario_name]))


# --- price and revision helpers -------------------------------------------------------------------

_PRICES_LOCK_ID = 0x1F5CA1F  # any constant, the same in every process that imports prices


def _lock(session: Session, lock_id: int) -> None:
    """Serialise this transaction with others taking the same lock (PostgreSQL advisory lock;
    SQLite's write transactions are serialised already, from BEGIN)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock_id})


def _prices_in_force(session: Session, at: datetime) -> list[ModelPriceRecord]:
    """Per model, the price version with the latest `effective_at` not after `at`."""
    records = session.scalars(select(ModelPriceRecord).where(ModelPriceRecord.effective_at <= at))
    best: dict[str, ModelPriceRecord] = {}
    for r in records:
        if r.model_key not in best or r.effective_at > best[r.model_key].effective_at:
            best[r.model_key] = r
    return list(best.values())


def _price_of(r: ModelPriceRecord) -> Prices:
    return Prices(r.c_in, r.c_out, r.t_in, r.t_out)


def _price_row(r: ModelPriceRecord) -> PriceRow:
    return PriceRow(r.model_key, _price_of(r), r.effective_at, r.source)


def _revision_pairs(
    records: Iterable[R], key: Callable[[R], Any], time: Callable[[R], datetime | None], since: datetime | None
) -> list[tuple[R, R]]:
    """(old, new) per key: new is the highest revision; old the highest in force at `since` (the
    first if none was), or without `since` the one before new. Keys whose old is new are left out."""
    by_key: dict[Any, list[R]] = {}
    for record in records:
        by_key.setdefault(key(record), []).append(record)
    pairs = []
    for revisions in by_key.values():
        revisions.sort(key=lambda r: r.revision)  # type: ignore[attr-defined]
        if since is None:
            old = revisions[-2] if len(revisions) > 1 else None
        else:
            old = next((r for r in reversed(revisions) if (time(r) or since) <= since), revisions[0])
        if old is not None and old is not revisions[-1]:
            pairs.append((old, revisions[-1]))
    return pairs


def _run_revision(session: Session, run: RunRecord) -> RunRevision:
    choices = session.scalars(select(ChoiceRecord).where(ChoiceRecord.run_id == run.id))
    rows = sorted((_choice_row(run.sweep_id, run, c) for c in choices), key=lambda c: METHOD_ORDER[c.method])
    return RunRevision(
        run.sweep_id, run.model_key, run.scenario_name, run.revision, run.finished_at,
        prices_of(model_from_dict(run.model)), tuple(rows),
    )


# --- rows -----------------------------------------------------------------------------------------


def _sweep_row(r: SweepRecord) -> SweepRow:
    return SweepRow(r.id, r.name, r.source, r.status, r.mode, r.trials, r.seed, r.created_at, r.finished_at, r.error)


def _choice_row(sweep_id: int, run: RunRecord, c: ChoiceRecord) -> ChoiceRow:
    return ChoiceRow(
        sweep_id, run.id, run.model_key, run.scenario_name, c.method, c.status, c.k,
        c.total_cost, c.total_time, c.accuracy, c.reason, c.confidence, run.trials, run.stop_reason,
    )


def _choice(c: ChoiceRecord) -> Choice:
    return Choice(
        Method(c.method), Status(c.status), c.k, c.total_cost, c.total_time, c.accuracy, c.reason, c.confidence
    )


def _recommendation_row(r: RecommendationRecord) -> RecommendationRow:
    return RecommendationRow(
        r.sweep_id, r.scenario_name, r.method, r.status, r.model_key, r.k,
        r.total_cost, r.total_time, r.accuracy, r.reason, r.confidence,
    )
