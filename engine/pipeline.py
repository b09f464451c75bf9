"""The engine's data flow, one named function per arrow.

sweep -> simulation groups -> (blocks of) partials -> merged partial -> curves and decisions
per run -> cross-model recommendations. The local runner, the Celery workers and the tests
all compose these same functions; only where partials are computed and kept differs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from engine.confidence import with_confidence
from engine.legacy import simulate_legacy
from engine.plan import SimulationGroup, block_plan, simulation_groups
from engine.selection import Decision, KneeVariant, Recommendation, decide, recommend
from engine.simulation import simulate_blocks
from engine.specs import Latency, Mode, ModelSpec, ScenarioSpec, SweepSpec
from engine.statistics import Curves, Partial, bins_for, merge, summarize


@dataclass(frozen=True)
class RunResult:
    """One model under one scenario: its curves and its decision."""

    model: ModelSpec
    scenario: ScenarioSpec
    curves: Curves
    decision: Decision


@dataclass(frozen=True)
class SweepResult:
    runs: tuple[RunResult, ...]  # model-major, in sweep order
    recommendations: tuple[Recommendation, ...]  # scenario-major, then Method order


def knee_variant(mode: Mode) -> KneeVariant:
    return KneeVariant.LEGACY_2D if mode is Mode.LEGACY else KneeVariant.CURVATURE_3D


def simulate_shard(sweep: SweepSpec, group: SimulationGroup, blocks: Iterable[int]) -> Partial:
    """Partial statistics of some blocks of a group (legacy mode has exactly one block)."""
    bins = bins_for(group)
    plan = block_plan(sweep)
    if sweep.mode is Mode.LEGACY:
        if group.latency is not Latency.PAPER or group.model.accuracy_model.is_correctness:
            raise ValueError("legacy mode has only the paper latency and gaussian_best_of_k accuracy")
        if list(blocks) != [0]:
            raise ValueError("legacy mode runs as a single block 0")
        return simulate_legacy(group, sweep.seed, sweep.trials, bins)
    return simulate_blocks(group, sweep.seed, plan, blocks, bins)


def finish_group(sweep: SweepSpec, group: SimulationGroup, partials: Sequence[Partial]) -> list[RunResult]:
    """Merge a group's partials (all of its blocks), decide each of its scenarios and say how
    sure each decision is (engine.confidence; legacy mode's single block gives None)."""
    merged = merge(partials)
    expected = block_plan(sweep).n_blocks
    if merged.blocks.size != expected:
        raise ValueError(f"{group.key}: {merged.blocks.size} of {expected} blocks present")
    curves = summarize(merged, group, bins_for(group), ddof=0 if sweep.mode is Mode.LEGACY else 1)
    variant = knee_variant(sweep.mode)
    decisions = [decide(c, scenario, variant) for scenario, c in zip(group.scenarios, curves)]
    decisions = with_confidence(merged, group, decisions, sweep.seed, variant)
    return [
        RunResult(group.model, scenario, c, d)
        for scenario, c, d in zip(group.scenarios, curves, decisions)
    ]


def order_runs(sweep: SweepSpec, runs: Iterable[RunResult]) -> tuple[RunResult, ...]:
    """Runs in sweep order: by model as listed, then scenario as listed."""
    m_index = {m.key: i for i, m in enumerate(sweep.models)}
    s_index = {s.name: i for i, s in enumerate(sweep.scenarios)}
    return tuple(sorted(runs, key=lambda r: (m_index[r.model.key], s_index[r.scenario.name])))


def recommend_all(sweep: SweepSpec, runs: Sequence[RunResult]) -> tuple[Recommendation, ...]:
    """Cross-model recommendations for every scenario of the sweep."""
    ordered = order_runs(sweep, runs)
    out: list[Recommendation] = []
    for scenario in sweep.scenarios:
        per_model = [(r.model.key, r.curves, r.decision) for r in ordered if r.scenario.name == scenario.name]
        out.extend(recommend(scenario, per_model, knee_variant(sweep.mode)))
    return tuple(out)


def run_sweep(sweep: SweepSpec) -> SweepResult:
    """The whole sweep serially in this process (the reference the parallel runners must match)."""
    runs: list[RunResult] = []
    n_blocks = block_plan(sweep).n_blocks
    for group in simulation_groups(sweep):
        runs.extend(finish_group(sweep, group, [simulate_shard(sweep, group, range(n_blocks))]))
    ordered = order_runs(sweep, runs)
    return SweepResult(ordered, recommend_all(sweep, ordered))
