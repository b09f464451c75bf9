"""The engine's data flow, one named function per arrow.

sweep -> simulation groups -> (blocks of) partials -> merged partial -> curves and decisions
per run -> cross-model recommendations. The local runner, the Celery workers and the tests
all compose these same functions; only where partials are computed and kept differs.

A group simulates its blocks in rounds (`first_round`, then `advance_group` says what comes
next): one round of all blocks for a fixed trial count, rounds until the decisions are sure
enough for `trials: auto` (engine.adaptive).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable, Sequence

from infscale.engine.adaptive import stop_reason
from infscale.engine.confidence import with_confidence
from infscale.engine.recommendation_confidence import with_recommendation_confidence
from infscale.engine.exact_curves import exact_curves
from infscale.engine.intervals import with_bounded_accuracy_se
from infscale.engine.legacy import simulate_legacy
from infscale.engine.plan import SimulationGroup, block_plan, first_round, is_round_end, next_round, simulation_groups
from infscale.engine.results import RunResult, SweepResult
from infscale.engine.selection import Decision, Recommendation, decide, recommend
from infscale.engine.simulation import simulate_blocks
from infscale.engine.specs import Knee, Latency, Mode, ScenarioSpec, SweepSpec
from infscale.engine.statistics import Curves, Partial, bins_for, merge, summarize


@dataclass(frozen=True)
class GroupStep:
    """A group's runs decided on its blocks so far, and the blocks it needs next (None: done)."""

    runs: list[RunResult]
    next_blocks: range | None


def knee_variant(sweep: SweepSpec) -> Knee:
    """The sweep's knee; legacy mode always has the notebook's."""
    return Knee.CURVATURE_2D if sweep.mode is Mode.LEGACY else sweep.knee


def simulate_shard(sweep: SweepSpec, group: SimulationGroup, blocks: Iterable[int]) -> Partial:
    """Partial statistics of some blocks of a group (legacy mode has exactly one block)."""
    bins = bins_for(group)
    plan = block_plan(sweep)
    if sweep.mode is Mode.LEGACY:
        if group.latency is not Latency.PAPER or group.model.accuracy_model.is_correctness or group.model.is_empirical:
            raise ValueError("legacy mode has only the paper latency and gaussian_best_of_k accuracy")
        if list(blocks) != [0]:
            raise ValueError("legacy mode runs as a single block 0")
        return simulate_legacy(group, sweep.seed, sweep.trials, bins)
    return simulate_blocks(group, sweep.seed, plan, blocks, bins)


def advance_group(sweep: SweepSpec, group: SimulationGroup, partials: Sequence[Partial]) -> GroupStep:
    """Merge a group's partials (blocks [0, n) for some whole number of rounds), decide each of
    its scenarios, say how sure each decision is (engine.confidence; legacy mode's single block
    gives None) and whether the group needs another round."""
    merged = merge(partials)
    done = merged.n_blocks
    last = merged.blocks[-1] + (merged.spans[-1] if merged.spans is not None else 1)
    if merged.blocks[0] != 0 or last != done or not is_round_end(sweep, done):
        raise ValueError(f"{group.key}: blocks {merged.blocks.tolist()} are not whole rounds")
    curves = summarize(merged, group, bins_for(group), ddof=0 if sweep.mode is Mode.LEGACY else 1)
    if sweep.mode is Mode.STANDARD:  # legacy reports the notebook's statistics as they are
        # The group's scenarios share the metric curves: bound the accuracy's once for all.
        accuracy = with_bounded_accuracy_se(curves[0]).accuracy
        curves = [replace(c, accuracy=accuracy) for c in curves]
    decisions = decide_group(sweep, group, merged, curves)
    runs = [RunResult(group.model, scenario, c, d) for scenario, c, d in zip(group.scenarios, curves, decisions)]
    if sweep.adaptive is None:
        return GroupStep(runs, None)
    reason = stop_reason(sweep, done, group.scenarios, decisions)
    if reason is None:
        return GroupStep(runs, next_round(sweep, done))
    return GroupStep([replace(r, stop_reason=reason) for r in runs], None)


def decide_group(sweep: SweepSpec, group: SimulationGroup, merged: Partial, curves: Sequence[Curves]) -> list[Decision]:
    """Each scenario of a group decided on its curves (in scenario order), with how sure each
    choice is (engine.confidence) from the group's merged partial statistics."""
    variant = knee_variant(sweep)
    decisions = [decide(c, scenario, variant) for scenario, c in zip(group.scenarios, curves)]
    return with_confidence(merged, group, decisions, sweep.seed, variant)


def finish_group(sweep: SweepSpec, group: SimulationGroup, partials: Sequence[Partial]) -> list[RunResult]:
    """The runs of a group whose last round is in `partials` (`advance_group` needs no more)."""
    step = advance_group(sweep, group, partials)
    if step.next_blocks is not None:
        raise ValueError(f"{group.key}: not finished, it needs blocks {step.next_blocks.start} to {step.next_blocks.stop - 1}")
    return step.runs


def order_runs(sweep: SweepSpec, runs: Iterable[RunResult]) -> tuple[RunResult, ...]:
    """Runs in sweep order: by model as listed, then scenario as listed."""
    m_index = {m.key: i for i, m in enumerate(sweep.models)}
    s_index = {s.name: i for i, s in enumerate(sweep.scenarios)}
    return tuple(sorted(runs, key=lambda r: (m_index[r.model.key], s_index[r.scenario.name])))


def recommend_all(
    sweep: SweepSpec, runs: Sequence[RunResult], scenarios: Sequence[ScenarioSpec] | None = None,
) -> tuple[Recommendation, ...]:
    """Cross-model recommendations for every scenario of the sweep (or of `scenarios`, from
    their runs: a reader may bring a few scenarios' runs at a time)."""
    by_scenario: dict[str, list[RunResult]] = {}
    for run in order_runs(sweep, runs):  # each scenario's runs once, not a pass over all runs per scenario
        by_scenario.setdefault(run.scenario.name, []).append(run)
    return tuple(
        rec for scenario in (sweep.scenarios if scenarios is None else scenarios)
        for rec in recommend_scenario(sweep, scenario, by_scenario.get(scenario.name, []))
    )


def recommend_scenario(
    sweep: SweepSpec, scenario: ScenarioSpec, ordered: Sequence[RunResult], confidence: bool = True
) -> list[Recommendation]:
    """One scenario's cross-model recommendations from runs in sweep order, with their
    confidence unless `confidence` is False (the picks are the same either way)."""
    per_model = [(r.model.key, r.curves, r.decision) for r in ordered if r.scenario.name == scenario.name]
    recs = recommend(scenario, per_model, knee_variant(sweep))
    if confidence and sweep.mode is Mode.STANDARD:  # legacy's single block and exact mode have no confidence
        recs = with_recommendation_confidence(scenario, per_model, recs, knee_variant(sweep), sweep.seed)
    return list(recs)


def run_exact(sweep: SweepSpec) -> SweepResult:
    """`mode: exact`: every run decided from exact expectations (engine.exact_curves), no sampling."""
    runs: list[RunResult] = []
    variant = knee_variant(sweep)
    for group in simulation_groups(sweep):
        for scenario, curves in zip(group.scenarios, exact_curves(group)):
            runs.append(RunResult(group.model, scenario, curves, decide(curves, scenario, variant)))
    ordered = order_runs(sweep, runs)
    return SweepResult(ordered, recommend_all(sweep, ordered))


def run_sweep(sweep: SweepSpec) -> SweepResult:
    """The whole sweep serially in this process (the reference the parallel runners must match)."""
    if sweep.mode is Mode.EXACT:
        return run_exact(sweep)
    runs: list[RunResult] = []
    for group in simulation_groups(sweep):
        partials: list[Partial] = []
        blocks: range | None = first_round(sweep)
        while blocks is not None:
            partials.append(simulate_shard(sweep, group, blocks))
            step = advance_group(sweep, group, partials)
            blocks = step.next_blocks
        runs.extend(step.runs)
    ordered = order_runs(sweep, runs)
    return SweepResult(ordered, recommend_all(sweep, ordered))
