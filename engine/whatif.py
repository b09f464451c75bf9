"""What-if budgets: decide a finished sweep again under new budgets, with no simulation.

The budgets of the paper's method apply to the Monte Carlo means of cost, time and accuracy,
and the simulation itself never reads them (its random streams depend on the seed, the model
and the block only). So the curves of a finished run hold everything a decision under other
budgets needs: `decide_again` calls the same `engine.selection.decide` and
`engine.pipeline.recommend_all` as a run, and gives what a fresh run of the same sweep with
those budgets would give. A chance constraint (`min_probability`) is the exception: the share
of trials meeting all budgets was counted per trial for the stored budgets only, so moving a
budget of such a scenario is refused. Work: one decision per run, O(runs x K log K), and with
the trial blocks at hand the confidence's bootstrap (engine.confidence) for the moved runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Mapping, Sequence

from infscale.engine.errors import InfscaleError, SpecError
from infscale.engine.pipeline import RunResult, SweepResult, decide_group, knee_variant, order_runs, recommend_scenario
from infscale.engine.plan import simulation_groups
from infscale.engine.selection import decide
from infscale.engine.specs import Mode, ScenarioSpec, SweepSpec
from infscale.engine.statistics import Partial

SOURCE = "budgets"
"""What a bad budget's error message names as its source."""


class BudgetError(InfscaleError):
    """New budgets that the stored curves cannot answer (a chance constraint)."""


@dataclass(frozen=True)
class Budgets:
    """New budgets; None keeps the scenario's own."""

    max_total_cost: float | None = None
    max_total_time: float | None = None
    min_accuracy: float | None = None
    accuracy_tolerance: float | None = None  # max accuracy's indifference zone, where scenarios have one

    def __post_init__(self) -> None:
        for name, lo, hi, open_lo in (
            ("max_total_cost", 0.0, math.inf, True),
            ("max_total_time", 0.0, math.inf, True),
            ("min_accuracy", 0.0, 1.0, False),
            ("accuracy_tolerance", 0.0, 1.0, False),
        ):
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise SpecError(SOURCE, name, f"must be a finite number, got {value!r}")
            if value < lo or (open_lo and value == lo) or value > hi:
                bound = f"> {lo:g}" if hi == math.inf else f"in [{lo:g}, {hi:g}]"
                raise SpecError(SOURCE, name, f"must be {bound}, got {value:g}")


def with_budgets(scenario: ScenarioSpec, budgets: Budgets) -> ScenarioSpec:
    """The scenario with `budgets` applied; refused for a chance constraint whose budgets move."""
    names = {f.name for f in fields(ScenarioSpec)}
    changes = {
        f.name: getattr(budgets, f.name) for f in fields(Budgets) if getattr(budgets, f.name) is not None
    }
    unknown = sorted(set(changes) - names)
    if unknown:
        raise SpecError(SOURCE, unknown[0], "is not a budget of this version's scenarios")
    new = replace(scenario, **changes)
    moved = [
        name for name in ("max_total_cost", "max_total_time", "min_accuracy")
        if getattr(new, name) != getattr(scenario, name)
    ]
    if scenario.min_probability is not None and moved:
        raise BudgetError(
            f"scenario {scenario.name!r} has a chance constraint (min_probability {scenario.min_probability:g}): "
            f"the share of trials meeting new budgets ({', '.join(moved)}) needs the per-trial draws, "
            "which are not stored; run the sweep again with these budgets"
        )
    return new


def decide_again(
    sweep: SweepSpec,
    runs: Sequence[RunResult],
    budgets: Budgets | Mapping[str, Budgets],
    partials: Mapping[str, Partial] | None = None,
    confidence: bool = True,
) -> SweepResult:
    """Every run, and the cross-model recommendations of the scenarios `budgets` names, decided
    under new budgets.

    `budgets` applies to every scenario, or maps scenario names to their own (scenarios not
    named keep theirs, and their stored recommendations stand). A choice whose scenario is
    unchanged is kept as it was. A moved one is decided by `engine.pipeline.decide_group`, as a
    run decides, with its confidence when `partials` holds its simulation group's merged
    partial statistics (group key -> Partial: the trial blocks the confidence resamples);
    without them its confidence is None. Recommendations come from
    `engine.pipeline.recommend_scenario`, as a run's, with their confidence (from the curves'
    standard errors) unless `confidence` is False; the picks are the same either way.
    """
    per_scenario = {s.name: budgets for s in sweep.scenarios} if isinstance(budgets, Budgets) else dict(budgets)
    if sweep.mode is Mode.LEGACY and any(b.accuracy_tolerance not in (None, 0.0) for b in per_scenario.values()):
        raise SpecError(SOURCE, "accuracy_tolerance", "legacy mode keeps the notebook's argmax (tolerance 0)")
    unknown = sorted(set(per_scenario) - {s.name for s in sweep.scenarios})
    if unknown:
        known = ", ".join(s.name for s in sweep.scenarios)
        raise SpecError(SOURCE, "scenario", f"sweep {sweep.name!r} has no scenario {unknown[0]!r} (scenarios: {known})")
    new_sweep = replace(sweep, scenarios=tuple(
        with_budgets(s, per_scenario[s.name]) if s.name in per_scenario else s for s in sweep.scenarios
    ))
    by_key = {(r.model.key, r.scenario.name): r for r in runs}
    decided: dict[tuple[str, str], RunResult] = {}
    for group in simulation_groups(new_sweep):
        mine = [(s, by_key.get((group.model.key, s.name))) for s in group.scenarios]
        if all(run is None or run.scenario == s for s, run in mine):
            decided.update({(group.model.key, s.name): run for s, run in mine if run is not None})
            continue
        merged = (partials or {}).get(group.key) if confidence else None
        if merged is not None and all(run is not None for _, run in mine):
            decisions = decide_group(new_sweep, group, merged, [run.curves for _, run in mine])
        else:
            variant = knee_variant(sweep)
            decisions = [None if run is None else decide(run.curves, s, variant) for s, run in mine]
        for (s, run), decision in zip(mine, decisions):
            if run is not None:
                decided[group.model.key, s.name] = replace(run, scenario=s, decision=decision)
    ordered = order_runs(new_sweep, decided.values())
    recs = [
        rec for scenario in new_sweep.scenarios if scenario.name in per_scenario
        for rec in recommend_scenario(new_sweep, scenario, ordered, confidence)
    ]
    return SweepResult(ordered, tuple(recs))
