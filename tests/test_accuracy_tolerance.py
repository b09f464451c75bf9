"""Maximal accuracy within a tolerance (scenario key `accuracy_tolerance`, delta; science.md
section 7): the smallest feasible k whose mean accuracy is within delta of the best, across
models the cheapest (then fastest) feasible (model, k) within delta.

- Accuracy clipped at 1 saturates, so the plain argmax grows with the trial count. With the
  default delta, Nemotron Nano 9B v2 under accuracy-critical picks the exact delta-choice at
  4,096, 100,000 and 1,000,000 trials, over seeds.
- delta 0 is the paper's argmax on the same curves; legacy mode refuses the key and keeps it.
"""

from __future__ import annotations

import numpy as np
import pytest

from infscale.engine import exact
from infscale.engine.exact_curves import exact_curves
from infscale.engine.pipeline import simulate_shard
from infscale.engine.plan import block_plan
from infscale.engine.selection import Method, decide, recommend
from infscale.readers.stored_specs import scenario_from_dict, scenario_to_dict
from infscale.engine.specs import DEFAULT_ACCURACY_TOLERANCE, Mode
from infscale.engine.statistics import bins_for, summarize
from tests.engine_fixtures import PAPER_MODELS, PAPER_SCENARIOS, make_curves, make_scenario, make_sweep, only_group
from tests.test_specs import SWEEP, load_sweep, spec_error, sweep_text

NANO = PAPER_MODELS["nvidia-nemotron-nano-9b-v2"]
CRITICAL = PAPER_SCENARIOS["accuracy-critical"]


def monte_carlo(model, scenario, trials: int, seed: int):
    """Curves and decision of one run, straight from the engine's simulation (no confidence)."""
    sweep = make_sweep([model], [scenario], trials, seed)
    group = only_group(sweep)
    partial = simulate_shard(sweep, group, range(block_plan(sweep).n_blocks))
    (curves,) = summarize(partial, group, bins_for(group))
    return curves, decide(curves, scenario)


def exact_delta_choice(model, scenario) -> int:
    """The definition, on exact expectations computed k by k (engine.exact)."""
    k = scenario.grid()
    cost = np.array([exact.expected_cost(model, int(j)) for j in k])
    time = np.array([exact.expected_time(model, int(j), scenario.parallelism) for j in k])
    acc = np.array([exact.expected_accuracy(model, int(j)) for j in k])
    feasible = (cost <= scenario.max_total_cost) & (time <= scenario.max_total_time) & (acc >= scenario.min_accuracy)
    best = acc[feasible].max()
    return int(k[feasible & (acc >= best - scenario.accuracy_tolerance)][0])


def test_the_exact_delta_choice_is_far_below_the_exact_argmax() -> None:
    want = exact_delta_choice(NANO, CRITICAL)
    (curves,) = exact_curves(only_group(make_sweep([NANO], [CRITICAL], 1)))
    assert decide(curves, CRITICAL).choice(Method.MAX_ACCURACY).k == want
    # The argmax buys less than 1e-3 accuracy with many times the cost.
    assert want < CRITICAL.k_max // 4


@pytest.mark.parametrize("trials, seeds", [(4096, range(8)), (100_000, range(2))])
def test_nano_accuracy_critical_picks_the_exact_delta_choice_at_any_trial_count(trials: int, seeds) -> None:
    want = exact_delta_choice(NANO, CRITICAL)
    for seed in seeds:
        _, decision = monte_carlo(NANO, CRITICAL, trials, seed)
        assert decision.choice(Method.MAX_ACCURACY).k == want, (trials, seed)


@pytest.mark.slow
def test_nano_accuracy_critical_at_a_million_trials() -> None:
    _, decision = monte_carlo(NANO, CRITICAL, 1_000_000, seed=5)
    assert decision.choice(Method.MAX_ACCURACY).k == exact_delta_choice(NANO, CRITICAL)


def test_delta_zero_is_the_papers_argmax_and_chases_noise() -> None:
    plain = make_scenario_like(CRITICAL, 0.0)
    picks = []
    for seed in (1, 2):
        curves, decision = monte_carlo(NANO, plain, 4096, seed)
        feasible = decision.feasible
        want = int(curves.k[np.flatnonzero(feasible)[np.argmax(curves.accuracy.mean[feasible])]])
        picks.append(decision.choice(Method.MAX_ACCURACY).k)
        assert picks[-1] == want
    assert min(picks) > exact_delta_choice(NANO, CRITICAL)


def make_scenario_like(scenario, tolerance: float):
    return make_scenario(
        scenario.name, max_total_cost=scenario.max_total_cost, max_total_time=scenario.max_total_time,
        min_accuracy=scenario.min_accuracy, k_max=scenario.k_max, parallelism=scenario.parallelism,
        k_grid=scenario.k_grid, accuracy_tolerance=tolerance,
    )


def test_a_mean_within_noise_of_the_tolerance_counts_as_within() -> None:
    """k=2 misses best - delta by one standard error of its gap: it is not shown to be worse."""
    curves = make_curves([1, 2, 3], [1, 2, 3], [1, 2, 3], [0.99, 0.9989, 0.99995])
    se = np.array([1e-4, 1e-4, 0.0])
    noisy = type(curves)(curves.k, 1000, curves.cost, curves.time,
                         type(curves.accuracy)(curves.accuracy.mean, se, *(curves.accuracy.mean,) * 3),
                         curves.feasible_probability)
    scenario = make_scenario(accuracy_tolerance=0.001)
    assert decide(curves, scenario).choice(Method.MAX_ACCURACY).k == 3  # exact means: outside
    assert decide(noisy, scenario).choice(Method.MAX_ACCURACY).k == 2


def test_across_models_the_cheapest_within_delta_then_the_fastest() -> None:
    scenario = make_scenario(accuracy_tolerance=0.001)
    big = make_curves([1, 2], [10.0, 20.0], [1.0, 2.0], [0.9990, 0.9995])
    small = make_curves([4, 8], [4.0, 8.0], [3.0, 6.0], [0.9980, 0.9988])
    fast = make_curves([4, 8], [4.0, 8.0], [2.0, 4.0], [0.9980, 0.9988])
    runs = [(name, c, decide(c, scenario)) for name, c in (("big", big), ("small", small), ("fast", fast))]
    (pick,) = [r for r in recommend(scenario, runs) if r.method is Method.MAX_ACCURACY]
    assert (pick.model, pick.k) == ("fast", 8)
    plain = make_scenario(accuracy_tolerance=0.0)
    runs = [(n, c, decide(c, plain)) for n, c, _ in runs]
    (pick,) = [r for r in recommend(plain, runs) if r.method is Method.MAX_ACCURACY]
    assert (pick.model, pick.k) == ("big", 2)


def test_accuracy_tolerance_is_read_validated_and_stored() -> None:
    sweep = load_sweep(sweep_text())
    assert all(s.accuracy_tolerance == DEFAULT_ACCURACY_TOLERANCE for s in sweep.scenarios)
    (scenario,) = load_sweep(sweep_text({"accuracy_tolerance": 0.01})).scenarios
    assert scenario.accuracy_tolerance == 0.01
    assert scenario_from_dict(scenario_to_dict(scenario)) == scenario
    stored = scenario_to_dict(scenario)
    del stored["accuracy_tolerance"]  # stored before the tolerance existed: the plain argmax
    assert scenario_from_dict(stored).accuracy_tolerance == 0.0
    bad = sweep_text({"accuracy_tolerance": -0.1})
    assert spec_error(lambda: load_sweep(bad), SWEEP).field == "scenarios[0].accuracy_tolerance"


def test_legacy_mode_keeps_the_argmax_and_refuses_a_tolerance() -> None:
    legacy = load_sweep(sweep_text(mode="legacy"))
    assert legacy.mode is Mode.LEGACY and all(s.accuracy_tolerance == 0.0 for s in legacy.scenarios)
    error = spec_error(lambda: load_sweep(sweep_text({"accuracy_tolerance": 0.01}, mode="legacy")), SWEEP)
    assert error.field == "scenarios[0].accuracy_tolerance"
