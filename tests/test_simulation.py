"""Standard-mode Monte Carlo (engine/simulation.py) against science.md sections 2 and 4.

- Means agree with the exact expectations within 4 standard errors (cost, time / P, best-of-k
  accuracy, including clipping at 1 and every token-length clip).
- Curves are monotone in k: strictly for cost and time, weakly for accuracy, for means and
  for the spread quantiles.
- A block's statistics equal those of raw trials re-simulated from the documented streams
  (clip bounds, 16 L_in, prefix sums, prefix max, time / P).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

from infscale.engine import exact
from infscale.engine.plan import BLOCK_TRIALS, BlockPlan
from infscale.engine.simulation import simulate_blocks
from infscale.engine.specs import KGrid
from infscale.engine.statistics import bins_for
from tests.engine_fixtures import (
    PAPER_MODELS,
    SATURATING,
    WIDE,
    crn_raw_trials,
    make_scenario,
    make_sweep,
    meets_budgets,
    metric_curves,
    only_group,
    run_one,
)

TRIALS = 20 * BLOCK_TRIALS
MC_CASES = [
    # (model, k_max, parallelism, k_grid)
    (PAPER_MODELS["gpt5"], 64, 4, KGrid.ALL),
    (PAPER_MODELS["nvidia-nemotron-nano-9b-v2"], 128, 8, KGrid.MULTIPLES),
    (SATURATING, 48, 3, KGrid.ALL),
    (WIDE, 32, 2, KGrid.ALL),
]
MC_IDS = [f"{m.key}-P{p}" for m, _, p, _ in MC_CASES]


def exact_curves(model, k: np.ndarray, parallelism: int) -> dict[str, np.ndarray]:
    return {
        "cost": np.array([exact.expected_cost(model, int(x)) for x in k]),
        "time": np.array([exact.expected_time(model, int(x), parallelism) for x in k]),
        "accuracy": np.array([exact.expected_accuracy(model, int(x)) for x in k]),
    }


def exact_accuracy_sd(model, k: int) -> float:
    """Standard deviation of A(k) from its law, via the shortfall D = 1 - A (no cancellation
    near saturation): E[D] = int_0^1 P(A <= x) dx, E[D^2] = int_0^1 2 (1 - x) P(A <= x) dx."""
    m, s = model.acc_mean, model.acc_std
    cdf = lambda x: stats.norm.cdf((x - m) / s) ** k  # noqa: E731 - P(A <= x) on [0, 1)
    first, _ = integrate.quad(cdf, 0, 1, limit=200, epsabs=1e-300)
    second, _ = integrate.quad(lambda x: 2 * (1 - x) * cdf(x), 0, 1, limit=200, epsabs=1e-300)
    return float(np.sqrt(max(second - first * first, 0.0)))


@pytest.mark.parametrize("model, k_max, parallelism, k_grid", MC_CASES, ids=MC_IDS)
def test_means_agree_with_exact_expectations_within_4_se(model, k_max: int, parallelism: int, k_grid: KGrid) -> None:
    scenario = make_scenario(k_max=k_max, parallelism=parallelism, k_grid=k_grid)
    curves = run_one(model, scenario, TRIALS, seed=11).curves
    assert curves.trials == TRIALS
    expected = exact_curves(model, curves.k, parallelism)
    # Where every trial saturates (A(k) = 1 in all of them) the estimated se is 0 although
    # E[A(k)] < 1: for accuracy the tolerance uses the larger of the estimated and exact se,
    # plus 1e-12 for the rounding of the quadrature.
    exact_se = np.array([exact_accuracy_sd(model, int(x)) for x in curves.k]) / np.sqrt(TRIALS)
    for name, metric in metric_curves(curves).items():
        se = np.maximum(metric.se, exact_se) if name == "accuracy" else metric.se
        error = np.abs(metric.mean - expected[name])
        assert np.all(error <= 4.0 * se + 1e-12), (name, curves.k[np.argmax(error / se)], np.max(error / se))


def test_saturating_model_reaches_accuracy_one_only_through_the_clip() -> None:
    """A(k) never exceeds 1 although 42% of scores are drawn above 1, and the mean sits below
    the unclipped per-inference mean at k = 1 as the exact clipped expectation says."""
    curves = run_one(SATURATING, make_scenario(k_max=8), TRIALS, seed=5).curves
    acc = curves.accuracy
    assert np.all(acc.mean <= 1.0) and np.all(acc.p95 <= 1.0 + 1e-12)
    assert acc.mean[0] < SATURATING.acc_mean - 0.01
    assert acc.p50[-1] == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize("model, k_max, parallelism, k_grid", MC_CASES, ids=MC_IDS)
def test_curves_are_monotone_in_k(model, k_max: int, parallelism: int, k_grid: KGrid) -> None:
    scenario = make_scenario(k_max=k_max, parallelism=parallelism, k_grid=k_grid)
    sweep = make_sweep([model], [scenario], TRIALS // 4, seed=3)
    curves = run_one(model, scenario, sweep.trials, seed=sweep.seed).curves
    width = bins_for(only_group(sweep)).width
    for m, (name, metric) in enumerate(metric_curves(curves).items()):
        assert np.all(metric.p05 <= metric.p50) and np.all(metric.p50 <= metric.p95), name
        if name == "accuracy":
            assert np.all(np.diff(metric.mean) >= 0.0)
            # Each trial's A(k) is non-decreasing, so are its quantiles; the histogram reports
            # each within one bin width of the empirical quantile.
            slack = width[m, :-1] + width[m, 1:]
            for q in (metric.p05, metric.p50, metric.p95):
                assert np.all(np.diff(q) >= -slack), name
        else:
            assert np.all(np.diff(metric.mean) > 0.0), name
            for q in (metric.p05, metric.p50, metric.p95):
                assert np.all(np.diff(q) > 0.0), name


@pytest.mark.parametrize("model", [PAPER_MODELS["gpt5"], SATURATING, WIDE], ids=lambda m: m.key)
@pytest.mark.parametrize("block", [0, 1])
def test_block_statistics_equal_raw_trials_of_the_documented_algorithm(model, block: int) -> None:
    """Sums, centred squares and budget counts of a block (block 1 is a short last block)
    equal those of raw trials recomputed from the block's streams."""
    scenario = make_scenario(
        max_total_cost=1.5 * exact.expected_cost(model, 6),
        max_total_time=1.2 * exact.expected_time(model, 6, 3),
        min_accuracy=exact.expected_accuracy(model, 3),
        k_max=70,  # more than one row chunk of the engine's loop
        parallelism=3,
        k_grid=KGrid.MULTIPLES,
    )
    trials, seed = BLOCK_TRIALS + 300, 17
    sweep = make_sweep([model], [scenario], trials, seed)
    group = only_group(sweep)
    plan = BlockPlan(trials, BLOCK_TRIALS)
    n = plan.block_size(block)
    partial = simulate_blocks(group, seed, plan, [block], bins_for(group))

    raw = crn_raw_trials(model, 3, scenario.k_max, seed, block, n)[:, scenario.grid() - 1, :]  # (3, K, n)
    assert np.array_equal(partial.blocks, [block]) and np.array_equal(partial.trials, [n])
    np.testing.assert_allclose(partial.sums[0], raw.sum(axis=-1), rtol=1e-12)
    centred = raw - raw.mean(axis=-1, keepdims=True)
    np.testing.assert_allclose(partial.m2[0], (centred**2).sum(axis=-1), rtol=1e-8, atol=1e-20)
    assert np.array_equal(partial.feasible[0, 0], meets_budgets(raw, scenario).sum(axis=-1))
    assert np.all(partial.hist.sum(axis=-1) == n)


def test_first_k_inferences_do_not_depend_on_k_max_or_grid() -> None:
    """Inference-major streams: the totals for k are the same whatever k_max or k grid."""
    model, trials = PAPER_MODELS["gpt5-mini"], 2 * BLOCK_TRIALS
    short = run_one(model, make_scenario(k_max=12, parallelism=4, k_grid=KGrid.MULTIPLES), trials, seed=9).curves
    long = run_one(model, make_scenario(k_max=200, parallelism=4, k_grid=KGrid.ALL), trials, seed=9).curves
    rows = np.searchsorted(long.k, short.k)
    for name, metric in metric_curves(short).items():
        other = getattr(long, name)
        np.testing.assert_allclose(metric.mean, other.mean[rows], rtol=1e-12, err_msg=name)
        np.testing.assert_allclose(metric.se, other.se[rows], rtol=1e-7, err_msg=name)


def test_seed_changes_the_draws_and_same_seed_repeats_them() -> None:
    model, scenario = PAPER_MODELS["qwen3-max"], make_scenario(k_max=8)
    a, b, c = (run_one(model, scenario, BLOCK_TRIALS, seed=s).curves for s in (1, 1, 2))
    assert np.array_equal(a.cost.mean, b.cost.mean) and np.array_equal(a.accuracy.p50, b.accuracy.p50)
    assert not np.array_equal(a.cost.mean, c.cost.mean)
