"""What-if budgets: decide a finished sweep again under new budgets, with no simulation.

The budgets of the paper's method apply to the Monte Carlo means of cost, time and accuracy,
and the simulation itself never reads them (its random streams depend on the seed, the model
and the block only). So the curves of a finished run hold everything a decision under other
budgets needs: `decide_again` calls the same `engine.selection.decide` and
`engine.pipeline.recommend_all` as a run, and gives what a fresh run of the same sweep with
those budgets would give. A chance constraint (`min_probability`) is the exception: the share
of trials meeting all budgets was counted per trial for the stored budgets only, so moving a
budget of such a scenario is refused. Work: one decision per run, O(runs x K log K).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Mapping, Sequence

from infscale.engine.errors import InfscaleError, SpecError
from infscale.engine.pipeline import RunResult, SweepResult, knee_variant, recommend_all
from infscale.engine.selection import decide
from infscale.engine.specs import Mode, ScenarioSpec, SweepSpec

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
    sweep: SweepSpec, runs: Sequence[RunResult], budgets: Budgets | Mapping[str, Budgets]
) -> SweepResult:
    """Every run and every cross-model recommendation decided under new budgets.

    `budgets` applies to every scenario, or maps scenario names to their own (scenarios not
    named keep theirs). A choice whose scenario is unchanged keeps its confidence; a moved one
    has none (the confidence needs the trial blocks, not only the curves).
    """
    per_scenario = {s.name: budgets for s in sweep.scenarios} if isinstance(budgets, Budgets) else dict(budgets)
    if sweep.mode is Mode.LEGACY and any(b.accuracy_tolerance not in (None, 0.0) for b in per_scenario.values()):
        raise SpecError(SOURCE, "accuracy_tolerance", "legacy mode keeps the notebook's argmax (tolerance 0)")
    unknown = sorted(set(per_scenario) - {s.name for s in sweep.scenarios})
    if unknown:
        known = ", ".join(s.name for s in sweep.scenarios)
        raise SpecError(SOURCE, "scenario", f"sweep {sweep.name!r} has no scenario {unknown[0]!r} (scenarios: {known})")
    scenarios = {
        s.name: with_budgets(s, per_scenario[s.name]) if s.name in per_scenario else s for s in sweep.scenarios
    }
    variant = knee_variant(sweep.mode)
    decided = []
    for run in runs:
        scenario = scenarios[run.scenario.name]
        if scenario == run.scenario:
            decided.append(run)
            continue
        decided.append(replace(run, scenario=scenario, decision=decide(run.curves, scenario, variant)))
    new_sweep = replace(sweep, scenarios=tuple(scenarios[s.name] for s in sweep.scenarios))
    return SweepResult(tuple(decided), recommend_all(new_sweep, decided))
