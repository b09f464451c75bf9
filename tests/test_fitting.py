"""Fits of a model from eval logs (engine.beta_binomial, length_fit, latency_fit, model_fit).

- The special functions agree with scipy.
- Parameter recovery: logs drawn from known parameters fit back within a few standard errors,
  and the standard errors are right: over many seeds, +-1.96 SE covers the truth about 95% of
  the time (a binomial band around 0.95 for the number of seeds).
- The beta-binomial maximum matches scipy's optimiser on scipy's likelihood; its Pearson test
  holds its level under the model and rejects a difficulty that is not Beta.
- What the counts cannot determine is one SpecError, never a number.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize, special, stats

from infscale.engine.beta_binomial import fit_beta_binomial, pearson_test
from infscale.engine.errors import SpecError
from infscale.engine.evallog import EvalLog
from infscale.engine.latency_fit import fit_latency
from infscale.engine.length_fit import fit_lengths
from infscale.engine.model_fit import fit_model
from infscale.engine.special_functions import chi2_sf, digamma, log_gamma, trigamma
from tests.eval_logs import Truth, generated_log

SEEDS = 200
# 95% nominal coverage over 200 seeds: binomial sd 1.5%; accept 0.91..0.985 (about -2.7 / +2.3 sd).
COVERAGE_BAND = (0.91, 0.985)


def test_special_functions_agree_with_scipy() -> None:
    x = np.concatenate([np.geomspace(1e-3, 1e4, 300), np.arange(1, 60) + 0.5])
    assert np.max(np.abs(digamma(x) - special.digamma(x)) / np.maximum(1, np.abs(special.digamma(x)))) < 1e-12
    assert np.max(np.abs(trigamma(x) - special.polygamma(1, x)) / np.maximum(1, special.polygamma(1, x))) < 1e-12
    assert np.allclose(log_gamma(x), special.gammaln(x), rtol=1e-13, atol=1e-10)
    for df in (1, 2, 3, 7, 30, 200):
        for value in (0.01, 0.7, 2.0, 9.0, 40.0, 250.0, 400.0):
            assert chi2_sf(value, df) == pytest.approx(stats.chi2.sf(value, df), rel=1e-10, abs=1e-300)


def draw_counts(rng: np.random.Generator, alpha: float, beta: float, queries: int, n: np.ndarray | int):
    n = np.broadcast_to(np.asarray(n), (queries,)).copy()
    return n, rng.binomial(n, rng.beta(alpha, beta, size=queries))


def test_beta_binomial_maximum_matches_scipy() -> None:
    rng = np.random.default_rng(5)
    n, c = draw_counts(rng, 0.8, 1.5, 300, rng.integers(2, 12, size=300))
    fit = fit_beta_binomial(n, c, "x")

    def nll(t: np.ndarray) -> float:
        return -float(stats.betabinom.logpmf(c, n, math.exp(t[0]), math.exp(t[1])).sum())

    best = optimize.minimize(nll, [0.0, 0.0], method="Nelder-Mead", options=dict(xatol=1e-10, fatol=1e-12))
    assert fit.alpha == pytest.approx(math.exp(best.x[0]), rel=1e-6)
    assert fit.beta == pytest.approx(math.exp(best.x[1]), rel=1e-6)
    assert fit.log_likelihood == pytest.approx(-best.fun, rel=1e-12)
    # The standard errors are the inverse of the numerical observed information.
    hess = np.zeros((2, 2))
    h = 1e-4
    point = np.array([fit.alpha, fit.beta])
    f = lambda p: -float(stats.betabinom.logpmf(c, n, p[0], p[1]).sum())  # noqa: E731
    for i in range(2):
        for j in range(2):
            e_i, e_j = np.eye(2)[i] * h, np.eye(2)[j] * h
            hess[i, j] = (f(point + e_i + e_j) - f(point + e_i - e_j) - f(point - e_i + e_j) + f(point - e_i - e_j)) / (4 * h * h)
    covariance = np.linalg.inv(hess)
    assert fit.alpha_se == pytest.approx(math.sqrt(covariance[0, 0]), rel=1e-4)
    assert fit.beta_se == pytest.approx(math.sqrt(covariance[1, 1]), rel=1e-4)


@pytest.mark.parametrize("alpha, beta, n", [(0.8, 1.5, 8), (0.3, 0.6, 20), (4.0, 2.0, 3), (12.0, 30.0, 10)])
def test_beta_binomial_recovers_known_difficulty_within_4_se(alpha: float, beta: float, n: int) -> None:
    for seed in range(5):
        fit = fit_beta_binomial(*draw_counts(np.random.default_rng(seed), alpha, beta, 2000, n), "x")
        assert abs(fit.alpha - alpha) < 4 * fit.alpha_se
        assert abs(fit.beta - beta) < 4 * fit.beta_se


def test_beta_binomial_standard_errors_cover_the_truth() -> None:
    covered = np.zeros(2)
    rejected = 0
    for seed in range(SEEDS):
        rng = np.random.default_rng(10_000 + seed)
        n, c = draw_counts(rng, 0.8, 1.5, 1000, rng.integers(4, 12, size=1000))
        fit = fit_beta_binomial(n, c, "x")
        covered += [abs(fit.alpha - 0.8) < 1.96 * fit.alpha_se, abs(fit.beta - 1.5) < 1.96 * fit.beta_se]
        rejected += fit.goodness_of_fit.p_value < 0.05
    assert COVERAGE_BAND[0] <= covered[0] / SEEDS <= COVERAGE_BAND[1]
    assert COVERAGE_BAND[0] <= covered[1] / SEEDS <= COVERAGE_BAND[1]
    # Under the model the Pearson test rejects at 5% about 5% of the time (a bit more:
    # Chernoff-Lehmann), not never and not often.
    assert 0.015 <= rejected / SEEDS <= 0.10


def test_pearson_test_rejects_a_difficulty_that_is_not_beta() -> None:
    # Three kinds of query: p = 0.1, 0.5 or 0.9. No Beta law has three modes.
    for seed in range(10):
        rng = np.random.default_rng(seed)
        n = np.full(600, 20)
        c = rng.binomial(n, rng.choice([0.1, 0.5, 0.9], size=600))
        fit = fit_beta_binomial(n, c, "x")
        assert fit.goodness_of_fit.p_value < 0.01
        assert any("rejected at 1%" in w and "p-value" in w for w in fit.warnings())


def test_pearson_test_says_when_too_few_queries_leave_nothing_to_test() -> None:
    gof = pearson_test(np.full(12, 2), np.array([0, 1, 2] * 4), 1.0, 1.0)
    assert gof.p_value is None and "degrees of freedom" in gof.not_tested


def test_fractional_scores_fit_without_a_count_test() -> None:
    rng = np.random.default_rng(3)
    n, c = draw_counts(rng, 2.0, 3.0, 500, 6)
    fit = fit_beta_binomial(n, c + 0.25 * (c < n), "x")
    assert fit.goodness_of_fit.not_tested and "fractional" in fit.goodness_of_fit.not_tested
    assert fit.alpha > 0 and fit.beta > 0


@pytest.mark.parametrize(
    "n, c, message",
    [
        (np.ones(50), np.arange(50) % 2, "every query has 1 sample"),
        (np.full(50, 4), np.zeros(50), "every sample is wrong"),
        (np.full(50, 4), np.full(50, 4), "every sample is right"),
        (np.full(50, 10), np.full(50, 5), "no spread of difficulty"),  # under-dispersed: alpha + beta -> infinity
    ],
)
def test_counts_that_do_not_determine_the_difficulty_are_one_error(n, c, message: str) -> None:
    with pytest.raises(SpecError, match=message) as info:
        fit_beta_binomial(n, c, "evals.jsonl", "correct")
    assert str(info.value).startswith("evals.jsonl: correct: ")


def test_lengths_and_latency_recover_their_parameters_with_right_standard_errors() -> None:
    truth = Truth()
    names = ("mu_Lin", "sigma_Lin", "mu_Lout", "sigma_Lout", "t_fixed", "t_in", "t_out")
    covered = dict.fromkeys(names, 0)
    worst = dict.fromkeys(names, 0.0)
    for seed in range(SEEDS):
        log = generated_log(seed, queries=1000, samples=5, truth=truth)
        codes = log.query_codes()
        l_in = fit_lengths("input_tokens", log.input_tokens, codes, cap_in_means=16.0)
        l_out = fit_lengths("output_tokens", log.output_tokens, codes)
        lat = fit_latency(log.latency_s, log.input_tokens, log.output_tokens, codes)
        fitted = {
            "mu_Lin": (l_in.mu, l_in.mu_se), "sigma_Lin": (l_in.sigma, l_in.sigma_se),
            "mu_Lout": (l_out.mu, l_out.mu_se), "sigma_Lout": (l_out.sigma, l_out.sigma_se),
        } | {name: (lat.values[name], lat.standard_errors[name]) for name in ("t_fixed", "t_in", "t_out")}
        for name, (value, se) in fitted.items():
            z = abs(value - getattr(truth, name)) / se
            covered[name] += z < 1.96
            worst[name] = max(worst[name], z)
    for name in names:
        assert COVERAGE_BAND[0] <= covered[name] / SEEDS <= COVERAGE_BAND[1], (name, covered[name])
        assert worst[name] < 4.5, name  # no seed lands far off


def test_latency_terms_the_data_cannot_support_are_fixed_at_zero_and_said() -> None:
    rng = np.random.default_rng(0)
    l_in = rng.integers(100, 2000, size=400).astype(float)
    l_out = rng.integers(50, 800, size=400).astype(float)
    codes = np.arange(400) // 4
    # No overhead and a tiny true t_in: the unconstrained estimates of both go negative sometimes;
    # here the overhead is truly negative-leaning (latency measured from first token).
    latency = 0.01 * l_out - 0.5 + rng.normal(0, 0.05, size=400)
    fit = fit_latency(latency, l_in, l_out, codes)
    assert fit.values["t_fixed"] == 0.0 and fit.standard_errors["t_fixed"] is None
    assert any(w.startswith("t_fixed: its least-squares estimate is negative") for w in fit.warnings())
    assert fit.values["t_out"] > 0 and fit.standard_errors["t_out"] > 0

    constant = fit_latency(0.2 + 1e-3 * 700 + 0.01 * l_out + rng.normal(0, 0.05, size=400), np.full(400, 700.0), l_out, codes)
    assert sum(v == 0.0 for v in constant.values.values()) == 1
    assert any("not separable" in w for w in constant.warnings())


def test_fit_model_writes_a_catalog_entry_with_standard_errors_for_every_fitted_key() -> None:
    fit = fit_model(generated_log(1, queries=200, samples=6))
    assert list(fit.entry) == [
        "name", "t_fixed", "t_in", "t_out", "mu_Lin", "sigma_Lin", "mu_Lout", "sigma_Lout", "accuracy_model", "alpha", "beta",
    ]
    assert set(fit.standard_errors) == set(fit.entry) - {"name", "accuracy_model"}
    assert fit.missing == ("c_in", "c_out")
    assert any("prices never come from an eval log" in w for w in fit.warnings)
    assert fit.goodness_of_fit["difficulty"]["p_value"] > 0 and 0.9 < fit.goodness_of_fit["latency"]["r_squared"] <= 1
    assert fit.data["queries"] == 200 and fit.data["samples"] == 1200
    assert fit.data["input_tokens_quantiles"]["p50"] > 0


def test_fit_model_fits_only_what_the_log_has() -> None:
    full = generated_log(2, queries=50, samples=4)
    log = EvalLog(model="m", queries=full.queries, rows=full.rows, score=full.score)
    fit = fit_model(log)
    assert set(fit.entry) == {"name", "accuracy_model", "alpha", "beta"}
    assert fit.missing == ("c_in", "c_out", "t_in", "t_out", "mu_Lin", "sigma_Lin", "mu_Lout", "sigma_Lout")
    assert any(w.startswith("no input_tokens column") for w in fit.warnings)


def test_fit_model_names_the_row_when_every_query_has_one_sample() -> None:
    full = generated_log(3, queries=40, samples=1, source="evals.jsonl")
    with pytest.raises(SpecError) as info:
        fit_model(full)
    assert str(info.value).startswith("evals.jsonl: row 1, query: query 'q0' has 1 sample, like every query")
