"""Legacy mode (engine/legacy.py) follows science.md section 4 step by step, and the paper's
example: the notebook's per-k streams pick k = 16 where k = 20 is right."""

from __future__ import annotations

import numpy as np
import pytest

from infscale.engine import exact
from infscale.engine.legacy import legacy_trials
from infscale.engine.selection import Method, knee_position
from infscale.engine.specs import Knee
from infscale.engine.specs import KGrid, Mode, ModelSpec
from tests.engine_fixtures import (
    PAPER_MODELS,
    PAPER_SCENARIOS,
    SATURATING,
    WIDE,
    make_scenario,
    meets_budgets,
    metric_curves,
    run_one,
)

TRIALS = 300


def reference_notebook_trials(model: ModelSpec, k: int, parallelism: int, trials: int, seed: int) -> np.ndarray:
    """The reference loop as science.md states it: a fresh default_rng(seed + k); per trial, in
    this order, input lengths, output lengths, accuracy scores (k draws each); returns rows
    (C, T, A) per trial."""
    rng = np.random.default_rng(seed + k)
    rows = []
    for _ in range(trials):
        l_in = np.clip(rng.normal(model.mu_Lin, model.sigma_Lin, size=k), 1, 16 * model.mu_Lin)
        l_out = np.clip(rng.normal(model.mu_Lout, model.sigma_Lout, size=k), 1, 16 * l_in)
        acc = np.clip(rng.normal(model.acc_mean, model.acc_std, size=k), 0, 1)
        per_cost = model.c_in * l_in + model.c_out * l_out
        per_time = model.t_in * l_in + model.t_out * l_out
        total_time = (k / parallelism) * per_time.mean() if parallelism > 1 else per_time.sum()
        rows.append((per_cost.sum(), total_time, acc.max()))
    return np.array(rows).T


@pytest.mark.parametrize("model", [PAPER_MODELS["gpt5"], SATURATING, WIDE], ids=lambda m: m.key)
@pytest.mark.parametrize("k, parallelism", [(1, 1), (3, 1), (8, 4), (7, 3)])
def test_legacy_trials_equal_the_reference_loop(model, k: int, parallelism: int) -> None:
    ours = legacy_trials(model, k, parallelism, 50, seed=42)
    assert ours.shape == (3, 50)
    assert np.array_equal(ours, reference_notebook_trials(model, k, parallelism, 50, seed=42))


@pytest.fixture(scope="module", params=[4, 1], ids=["P4", "P1"])
def legacy_run(request):
    parallelism = request.param
    model = PAPER_MODELS["nvidia-nemotron-ultra-253b"]
    scenario = make_scenario(
        max_total_cost=exact.expected_cost(model, 8), max_total_time=exact.expected_time(model, 8, parallelism),
        min_accuracy=0.95, k_max=16, parallelism=parallelism, k_grid=KGrid.MULTIPLES if parallelism > 1 else KGrid.ALL,
    )
    run = run_one(model, scenario, TRIALS, seed=7, mode=Mode.LEGACY)
    raw = [reference_notebook_trials(model, int(k), parallelism, TRIALS, seed=7) for k in scenario.grid()]
    return run, np.stack(raw, axis=1)  # (3, K, trials)


def test_legacy_sweep_means_equal_the_reference_bit_for_bit(legacy_run) -> None:
    run, raw = legacy_run
    assert run.curves.trials == TRIALS
    for m, (name, metric) in enumerate(metric_curves(run.curves).items()):
        expected = np.array([np.mean(raw[m, j]) for j in range(raw.shape[1])])
        assert np.array_equal(metric.mean, expected), name
    assert np.array_equal(run.curves.feasible_probability, meets_budgets(raw, run.scenario).mean(axis=-1))


# science.md section 4: legacy mode reports the notebook's spread, the population std
# (ddof=0), so there se * sqrt(n) is that std; standard mode keeps the unbiased (ddof=1) one.
def test_legacy_sweep_population_std_matches_se_times_root_n(legacy_run) -> None:
    run, raw = legacy_run
    for m, (name, metric) in enumerate(metric_curves(run.curves).items()):
        np.testing.assert_allclose(metric.se * np.sqrt(TRIALS), raw[m].std(axis=-1, ddof=0), rtol=1e-12, err_msg=name)


def test_legacy_sweep_uses_the_2d_knee(legacy_run) -> None:
    run, _ = legacy_run
    decision, curves, scenario = run.decision, run.curves, run.scenario
    front = np.flatnonzero(decision.frontier)
    points = np.column_stack((
        curves.cost.mean[front] / scenario.max_total_cost,
        curves.time.mean[front] / scenario.max_total_time,
        curves.accuracy.mean[front],
    ))
    pos = knee_position(points, Knee.CURVATURE_2D)
    knee = decision.choice(Method.KNEE)
    assert knee.k == (None if pos is None else int(curves.k[front[pos]]))


def test_paper_example_legacy_picks_16_standard_and_exact_pick_20() -> None:
    """science.md section 4: GPT-5, balanced scenario, 300 trials, seed 42."""
    model, balanced = PAPER_MODELS["gpt5"], PAPER_SCENARIOS["balanced"]
    assert (balanced.max_total_cost, balanced.max_total_time, balanced.min_accuracy) == (0.50, 60.0, 0.88)
    assert (balanced.k_max, balanced.parallelism, balanced.k_grid) == (128, 4, KGrid.MULTIPLES)

    legacy = run_one(model, balanced, TRIALS, seed=42, mode=Mode.LEGACY)
    assert legacy.decision.choice(Method.MAX_ACCURACY).k == 16
    standard = run_one(model, balanced, 20000, seed=42, mode=Mode.STANDARD)
    assert standard.decision.choice(Method.MAX_ACCURACY).k == 20

    def feasible_exactly(k: int) -> bool:
        return (
            exact.expected_cost(model, k) <= balanced.max_total_cost
            and exact.expected_time(model, k, balanced.parallelism) <= balanced.max_total_time
            and exact.expected_accuracy(model, k) >= balanced.min_accuracy
        )

    assert feasible_exactly(16) and feasible_exactly(20) and not feasible_exactly(24)
    assert exact.expected_accuracy(model, 20) > exact.expected_accuracy(model, 16)
    # The legacy pick is MC noise: its estimate at 16 beats its own estimate at 20.
    j16, j20 = np.searchsorted(legacy.curves.k, [16, 20])
    assert legacy.curves.accuracy.mean[j16] > legacy.curves.accuracy.mean[j20]
