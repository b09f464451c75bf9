"""Results in SQL: choices, recommendations, curves and runs of finished sweeps, as stored.

Runs and recommendations carry a revision; queries read the highest revision of each, or the
highest one in force at a given time (`as_of`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Sequence

from sqlalchemy import func, select

from infscale.engine.results import RunResult
from infscale.engine.selection import Decision
from infscale.engine.specs import ModelSpec
from infscale.readers.stored_specs import model_from_dict, scenario_from_dict
from infscale.storage.errors import NotFound
from infscale.storage.records import (
    METHOD_RANK,
    SqlSessions,
    sweep_order,
    choice_of,
    choice_row,
    current_runs,
    latest_revisions,
    load_curves,
    load_many_curves,
    recommendation_row,
)
from infscale.storage.rows import ChoiceRow, RecommendationRow, RunModel, RunStatus, StoredCurves
from infscale.storage.tables import ChoiceRecord, RecommendationRecord, RunRecord


class SqlResults(SqlSessions):
    """The results part of `SqlStore` (see storage.interface.Storage)."""

    def choices(
        self, sweep_id: int, model: str | None = None, scenario: str | None = None, as_of: datetime | None = None
    ) -> list[ChoiceRow]:
        """Choices of the sweep's finished runs: by model, then scenario (as in the spec), then method.

        `as_of`: the revision of each run in force at that time (none for runs finished later).
        """
        with self._reading() as session:
            order = sweep_order(session, sweep_id)
            runs = {r.id: r for r in order.select(current_runs(session, sweep_id, as_of), model, scenario)}
            records = session.scalars(select(ChoiceRecord).where(ChoiceRecord.run_id.in_(runs)))
            rows = [choice_row(sweep_id, runs[c.run_id], c) for c in records]
            return sorted(rows, key=lambda c: order.key(c.model, c.scenario, c.method))

    def recommendations(
        self, sweep_id: int, scenario: str | None = None, as_of: datetime | None = None
    ) -> list[RecommendationRow]:
        """Cross-model recommendations, by scenario (as in the spec), then method (`as_of`: the
        revision in force at that time)."""
        with self._reading() as session:
            order = sweep_order(session, sweep_id)
            query = select(RecommendationRecord).where(RecommendationRecord.sweep_id == sweep_id)
            if as_of is not None:
                query = query.where(RecommendationRecord.created_at <= as_of)
            if scenario is not None:
                order.check_scenario(scenario)
                query = query.where(RecommendationRecord.scenario_name == scenario)
            records = latest_revisions(session.scalars(query), lambda r: (r.scenario_name, r.method))
            rows = [recommendation_row(r) for r in records]
            return sorted(rows, key=lambda r: order.key(None, r.scenario, r.method))

    def curves(self, sweep_id: int, model: str, scenario: str) -> StoredCurves:
        """One finished run's curves, feasible set and frontier, as computed."""
        with self._reading() as session:
            order = sweep_order(session, sweep_id)
            runs = order.select(current_runs(session, sweep_id), model, scenario)
            if not runs:
                raise NotFound(f"sweep {sweep_id} has no run of model {model!r} under scenario {scenario!r}")
            run = runs[0]
            curves, feasible, frontier = load_curves(session, run)
            accuracy_model = model_from_dict(run.model).accuracy_model.value
            return StoredCurves(run.id, model, scenario, curves, feasible, frontier, accuracy_model)

    def run_results(self, sweep_id: int, scenarios: Sequence[str] | None = None) -> tuple[RunResult, ...]:
        """The sweep's finished runs rebuilt as engine results, in sweep order (`scenarios`:
        only the runs of these scenarios).

        What `engine.pipeline.recommend_all` needs once every group has been finished,
        possibly by different workers.
        """
        wanted = None if scenarios is None else set(scenarios)
        with self._reading() as session:
            order = sweep_order(session, sweep_id)
            runs = [
                r for r in order.select(current_runs(session, sweep_id), None, None)
                if r.status == RunStatus.DONE and (wanted is None or r.scenario_name in wanted)
            ]
            curves_of = load_many_curves(session, runs)  # one query for all runs' curves, one for their choices
            choices: dict[int, list[ChoiceRecord]] = {run.id: [] for run in runs}
            for c in session.scalars(select(ChoiceRecord).where(ChoiceRecord.run_id.in_(list(choices)))):
                choices[c.run_id].append(c)
            out = []
            for run in runs:
                curves, feasible, frontier = curves_of[run.id]
                decision = Decision(feasible, frontier, tuple(
                    choice_of(c) for c in sorted(choices[run.id], key=lambda c: METHOD_RANK[c.method])
                ))
                out.append(RunResult(
                    model_from_dict(run.model), scenario_from_dict(run.scenario), curves, decision, run.stop_reason
                ))
            return tuple(out)

    def run_models(self, sweep_id: int) -> list[RunModel]:
        """The current revision of each of the sweep's done runs and the model it used, in sweep order."""
        with self._reading() as session:
            order = sweep_order(session, sweep_id)
            return [
                RunModel(r.model_key, r.scenario_name, r.revision, model_from_dict(r.model))
                for r in order.select(current_runs(session, sweep_id), None, None)
                if r.status == RunStatus.DONE
            ]

    def stored_models(self) -> dict[str, ModelSpec]:
        """model key -> the model (prices, litellm_key, ...) of its most recently stored run."""
        with self._reading() as session:
            latest = select(func.max(RunRecord.id)).group_by(RunRecord.model_key)
            records = session.scalars(select(RunRecord).where(RunRecord.id.in_(latest)).order_by(RunRecord.model_key))
            return {r.model_key: model_from_dict(r.model) for r in records}
