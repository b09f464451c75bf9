"""Correctness-based accuracy models (engine/accuracy.py, science.md section 6).

- The exact means agree with scipy's Beta function and beta-binomial law.
- Monte Carlo means of pass@k and majority voting agree with their exact means within 4
  standard errors for several (alpha, beta, k).
- Majority voting loses accuracy as k grows when p < 1/2 for most queries.
- A block's statistics equal those of raw trials recomputed from the documented streams, and
  the accuracy model changes nothing but the accuracy.
- Catalog entries: new keys optional, validated with the field named; legacy mode refuses them.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import yaml
from scipy import special, stats

from infscale.engine import exact
from infscale.engine.accuracy import (
    accuracy_of_counts,
    correct_count_pmf,
    expected_majority_vote,
    expected_pass_at_k,
)
from infscale.engine.plan import BLOCK_TRIALS, BlockPlan
from infscale.readers.stored_specs import model_from_dict, model_to_dict
from infscale.engine.simulation import simulate_blocks
from infscale.engine.specs import AccuracyModel
from infscale.engine.statistics import bins_for
from infscale.readers.sweep_files import catalog_from_yaml
from tests.engine_fixtures import (
    crn_raw_correct_counts,
    crn_raw_trials,
    make_model,
    make_scenario,
    make_sweep,
    meets_budgets,
    only_group,
    run_one,
)
from tests.test_specs import CATALOG, SWEEP, VALID_MODEL, catalog_text, load_sweep, spec_error, sweep_text

TRIALS = 24 * BLOCK_TRIALS
PASS, MAJORITY = AccuracyModel.PASS_AT_K, AccuracyModel.MAJORITY_VOTE
DIFFICULTIES = [(0.5, 0.5), (2.0, 5.0), (0.3, 2.0), (4.0, 1.5)]


def correctness_model(accuracy_model: AccuracyModel, alpha: float, beta: float, key: str = "toy"):
    return make_model(key, accuracy_model=accuracy_model, alpha=alpha, beta=beta)


def exact_second_moment(accuracy_model: AccuracyModel, alpha: float, beta: float, k: int) -> float:
    """E[A(k)^2]: A is 0/1 for pass@k (so it is the mean); 0, 1/2, 1 for majority voting."""
    if accuracy_model is PASS:
        return expected_pass_at_k(alpha, beta, k)
    pmf = correct_count_pmf(alpha, beta, k)
    j = np.arange(k + 1)
    return float(pmf[2 * j > k].sum() + 0.25 * pmf[2 * j == k].sum())


@pytest.mark.parametrize("alpha, beta", DIFFICULTIES)
@pytest.mark.parametrize("k", [1, 2, 7, 64, 1000])
def test_exact_means_agree_with_scipy(alpha: float, beta: float, k: int) -> None:
    want_pass = 1.0 - special.beta(alpha, beta + k) / special.beta(alpha, beta)
    assert expected_pass_at_k(alpha, beta, k) == pytest.approx(want_pass, rel=1e-10, abs=1e-13)
    law = stats.betabinom(k, alpha, beta)
    j = np.arange(k + 1)
    np.testing.assert_allclose(correct_count_pmf(alpha, beta, k), law.pmf(j), rtol=1e-9, atol=1e-300)
    want_majority = law.sf(k // 2) + (0.5 * law.pmf(k // 2) if k % 2 == 0 else 0.0)
    assert expected_majority_vote(alpha, beta, k) == pytest.approx(want_majority, rel=1e-9, abs=1e-13)


def test_accuracy_of_counts_by_hand() -> None:
    counts = np.array([[0.0, 1.0, 2.0, 3.0, 4.0]] * 2)
    k = np.array([4, 5])
    assert accuracy_of_counts(PASS, counts, k).tolist() == [[0, 1, 1, 1, 1]] * 2
    assert accuracy_of_counts(MAJORITY, counts, k).tolist() == [[0, 0, 0.5, 1, 1], [0, 0, 0, 1, 1]]


@pytest.mark.parametrize("accuracy_model", [PASS, MAJORITY], ids=lambda m: m.value)
@pytest.mark.parametrize("alpha, beta", DIFFICULTIES)
def test_monte_carlo_means_agree_with_exact_means_within_4_se(accuracy_model, alpha: float, beta: float) -> None:
    model = correctness_model(accuracy_model, alpha, beta)
    curves = run_one(model, make_scenario(k_max=40), TRIALS, seed=31).curves
    k = curves.k.tolist()
    want = np.array([exact.expected_accuracy(model, x) for x in k])
    # Where every trial is right the estimated se is 0 although E[A(k)] < 1: use the larger of the
    # estimated and the exact standard error.
    exact_sd = np.sqrt([max(exact_second_moment(accuracy_model, alpha, beta, x) - m * m, 0.0) for x, m in zip(k, want)])
    se = np.maximum(curves.accuracy.se, exact_sd / np.sqrt(TRIALS))
    error = np.abs(curves.accuracy.mean - want)
    assert np.all(error <= 4.0 * se + 1e-12), (k[int(np.argmax(error / se))], float(np.max(error / se)))
    if accuracy_model is PASS:  # any-correct can only become true as k grows
        assert np.all(np.diff(curves.accuracy.mean) >= 0.0)


def test_majority_voting_loses_accuracy_as_k_grows_when_most_queries_are_hard() -> None:
    """p ~ Beta(2, 5): p < 1/2 for 89% of queries, so voting over more samples converges on the
    wrong answer for them; accuracy falls from pass@1 = 2/7 towards P(p > 1/2) = 0.109."""
    alpha, beta = 2.0, 5.0
    assert stats.beta(alpha, beta).cdf(0.5) > 0.85
    odd = np.arange(1, 42, 2)
    exact_curve = np.array([expected_majority_vote(alpha, beta, int(k)) for k in odd])
    assert np.all(np.diff(exact_curve) < 0.0)
    assert exact_curve[0] == pytest.approx(alpha / (alpha + beta))
    curves = run_one(correctness_model(MAJORITY, alpha, beta), make_scenario(k_max=41), TRIALS, seed=5).curves
    acc, se = curves.accuracy.mean[odd - 1], curves.accuracy.se[odd - 1]
    assert acc[-1] < acc[0] - 10.0 * np.hypot(se[0], se[-1])
    assert np.all(np.diff(acc) < 0.0)  # common random numbers: the decline shows at every odd step
    # Under the same draws a perfect verifier only gains from more samples.
    passing = run_one(correctness_model(PASS, alpha, beta), make_scenario(k_max=41), TRIALS, seed=5).curves
    assert passing.accuracy.mean[-1] > 0.9 > acc[0]


@pytest.mark.parametrize("accuracy_model", [PASS, MAJORITY], ids=lambda m: m.value)
def test_block_statistics_equal_raw_trials_of_the_documented_streams(accuracy_model) -> None:
    model = correctness_model(accuracy_model, 0.7, 1.3)
    scenario = make_scenario(
        max_total_cost=1.5 * exact.expected_cost(model, 6), min_accuracy=0.5, k_max=70, parallelism=1,
    )
    trials, seed, block = BLOCK_TRIALS + 100, 13, 1
    group = only_group(make_sweep([model], [scenario], trials, seed))
    plan = BlockPlan(trials, BLOCK_TRIALS)
    n = plan.block_size(block)
    partial = simulate_blocks(group, seed, plan, [block], bins_for(group))
    raw = crn_raw_trials(model, 1, 70, seed, block, n)
    counts = crn_raw_correct_counts(model, 70, seed, block, n)
    k = np.arange(1, 71)
    if accuracy_model is PASS:
        raw[2] = counts >= 1
    else:
        raw[2] = np.where(2 * counts > k[:, None], 1.0, np.where(2 * counts == k[:, None], 0.5, 0.0))
    np.testing.assert_allclose(partial.sums[0], raw.sum(axis=-1), rtol=1e-12)
    centred = raw - raw.mean(axis=-1, keepdims=True)
    np.testing.assert_allclose(partial.m2[0], (centred**2).sum(axis=-1), rtol=1e-8, atol=1e-12)
    assert np.array_equal(partial.feasible[0, 0], meets_budgets(raw, scenario).sum(axis=-1))
    assert np.all(partial.hist[2, :, 0] == 0) and np.all(partial.hist[2, :, -1] == 0)


def test_the_accuracy_model_changes_only_the_accuracy() -> None:
    """Token lengths use their own streams: cost and time are bit for bit the Gaussian model's."""
    scenario = make_scenario(k_max=30, parallelism=2)
    gaussian = run_one(make_model("same"), scenario, 2 * BLOCK_TRIALS, seed=8).curves
    voting = run_one(correctness_model(MAJORITY, 1.0, 1.0, key="same"), scenario, 2 * BLOCK_TRIALS, seed=8).curves
    for name in ("cost", "time"):
        assert np.array_equal(getattr(gaussian, name).mean, getattr(voting, name).mean)
    assert not np.array_equal(gaussian.accuracy.mean, voting.accuracy.mean)


# --- catalog entries ---------------------------------------------------------------------------


def test_catalog_entries_with_correctness_models_load() -> None:
    text = yaml.safe_dump({"models": {
        "plain": VALID_MODEL,
        "verified": {**VALID_MODEL, "accuracy_model": "pass_at_k", "alpha": 0.5, "beta": 1.5},
        "voting": {k: v for k, v in VALID_MODEL.items() if k not in ("acc_mean", "acc_std")}
        | {"accuracy_model": "majority_vote", "alpha": 2, "beta": 2},
    }})
    models = catalog_from_yaml(text, CATALOG)
    assert models["plain"].accuracy_model is AccuracyModel.GAUSSIAN_BEST_OF_K and models["plain"].alpha is None
    assert (models["verified"].accuracy_model, models["verified"].alpha, models["verified"].beta) == (PASS, 0.5, 1.5)
    assert models["verified"].acc_mean == VALID_MODEL["acc_mean"]  # given: kept as given
    voting = models["voting"]  # not given: the mean and deviation of p ~ Beta(2, 2)
    assert voting.accuracy_model is MAJORITY
    assert voting.acc_mean == pytest.approx(0.5) and voting.acc_std == pytest.approx(np.sqrt(1 / 20))
    for model in models.values():
        assert model_from_dict(model_to_dict(model)) == model


def test_models_stored_before_accuracy_models_read_as_gaussian() -> None:
    stored = model_to_dict(make_model())
    for key in ("accuracy_model", "alpha", "beta"):
        del stored[key]
    assert model_from_dict(stored) == make_model()


@pytest.mark.parametrize(
    "fields, field",
    [
        pytest.param({"accuracy_model": "best_of_n"}, "accuracy_model", id="unknown-accuracy-model"),
        pytest.param({"accuracy_model": "pass_at_k", "beta": 1.0}, "alpha", id="missing-alpha"),
        pytest.param({"accuracy_model": "pass_at_k", "alpha": 1.0}, "beta", id="missing-beta"),
        pytest.param({"accuracy_model": "pass_at_k", "alpha": 0, "beta": 1.0}, "alpha", id="alpha-0"),
        pytest.param({"accuracy_model": "majority_vote", "alpha": 1.0, "beta": -2}, "beta", id="negative-beta"),
        pytest.param({"accuracy_model": "majority_vote", "alpha": "easy", "beta": 1}, "alpha", id="alpha-string"),
        pytest.param({"alpha": 1.0}, "alpha", id="alpha-on-gaussian"),
        pytest.param({"accuracy_model": "gaussian_best_of_k", "beta": 1.0}, "beta", id="beta-on-gaussian"),
        pytest.param({"accuracy_model": "pass_at_k", "alpha": 1, "beta": 1, "acc_mean": 2}, "acc_mean", id="bad-acc-mean"),
    ],
)
def test_bad_accuracy_model_entries_name_the_field(fields: dict, field: str) -> None:
    text = catalog_text(**fields)
    assert spec_error(lambda: catalog_from_yaml(text, CATALOG), CATALOG).field == f"models.mine.{field}"


def test_legacy_mode_refuses_correctness_models() -> None:
    catalog = catalog_text(accuracy_model="pass_at_k", alpha=1, beta=1)
    text = sweep_text(catalog=CATALOG, models=["mine"], mode="legacy")
    error = spec_error(lambda: load_sweep(text, catalog=catalog), SWEEP)
    assert error.field == "models" and "pass_at_k" in error.message


def test_a_correctness_catalog_runs_through_the_cli(tmp_path, capsys) -> None:
    from tests.test_cli import GOOD_CATALOG, run_cli, write

    catalog = GOOD_CATALOG + "    accuracy_model: pass_at_k\n    alpha: 0.4\n    beta: 1.2\n"
    write(tmp_path, "cat.yaml", catalog)
    sweep = write(tmp_path, "s.yaml", "name: p\ncatalog: cat.yaml\nscenarios: [balanced]\ntrials: 3000\nseed: 1\n")
    code, out, err = run_cli(capsys, "run", str(sweep), "--db", f"sqlite:///{tmp_path}/p.db")
    assert code == 0, err
    code, out, err = run_cli(capsys, "catalog", "--catalog", str(tmp_path / "cat.yaml"))
    assert code == 0, err
    assert "pass_at_k Beta(0.4, 1.2)" in out


def test_dataclass_defaults_keep_the_paper_model() -> None:
    fields = {f.name: f.default for f in dataclasses.fields(make_model())}
    assert fields["accuracy_model"] is AccuracyModel.GAUSSIAN_BEST_OF_K
