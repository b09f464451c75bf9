"""Calibration of the decision confidence (engine/confidence.py) against exact answers.

Cases with known truth (exact expectations, engine.exact_curves): a toy model whose cost budget
sits at -2, -1, -0.5, +0.5, +1, +2 standard errors (at the test's trial count) from the mean
cost of k = 10, and whose min_accuracy sits as far from the mean accuracy of k = 3; and natural
paper cases (GPT-5 and Nemotron Nano 9B v2 under balanced and accuracy-critical). Over seeds,
every method's choice is right or wrong by the definition (truly feasible, and within the
tolerance of the truly best accuracy / the true best for the others). Then:
- reliability: in each confidence bin, the count of right choices lies within the central 95%
  of Binomial(n, the bin's mean confidence);
- the Brier score of the confidence is below that of the old bootstrap share (engine.stability)
  on the same choices.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from infscale.engine.exact_curves import exact_curves
from infscale.engine.pipeline import decide_group, knee_variant, simulate_shard
from infscale.engine.selection import Decision, Method, Status, decide
from infscale.engine.stability import stability
from infscale.engine.statistics import bins_for, summarize
from tests.engine_fixtures import PAPER_MODELS, PAPER_SCENARIOS, make_model, make_scenario, make_sweep, only_group

BLOCKS = 8
TRIALS = BLOCKS * 1024
SEEDS = range(30)
MARGINS = (-2.0, -1.0, -0.5, 0.5, 1.0, 2.0)
TOY = make_model("toy")
BINS = (0.0, 0.5, 0.8, 0.95, 0.99, 1.0 + 1e-12)


def toy_cases():
    """Scenarios whose deciding budget is `m` standard errors (at TRIALS) from a mean."""
    k = np.arange(1, 21)
    (pilot,) = exact_curves(only_group(make_sweep([TOY], [make_scenario(k_max=20)], 0)))
    # Per-trial standard deviations from a large run (placement only: the truth stays exact).
    sweep = make_sweep([TOY], [make_scenario(k_max=20)], 64 * 1024, seed=999)
    group = only_group(sweep)
    (big,) = summarize(simulate_shard(sweep, group, range(64)), group, bins_for(group))
    cost_se = big.cost.se[9] * math.sqrt(big.trials / TRIALS)
    acc_se = big.accuracy.se[2] * math.sqrt(big.trials / TRIALS)
    out = []
    for m in MARGINS:
        out.append(make_scenario(f"cost{m:+g}", max_total_cost=pilot.cost.mean[9] + m * cost_se, k_max=20))
        out.append(make_scenario(f"acc{m:+g}", min_accuracy=pilot.accuracy.mean[2] + m * acc_se,
                                 max_total_cost=(pilot.cost.mean[14] + pilot.cost.mean[15]) / 2, k_max=20))
    assert k.size == 20
    return [(TOY, s) for s in out]


def paper_cases():
    return [(PAPER_MODELS[m], PAPER_SCENARIOS[s]) for m in ("gpt5", "nvidia-nemotron-nano-9b-v2")
            for s in ("balanced", "accuracy-critical")]


def right(choice, truth: Decision, exact_acc: np.ndarray, k: np.ndarray, scenario) -> bool:
    """The definition of a right choice, on exact means."""
    want = truth.choice(choice.method)
    if choice.status is not Status.OK or want.status is not Status.OK:
        return (choice.status, choice.k) == (want.status, want.k)
    j = int(np.searchsorted(k, choice.k))
    if not truth.feasible[j]:
        return False
    if choice.method is Method.MAX_ACCURACY:
        return exact_acc[j] >= exact_acc[truth.feasible].max() - scenario.accuracy_tolerance
    return choice.k == want.k


def outcomes():
    """(new confidence, old bootstrap share, right) for every choice of every case and seed."""
    rows = []
    for model, scenario in toy_cases() + paper_cases():
        exact_sweep = make_sweep([model], [scenario], 0)
        (exact,) = exact_curves(only_group(exact_sweep))
        truth = decide(exact, scenario)
        for seed in SEEDS:
            sweep = make_sweep([model], [scenario], TRIALS, seed)
            group = only_group(sweep)
            partial = simulate_shard(sweep, group, range(BLOCKS))
            (curves,) = summarize(partial, group, bins_for(group))
            (decision,) = decide_group(sweep, group, partial, [curves])
            (shares,) = stability(partial, group, [decision], seed, knee_variant(sweep), accuracy_se=curves.accuracy.se)
            for choice, share in zip(decision.choices, shares):
                rows.append((choice.confidence, share, right(choice, truth, exact.accuracy.mean, curves.k, scenario)))
    return np.array(rows, dtype=np.float64)


@pytest.fixture(scope="module")
def table() -> np.ndarray:
    return outcomes()


def binomial_interval(n: int, p: float) -> tuple[int, int]:
    """Central 95% of Binomial(n, p): the counts x with 2.5% <= P(X <= x) and P(X >= x) >= 2.5%."""
    x = np.arange(n + 1)
    log_pmf = np.array([math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) for i in x])
    with np.errstate(divide="ignore"):
        log_pmf += x * np.log(p) + (n - x) * np.log1p(-p) if 0 < p < 1 else 0
    pmf = np.exp(log_pmf) if 0 < p < 1 else (x == (n if p >= 1 else 0)).astype(float)
    cdf = np.cumsum(pmf)
    lo = int(np.searchsorted(cdf, 0.025))
    hi = int(np.searchsorted(cdf, 0.975))
    return lo, hi


def test_confidence_is_calibrated(table: np.ndarray) -> None:
    confidence, _, ok = table.T
    report = []
    for lo, hi in zip(BINS, BINS[1:]):
        inside = (confidence >= lo) & (confidence < hi)
        n = int(inside.sum())
        if n < 20:
            continue
        mean = float(confidence[inside].mean())
        count = int(ok[inside].sum())
        low, high = binomial_interval(n, mean)
        report.append((lo, hi, n, round(mean, 3), count, (low, high)))
        assert low <= count <= high, report
    assert len(report) >= 3, report  # the cases spread over the confidence scale


def test_confidence_beats_the_bootstrap_share_on_brier_score(table: np.ndarray) -> None:
    confidence, share, ok = table.T
    new, old = np.mean((confidence - ok) ** 2), np.mean((share - ok) ** 2)
    assert new < old, (new, old)
