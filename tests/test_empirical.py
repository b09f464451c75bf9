"""The empirical model: simulating from an eval log itself (`lengths: empirical`,
`accuracy_model: empirical`, `data: FILE`; engine.empirical).

- Monte Carlo means of cost, time and accuracy lie within 4 standard errors of the exact means
  over the data, for several seeds, every k of the grid, both latency models, every billing,
  0/1 correctness and graded scores, with and without latency_s, and each key alone.
- The exact means are checked against independent formulas (pass@k per query; brute-force
  enumeration of k draws for graded scores).
- One block equals raw trials re-drawn from the documented streams (query per trial, then a
  sample of it per inference; lengths, score and latency of the same sample together).
- Models without data draw exactly what they did (tests/test_kernel_pin.py holds the bits).
- The stored spec carries the data: a sweep rebuilt from its stored dict gives the same bits.
- Bad data: one SpecError naming the file (and row) and the field.
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from infscale.engine import empirical
from infscale.engine.empirical_data import MAX_SAMPLES, EmpiricalData
from infscale.engine.errors import SpecError
from infscale.engine.evallog import EvalLog
from infscale.engine.exact_curves import exact_curves, exact_means
from infscale.engine.pipeline import run_sweep
from infscale.engine.plan import BLOCK_TRIALS, BlockPlan, model_stream_key
from infscale.engine.simulation import simulate_blocks
from infscale.engine.specs import AccuracyModel, InputBilling, Latency, Lengths, Mode
from infscale.engine.validation import catalog_from_mapping, sweep_from_mapping
from infscale.engine.statistics import bins_for
from infscale.readers.stored_specs import model_from_dict, model_to_dict, sweep_from_dict, sweep_to_dict
from tests.engine_fixtures import assert_curves_identical, make_scenario, make_sweep, only_group, run_one
from tests.eval_logs import Truth, generated_log

TRIALS = 8 * BLOCK_TRIALS
PRICES = dict(c_in=2e-6, c_out=8e-6)
LOG = generated_log(5, queries=60, samples=4)


def graded_log(seed: int = 9, queries: int = 30) -> EvalLog:
    """Scores in [0, 1] (not 0/1), an uneven number of samples per query, queries interleaved."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, 7, size=queries)
    names = np.repeat(np.arange(queries), counts)
    rng.shuffle(names)
    n = names.size
    return EvalLog(
        model="m", queries=tuple(f"q{q}" for q in names), rows=tuple(("graded.jsonl", f"row {i + 1}") for i in range(n)),
        score=np.round(rng.beta(2.0, 3.0, size=n), 3), input_tokens=np.round(rng.uniform(10, 900, size=n)),
        output_tokens=np.round(rng.uniform(1, 400, size=n)), latency_s=np.round(rng.uniform(0.2, 9.0, size=n), 4),
    )


def model_of(log: EvalLog, lengths: bool = True, accuracy: bool = True, **fields):
    """The catalog entry `emp` with `data` (the reader's EvalLog) and the keys given."""
    entry = {"name": "Empirical", **PRICES, "data": log, **fields}
    if lengths:
        entry["lengths"] = "empirical"
    else:
        entry.update(mu_Lin=700.0, sigma_Lin=200.0, mu_Lout=300.0, sigma_Lout=90.0)
    if accuracy:
        entry["accuracy_model"] = "empirical"
    elif "accuracy_model" not in entry:
        entry.update(acc_mean=0.7, acc_std=0.2)
    if "t_in" not in entry and (not lengths or log.latency_s is None):
        entry.update(t_in=2e-4, t_out=1e-2)
    return catalog_from_mapping({"models": {"emp": entry}}, "cat.yaml")["emp"]


def without_latency(log: EvalLog) -> EvalLog:
    return dataclasses.replace(log, latency_s=None)


CASES = {
    "both-paper": (model_of(LOG), Latency.PAPER),
    "both-waves-cached": (model_of(LOG, input_billing="cached", c_in_cached=5e-7), Latency.WAVES),
    "both-once-no-latency": (model_of(without_latency(LOG), input_billing="once", t_fixed=0.3), Latency.PAPER),
    "graded-waves-no-latency": (model_of(without_latency(graded_log()), t_fixed=0.1), Latency.WAVES),
    "graded-paper": (model_of(graded_log()), Latency.PAPER),
    "accuracy-only": (model_of(LOG, lengths=False), Latency.WAVES),
    "lengths-only-gaussian": (model_of(LOG, accuracy=False), Latency.PAPER),
    "lengths-only-pass-at-k": (model_of(LOG, accuracy=False, accuracy_model="pass_at_k", alpha=0.7, beta=1.2), Latency.PAPER),
}


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("case", list(CASES))
def test_monte_carlo_means_lie_within_4_se_of_the_exact_means(case: str, seed: int) -> None:
    model, latency = CASES[case]
    scenario = make_scenario(k_max=24, parallelism=4, latency=latency)
    curves = run_one(model, scenario, TRIALS, seed=seed).curves
    (exact,) = exact_curves(only_group(make_sweep([model], [scenario], 0, mode=Mode.EXACT)))
    for metric in ("cost", "time", "accuracy"):
        got, want = getattr(curves, metric), getattr(exact, metric)
        assert np.all(np.abs(got.mean - want.mean) <= 4.0 * got.se + 1e-12), (case, metric)
    # The check has power: the accuracy grows with k, and its standard error is far below that.
    if model.accuracy_model is AccuracyModel.EMPIRICAL:
        assert exact.accuracy.mean[-1] - exact.accuracy.mean[0] > 20 * curves.accuracy.se[0]


def test_exact_accuracy_of_correctness_is_the_mean_of_per_query_pass_at_k() -> None:
    model = model_of(LOG)
    codes = LOG.query_codes()
    p = np.bincount(codes, weights=LOG.score) / np.bincount(codes)
    k = np.array([1, 2, 5, 17, 200])
    want = np.array([np.mean(1.0 - (1.0 - p) ** j) for j in k])
    np.testing.assert_allclose(empirical.expected_accuracy(model.data, k), want, rtol=1e-12, atol=1e-15)
    assert model.acc_mean == pytest.approx(p.mean(), rel=1e-12)  # pass@1, the catalog's acc_mean


def test_exact_max_of_graded_scores_equals_brute_force_enumeration() -> None:
    data = EmpiricalData("x", counts=np.array([3, 1, 4]), score=np.array([0.2, 0.9, 0.2, 0.5, 0.1, 0.7, 0.4, 0.7]))
    for n in (1, 2, 3):
        by_query = []
        for start, count in zip(data.starts, data.counts):
            values = data.score[start:start + count]
            by_query.append(np.mean([max(c) for c in itertools.product(values, repeat=n)]))
        assert empirical.expected_max(data, data.score, [n])[0] == pytest.approx(np.mean(by_query), rel=1e-12)


@pytest.mark.parametrize("latency", [Latency.PAPER, Latency.WAVES])
def test_one_block_equals_raw_trials_of_the_documented_draws(latency: Latency) -> None:
    model, seed, block, n, parallelism = model_of(LOG, input_billing="cached", c_in_cached=5e-7), 11, 1, 700, 3
    scenario = make_scenario(k_max=70, parallelism=parallelism, latency=latency)  # two row chunks
    group = only_group(make_sweep([model], [scenario], BLOCK_TRIALS + n))
    part = simulate_blocks(group, seed, BlockPlan(BLOCK_TRIALS + n, BLOCK_TRIALS), [block], bins_for(group))

    def stream(variable: int) -> np.random.Generator:
        key = (model_stream_key(model.key), block, variable)
        return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))

    # The documented draws, straight from the log: queries in first-seen order, samples in file order.
    names = list(dict.fromkeys(LOG.queries))
    rows_of = {q: [i for i, name in enumerate(LOG.queries) if name == q] for q in names}
    query = stream(4).integers(0, len(names), size=n)
    u = stream(5).random((70, n))
    cost, time, acc = np.zeros((3, 70, n))
    for j in range(n):
        rows = rows_of[names[query[j]]]
        picked = [rows[int(np.floor(x * len(rows)))] for x in u[:, j]]
        l_in, l_out = LOG.input_tokens[picked], LOG.output_tokens[picked]
        price = np.where(np.arange(70) == 0, model.c_in, model.c_in_cached)
        cost[:, j] = np.cumsum(price * l_in + model.c_out * l_out)
        t = LOG.latency_s[picked]
        if latency is Latency.PAPER:
            time[:, j] = np.cumsum(t / parallelism)
        else:  # ceil(k/P) waves, each as slow as its slowest sample
            time[:, j] = [sum(t[w:min(w + parallelism, k)].max() for w in range(0, k, parallelism)) for k in range(1, 71)]
        acc[:, j] = np.maximum.accumulate(LOG.score[picked])
    for m, raw in enumerate((cost, time, acc)):
        np.testing.assert_allclose(part.sums[0, m], raw.sum(axis=1), rtol=1e-12)


def test_a_model_rebuilt_from_its_stored_dict_gives_the_same_bits() -> None:
    model = model_of(graded_log(), input_billing="once")
    stored = model_to_dict(model)
    assert isinstance(stored["data"]["score"], str)  # compact: base64 of the array's bytes
    assert model_from_dict(stored) == model and model_from_dict(stored).data.score.tobytes() == model.data.score.tobytes()
    scenario = make_scenario(k_max=12, parallelism=2)
    sweep = make_sweep([model], [scenario], 2 * BLOCK_TRIALS, seed=4)
    again = sweep_from_dict(sweep_to_dict(sweep))
    assert again == sweep
    assert_curves_identical(run_sweep(sweep).runs[0].curves, run_sweep(again).runs[0].curves)


def test_models_without_data_are_stored_as_before() -> None:
    stored = model_to_dict(model_of(LOG, lengths=False, accuracy=False, data=None))
    assert "lengths" not in stored and "data" not in stored


def test_the_data_describes_the_models_parameters() -> None:
    model = model_of(LOG)
    codes = LOG.query_codes()
    assert model.lengths is Lengths.EMPIRICAL and model.times_from_data and model.t_in == 0.0
    mean_in = np.mean(np.bincount(codes, weights=LOG.input_tokens) / np.bincount(codes))
    assert model.mu_Lin == pytest.approx(mean_in, rel=1e-12)


def spec_error(call) -> SpecError:
    with pytest.raises(SpecError) as info:
        call()
    return info.value


@pytest.mark.parametrize("entry, field, words", [
    ({"lengths": "empirical", **PRICES, "acc_mean": 0.5, "acc_std": 0.1}, "models.emp.data", "is required with lengths: empirical"),
    ({"accuracy_model": "empirical", "data": "log.jsonl", **PRICES}, "models.emp.data", "read only where a catalog file is loaded"),
    ({"lengths": "gamma"}, "models.emp.lengths", "'normal' or 'empirical'"),
])
def test_bad_keys_name_the_field(entry: dict, field: str, words: str) -> None:
    error = spec_error(lambda: catalog_from_mapping({"models": {"emp": entry}}, "cat.yaml"))
    assert (error.source, error.field) == ("cat.yaml", field) and words in error.message


def test_data_without_an_empirical_key_and_keys_the_data_replaces_are_refused() -> None:
    error = spec_error(lambda: model_of(LOG, lengths=False, accuracy=False))
    assert error.field == "models.emp.data" and "only with lengths: empirical or accuracy_model: empirical" in error.message
    for key, value in (("mu_Lin", 500.0), ("acc_mean", 0.5), ("t_in", 1e-3), ("alpha", 1.0)):
        error = spec_error(lambda: model_of(LOG, **{key: value}))
        assert error.field == f"models.emp.{key}" and "remove it" in error.message


@pytest.mark.parametrize("column, lengths, accuracy, field", [
    ("score", False, True, "correct or score"),
    ("input_tokens", True, False, "input_tokens"),
    ("output_tokens", True, True, "output_tokens"),
])
def test_a_missing_column_or_value_names_the_file_row_and_field(column: str, lengths: bool, accuracy: bool, field: str) -> None:
    error = spec_error(lambda: model_of(dataclasses.replace(LOG, **{column: None}), lengths, accuracy))
    assert (error.source, error.field) == ("log.jsonl", field) and "missing" in error.message
    values = getattr(LOG, column).copy()
    values[6] = np.nan
    error = spec_error(lambda: model_of(dataclasses.replace(LOG, **{column: values}), lengths, accuracy))
    assert (error.source, error.field) == ("log.jsonl", f"row 7, {field}")


def test_latency_in_some_rows_only_is_refused_and_no_latency_needs_times_per_token() -> None:
    latency = LOG.latency_s.copy()
    latency[3] = np.nan
    error = spec_error(lambda: model_of(dataclasses.replace(LOG, latency_s=latency)))
    assert error.field == "row 4, latency_s" and "every row or in none" in error.message
    error = spec_error(lambda: catalog_from_mapping(
        {"models": {"emp": {**PRICES, "lengths": "empirical", "accuracy_model": "empirical", "data": without_latency(LOG)}}}, "c"))
    assert error.field == "models.emp.t_in" and "required" in error.message


def test_more_samples_than_the_limit_are_refused_naming_the_file() -> None:
    n = MAX_SAMPLES + 1
    big = EvalLog("m", tuple(f"q{i % 1000}" for i in range(n)), tuple(("big.csv", f"row {i + 2}") for i in range(n)),
                  score=np.zeros(n))
    error = spec_error(lambda: model_of(big, lengths=False))
    assert error.source == "big.csv" and f"over the limit of {MAX_SAMPLES}" in error.message


def test_legacy_mode_refuses_the_empirical_model() -> None:
    scenario = {"name": "s", "max_total_cost": 1, "max_total_time": 100, "min_accuracy": 0.5, "k_max": 8, "parallelism": 4}
    for model in (model_of(LOG), model_of(LOG, accuracy=False), model_of(LOG, lengths=False)):
        error = spec_error(lambda: sweep_from_mapping(
            {"name": "x", "models": "all", "scenarios": [scenario], "trials": 100, "mode": "legacy"},
            "sweep.yaml", {"emp": model}, {}, "cat.yaml",
        ))
        assert error.field == "models" and "legacy mode" in error.message


def test_exact_means_of_an_input_billing_follow_the_first_and_later_prices() -> None:
    model = model_of(LOG, input_billing="once")
    k = np.arange(1, 9)
    cost, _, _ = exact_means(model, make_scenario(k_max=8), k)
    each = exact_means(dataclasses.replace(model, input_billing=InputBilling.EACH), make_scenario(k_max=8), k)[0]
    codes = LOG.query_codes()
    e_in = np.mean(np.bincount(codes, weights=LOG.input_tokens) / np.bincount(codes))
    np.testing.assert_allclose(each - cost, (k - 1) * model.c_in * e_in, rtol=1e-9)


def test_truth_has_no_negative_latency() -> None:
    log = generated_log(0, queries=50, samples=3, truth=Truth(t_fixed=0.0, t_in=0.0, t_out=1e-6, noise=1.0))
    assert np.all(log.latency_s >= 0.0)
