"""The knee (sweep key `knee`, default `chord`; science.md section 7): the frontier point farthest
above the chord from the scenario's corner (0, 0, min_accuracy) to the maximal-accuracy pick,
in budget-normalised coordinates.

- Grid invariance: `k_grid: all` and `k_grid: multiples` give knees within one grid step (P), on
  exact curves for every bundled model and scenario, and on Monte Carlo curves for four models.
- Seed stability: 3 seeds x 3 trial counts (4,096, 32,768, 262,144) within one grid step, four
  models (slow: one 262,144-trial simulation per model and seed, its first blocks giving the
  smaller counts).
- Against the literature on the same frontiers: kneed's Kneedle is the same geometric rule with
  the chord anchored at the frontier's own first point and the frontier's min-max normalisation
  (we reproduce its knee with that anchor), which is why it moves with the grid's first k;
  pymoo's HighTradeoffPoints measures trade-offs between neighbours, like the paper's discrete
  curvature, and lands on the frontier's first point (the steepest end) in every case here.
"""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pytest

from infscale.engine.exact_curves import exact_curves
from infscale.engine.pipeline import simulate_shard
from infscale.engine.selection import Method, Status, chord_knee_position, decide
from infscale.engine.specs import KGrid, Knee, Mode
from infscale.engine.statistics import bins_for, merge, summarize
from tests.engine_fixtures import PAPER_MODELS, PAPER_SCENARIOS, make_sweep, only_group
from tests.test_specs import SWEEP, load_sweep, spec_error, sweep_text

FOUR = ("gpt5-mini", "gpt5-nano", "qwen3-next-80b-a3b", "qwen3-30b-a3b")
CASES = [(m, s) for s in PAPER_SCENARIOS for m in PAPER_MODELS]


def exact_decision(model_key: str, scenario):
    (curves,) = exact_curves(only_group(make_sweep([PAPER_MODELS[model_key]], [scenario], 0, mode=Mode.EXACT)))
    return curves, decide(curves, scenario)


def knee_k(decision) -> int | None:
    return decision.choice(Method.KNEE).k


@pytest.mark.parametrize("model_key, scenario_name", CASES)
def test_exact_knee_is_the_same_on_both_grids_within_one_step(model_key: str, scenario_name: str) -> None:
    scenario = PAPER_SCENARIOS[scenario_name]
    _, multiples = exact_decision(model_key, replace(scenario, k_grid=KGrid.MULTIPLES))
    _, every = exact_decision(model_key, replace(scenario, k_grid=KGrid.ALL))
    if knee_k(multiples) is not None:
        assert knee_k(every) is not None
        assert abs(knee_k(every) - knee_k(multiples)) <= scenario.parallelism, (knee_k(every), knee_k(multiples))


def monte_carlo_knees(model_key: str, scenario, seed: int, block_counts: tuple[int, ...]) -> list[int | None]:
    """The knee on the first n blocks of one simulation, for each n of `block_counts`."""
    sweep = make_sweep([PAPER_MODELS[model_key]], [scenario], 1024 * block_counts[-1], seed)
    group = only_group(sweep)
    edges = (0, *block_counts)
    parts = [simulate_shard(sweep, group, range(a, b)) for a, b in zip(edges, edges[1:])]
    out = []
    for n in range(1, len(parts) + 1):
        (curves,) = summarize(merge(parts[:n]), group, bins_for(group))
        out.append(knee_k(decide(curves, scenario)))
    return out


@pytest.mark.parametrize("model_key", FOUR)
def test_monte_carlo_knee_is_the_same_on_both_grids_within_one_step(model_key: str) -> None:
    scenario = PAPER_SCENARIOS["balanced"]
    (multiples,) = monte_carlo_knees(model_key, scenario, seed=1, block_counts=(32,))
    (every,) = monte_carlo_knees(model_key, replace(scenario, k_grid=KGrid.ALL), seed=1, block_counts=(32,))
    assert abs(every - multiples) <= scenario.parallelism


@pytest.mark.slow
@pytest.mark.parametrize("model_key", FOUR)
def test_knee_is_stable_over_seeds_and_trial_counts(model_key: str) -> None:
    scenario = PAPER_SCENARIOS["balanced"]
    knees = [k for seed in range(3) for k in monte_carlo_knees(model_key, scenario, seed, (4, 32, 256))]
    _, exact = exact_decision(model_key, scenario)
    assert None not in knees
    assert max(knees) - min(knees) <= scenario.parallelism, knees
    assert max(abs(k - knee_k(exact)) for k in knees) <= scenario.parallelism, (knees, knee_k(exact))


def comparable_frontiers():
    """(model key, scenario name, decision, k, cn, tn, a) of every exact case whose frontier up
    to the maximal-accuracy pick has at least 3 points."""
    for model_key, scenario_name in CASES:
        scenario = PAPER_SCENARIOS[scenario_name]
        curves, decision = exact_decision(model_key, scenario)
        if decision.choice(Method.MAX_ACCURACY).status is not Status.OK:
            continue
        k, cn, tn, a = truncated_frontier(curves, decision, scenario)
        if k.size >= 3:
            yield model_key, scenario_name, decision, k, cn, tn, a


def truncated_frontier(curves, decision, scenario):
    """The frontier up to the maximal-accuracy pick, normalised: what the chord knee reads."""
    best = decision.choice(Method.MAX_ACCURACY).k
    on = decision.frontier & (curves.k <= best)
    cn = curves.cost.mean[on] / scenario.max_total_cost
    tn = curves.time.mean[on] / scenario.max_total_time
    return curves.k[on], cn, tn, curves.accuracy.mean[on]


def test_kneed_is_the_chord_knee_anchored_at_the_frontiers_first_point() -> None:
    kneed = pytest.importorskip("kneed", reason="kneed is a test dependency (pip install -e '.[test]')")
    compared, differ = 0, 0
    for model_key, scenario_name, decision, k, cn, _, a in comparable_frontiers():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # kneed warns when it finds no knee
            found = kneed.KneeLocator(cn, a, curve="concave", direction="increasing").knee
        if found is None:
            continue
        theirs = int(k[np.argmin(np.abs(cn - found))])
        # Kneedle: min-max normalise, then the largest gap above the diagonal from the first point.
        xn, yn = (cn - cn[0]) / (cn[-1] - cn[0]), (a - a[0]) / (a[-1] - a[0])
        pos = chord_knee_position(np.column_stack((xn, np.zeros_like(xn), yn)), np.zeros(3))
        assert int(k[pos]) == theirs, (model_key, scenario_name)
        compared += 1
        differ += knee_k(decision) != theirs
    # Same rule, other anchor: where the frontier starts at the grid's first k, they differ.
    assert compared >= 12 and differ >= 6


def test_kneed_moves_with_the_grid_start_where_the_chord_knee_does_not() -> None:
    kneed = pytest.importorskip("kneed", reason="kneed is a test dependency (pip install -e '.[test]')")
    scenario = PAPER_SCENARIOS["balanced"]
    knees = {}
    for grid in (KGrid.MULTIPLES, KGrid.ALL):
        s = replace(scenario, k_grid=grid)
        curves, decision = exact_decision("gpt5-nano", s)
        k, cn, _, a = truncated_frontier(curves, decision, s)
        found = kneed.KneeLocator(cn, a, curve="concave", direction="increasing").knee
        knees[grid] = (int(k[np.argmin(np.abs(cn - found))]), knee_k(decision))
    (kneed_multiples, ours_multiples), (kneed_all, ours_all) = knees[KGrid.MULTIPLES], knees[KGrid.ALL]
    assert abs(kneed_multiples - kneed_all) > scenario.parallelism
    assert abs(ours_multiples - ours_all) <= scenario.parallelism


def test_pymoo_high_tradeoff_points_land_on_the_frontiers_first_point() -> None:
    high_tradeoff = pytest.importorskip("pymoo.mcdm.high_tradeoff", reason="pymoo is a test dependency")
    compared = 0
    for model_key, scenario_name, decision, k, cn, tn, a in comparable_frontiers():
        picked = np.atleast_1d(high_tradeoff.HighTradeoffPoints()(np.column_stack((cn, tn, -a))))
        assert [int(k[i]) for i in picked] == [int(k[0])], (model_key, scenario_name)
        assert knee_k(decision) >= k[0]
        compared += 1
    assert compared >= 12


def test_knee_key_is_read_and_legacy_refuses_it() -> None:
    assert load_sweep(sweep_text()).knee is Knee.CHORD
    assert load_sweep(sweep_text(knee="curvature")).knee is Knee.CURVATURE
    assert spec_error(lambda: load_sweep(sweep_text(knee="kneedle")), SWEEP).field == "knee"
    assert load_sweep(sweep_text(mode="legacy")).knee is Knee.CURVATURE_2D
    assert spec_error(lambda: load_sweep(sweep_text(mode="legacy", knee="curvature")), SWEEP).field == "knee"


def test_the_papers_curvature_knee_is_the_second_frontier_point_in_balanced() -> None:
    """Why the default changed: the discrete curvature peaks at the first interior grid point."""
    scenario = PAPER_SCENARIOS["balanced"]
    for model_key in FOUR:
        curves, _ = exact_decision(model_key, scenario)
        decision = decide(curves, scenario, Knee.CURVATURE)
        assert knee_k(decision) == 2 * scenario.parallelism
