"""Per-inference overhead `t_fixed` and how a query's prompt is billed (`input_billing`).

- Monte Carlo means of cost and time agree with the exact expectations within 4 standard
  errors for every billing (each, once, cached) and with an overhead, under paper and waves
  latency; a scenario's input_billing overrides the model's.
- One block equals raw trials re-simulated from the documented model: the first inference
  pays c_in per input token, the others c_in_cached (cached) or nothing (once).
- Without the new keys nothing changes (tests/test_kernel_pin.py holds the bits); legacy mode
  (the notebook's model only) refuses them; cached billing needs c_in_cached.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from infscale.engine import exact
from infscale.engine.errors import SpecError
from infscale.engine.exact_curves import exact_curves
from infscale.engine.pipeline import run_sweep
from infscale.engine.plan import BLOCK_TRIALS, BlockPlan, simulation_groups
from infscale.engine.simulation import block_streams, simulate_blocks
from infscale.engine.specs import InputBilling, Latency, Mode
from infscale.engine.validation import catalog_from_mapping, sweep_from_mapping
from infscale.engine.statistics import bins_for
from tests.engine_fixtures import PAPER_MODELS, make_model, make_scenario, make_sweep, only_group, run_one

TRIALS = 8 * BLOCK_TRIALS
BASE = make_model("billed", c_in=2e-6, c_out=8e-6, mu_Lin=3000.0, sigma_Lin=800.0, c_in_cached=5e-7)
CASES = [
    (InputBilling.EACH, 0.0, Latency.PAPER),
    (InputBilling.ONCE, 0.0, Latency.PAPER),
    (InputBilling.CACHED, 0.0, Latency.PAPER),
    (InputBilling.CACHED, 0.4, Latency.PAPER),
    (InputBilling.ONCE, 0.25, Latency.WAVES),
]


@pytest.mark.parametrize("billing, t_fixed, latency", CASES, ids=[f"{b.value}-{t}-{lat.value}" for b, t, lat in CASES])
def test_cost_and_time_means_agree_with_exact_expectations(billing: InputBilling, t_fixed: float, latency: Latency) -> None:
    model = dataclasses.replace(BASE, input_billing=billing, t_fixed=t_fixed)
    scenario = make_scenario(k_max=24, parallelism=4, latency=latency)
    curves = run_one(model, scenario, TRIALS, seed=3).curves
    cost = np.array([exact.expected_cost(model, int(k)) for k in curves.k])
    assert np.all(np.abs(curves.cost.mean - cost) <= 4.0 * curves.cost.se), billing
    if latency is Latency.PAPER:
        time = np.array([exact.expected_time(model, int(k), 4) for k in curves.k])
        assert np.all(np.abs(curves.time.mean - time) <= 4.0 * curves.time.se)
    else:  # waves: every inference is t_fixed slower, so every wave is too
        plain = run_one(dataclasses.replace(model, t_fixed=0.0), scenario, TRIALS, seed=3).curves
        waves = np.ceil(curves.k / 4)
        np.testing.assert_allclose(curves.time.mean, plain.time.mean + waves * t_fixed, rtol=1e-12)
    # `mode: exact` uses the same expectations.
    (exact_run,) = exact_curves(only_group(make_sweep([model], [scenario], TRIALS)))
    np.testing.assert_allclose(exact_run.cost.mean, cost, rtol=1e-12)
    assert np.all(np.abs(curves.time.mean - exact_run.time.mean) <= 4.0 * curves.time.se + 1e-9)


def test_billing_lowers_cost_by_the_exact_input_share() -> None:
    e_in, e_out = exact.expected_input_tokens(BASE), exact.expected_output_tokens(BASE)
    for k in (1, 2, 16):
        each = exact.expected_cost(BASE, k)
        once = exact.expected_cost(BASE, k, InputBilling.ONCE)
        cached = exact.expected_cost(BASE, k, InputBilling.CACHED)
        assert once == pytest.approx(BASE.c_in * e_in + k * BASE.c_out * e_out, rel=1e-12)
        assert cached == pytest.approx(once + (k - 1) * BASE.c_in_cached * e_in, rel=1e-12)
        assert each == pytest.approx(k * (BASE.c_in * e_in + BASE.c_out * e_out), rel=1e-12)
        assert (once < cached < each) if k > 1 else (once == cached == pytest.approx(each))


@pytest.mark.parametrize("billing", [InputBilling.ONCE, InputBilling.CACHED])
def test_one_block_equals_raw_trials_of_the_documented_billing(billing: InputBilling) -> None:
    model = dataclasses.replace(BASE, input_billing=billing, t_fixed=0.3)
    scenario = make_scenario(k_max=12, parallelism=3)
    sweep = make_sweep([model], [scenario], BLOCK_TRIALS, seed=9)
    group = only_group(sweep)
    partial = simulate_blocks(group, 9, BlockPlan(BLOCK_TRIALS, BLOCK_TRIALS), [0], bins_for(group))
    g_in, g_out, _ = block_streams(model.key, 9, 0)
    shape = (12, BLOCK_TRIALS)
    l_in = np.clip(model.mu_Lin + model.sigma_Lin * g_in.standard_normal(shape), 1.0, 16.0 * model.mu_Lin)
    l_out = np.clip(model.mu_Lout + model.sigma_Lout * g_out.standard_normal(shape), 1.0, 16.0 * l_in)
    later = 0.0 if billing is InputBilling.ONCE else model.c_in_cached
    price = np.full((12, 1), later)
    price[0] = model.c_in
    cost = np.cumsum(price * l_in + model.c_out * l_out, axis=0)
    time = np.cumsum(model.t_fixed + model.t_in * l_in + model.t_out * l_out, axis=0) / 3
    np.testing.assert_allclose(partial.sums[0, 0] / BLOCK_TRIALS, cost.mean(axis=1), rtol=1e-12)
    np.testing.assert_allclose(partial.sums[0, 1] / BLOCK_TRIALS, time.mean(axis=1), rtol=1e-12)


def test_scenario_billing_overrides_the_models_and_splits_the_simulation() -> None:
    each = make_scenario("each", k_max=8, parallelism=2)
    once = dataclasses.replace(make_scenario("once", k_max=8, parallelism=2), input_billing=InputBilling.ONCE)
    sweep = make_sweep([BASE], [each, once], TRIALS)
    groups = simulation_groups(sweep)
    assert len(groups) == 2 and {g.billing for g in groups} == {InputBilling.EACH, InputBilling.ONCE}
    assert groups[0].key == "billed/P2/k8/all" and groups[1].key == "billed/P2/k8/all/billing-once"
    by_name = {run.scenario.name: run.curves for run in run_sweep(sweep).runs}
    k = by_name["once"].k
    expected = np.array([exact.expected_cost(BASE, int(x), InputBilling.ONCE) for x in k])
    assert np.all(np.abs(by_name["once"].cost.mean - expected) <= 4.0 * by_name["once"].cost.se)
    assert np.all(by_name["once"].cost.mean[1:] < by_name["each"].cost.mean[1:])


CATALOG = {"models": {"m": dict(
    name="M", c_in=1e-6, c_out=2e-6, t_in=1e-4, t_out=1e-3, mu_Lin=100, sigma_Lin=10, mu_Lout=50, sigma_Lout=5,
    acc_mean=0.8, acc_std=0.1,
)}}


def catalog_with(**fields) -> dict:
    return {"models": {"m": {**CATALOG["models"]["m"], **fields}}}


def sweep_of(catalog: dict, scenario: dict | None = None, mode: str = "standard"):
    models = catalog_from_mapping(catalog, "cat.yaml")
    data = {"name": "x", "scenarios": [scenario or "balanced"], "trials": 10, "mode": mode}
    return sweep_from_mapping(data, "sweep.yaml", models, {"balanced": make_scenario("balanced")}, "cat.yaml")


def test_the_new_keys_are_optional_and_validated() -> None:
    (model,) = catalog_from_mapping(CATALOG, "cat.yaml").values()
    assert (model.t_fixed, model.input_billing, model.c_in_cached) == (0.0, InputBilling.EACH, None)
    (model,) = catalog_from_mapping(catalog_with(t_fixed=0.2, input_billing="cached", c_in_cached=1e-7), "c").values()
    assert (model.t_fixed, model.input_billing, model.c_in_cached) == (0.2, InputBilling.CACHED, 1e-7)
    with pytest.raises(SpecError, match=r"cat.yaml: models.m.c_in_cached: is required with input_billing: cached"):
        catalog_from_mapping(catalog_with(input_billing="cached"), "cat.yaml")
    with pytest.raises(SpecError, match=r"models.m.input_billing: must be one of each, once, cached, got 'twice'"):
        catalog_from_mapping(catalog_with(input_billing="twice"), "cat.yaml")
    with pytest.raises(SpecError, match=r"models.m.t_fixed: must be >= 0"):
        catalog_from_mapping(catalog_with(t_fixed=-1), "cat.yaml")
    scenario = {"name": "s", "max_total_cost": 1, "max_total_time": 10, "min_accuracy": 0.5, "k_max": 8,
                "parallelism": 2, "input_billing": "cached"}
    with pytest.raises(SpecError, match=r"sweep.yaml: scenarios\[0\].input_billing: cached needs c_in_cached .* 'm' has none"):
        sweep_of(CATALOG, scenario)
    assert sweep_of(catalog_with(c_in_cached=1e-7), scenario).scenarios[0].input_billing is InputBilling.CACHED


@pytest.mark.parametrize("fields, scenario, words", [
    (dict(t_fixed=0.1), None, "'m' has t_fixed"),
    (dict(input_billing="once"), None, "'m' has input_billing once"),
    ({}, {"name": "s", "max_total_cost": 1, "max_total_time": 10, "min_accuracy": 0.5, "k_max": 8, "parallelism": 2,
          "input_billing": "once"}, "scenarios[0].input_billing: legacy mode bills every prompt"),
])
def test_legacy_mode_refuses_what_the_notebook_does_not_model(fields: dict, scenario, words: str) -> None:
    with pytest.raises(SpecError) as info:
        sweep_of(catalog_with(**fields), scenario, mode="legacy")
    assert words in str(info.value)


def test_paper_catalog_is_unchanged_by_the_new_keys() -> None:
    for model in PAPER_MODELS.values():
        assert model.t_fixed == 0.0 and model.input_billing is InputBilling.EACH and model.c_in_cached is None
    sweep = make_sweep([PAPER_MODELS["gpt5"]], [make_scenario(k_max=8, parallelism=4)], 10, mode=Mode.STANDARD)
    assert only_group(sweep).key == "gpt5/P4/k8/all"


def test_stored_specs_round_trip_and_stay_as_before_without_the_new_keys() -> None:
    from infscale.readers.stored_specs import model_from_dict, model_to_dict, scenario_from_dict, scenario_to_dict

    plain = PAPER_MODELS["gpt5"]
    assert not {"t_fixed", "input_billing", "c_in_cached"} & set(model_to_dict(plain))
    assert "input_billing" not in scenario_to_dict(make_scenario())
    billed = dataclasses.replace(BASE, input_billing=InputBilling.CACHED, t_fixed=0.1)
    assert model_from_dict(model_to_dict(billed)) == billed and model_from_dict(model_to_dict(plain)) == plain
    scenario = dataclasses.replace(make_scenario(), input_billing=InputBilling.ONCE)
    assert scenario_from_dict(scenario_to_dict(scenario)) == scenario
