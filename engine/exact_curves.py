"""Curves from exact expectations (`mode: exact`): the decision with no Monte Carlo noise.

Every mean is the model's exact expectation (engine.exact): cost and time are k times the
per-inference means (divided by P for the paper's latency), accuracy is the best-of-k
integral or the exact pass@k / majority-vote mean; the empirical model's are means over its
data (engine.empirical). Standard errors are 0; quantiles and the
probability of meeting all budgets at once have no closed form here and are NaN, so chance
constraints (`min_probability`) are refused in exact mode. O(K x quadrature nodes) per group:
milliseconds.
"""

from __future__ import annotations

import numpy as np

from infscale.engine.exact import expected_accuracy_curve, expected_input_tokens, expected_output_tokens
from infscale.engine.plan import SimulationGroup
from infscale.engine import empirical
from infscale.engine.specs import AccuracyModel, InputBilling, Latency, Lengths, ModelSpec, ScenarioSpec
from infscale.engine.statistics import Curves, MetricCurve
from infscale.engine.waves_exact import expected_wave_time


def exact_curves(group: SimulationGroup) -> list[Curves]:
    """Exact curves per scenario of the group (same order as `group.scenarios`)."""
    k = group.grid()
    means = exact_means(group.model, group.scenarios[0], k, group.billing)
    nan = np.full(k.size, np.nan)
    metrics = [MetricCurve(m, np.zeros(k.size), nan, nan, nan) for m in means]
    return [Curves(k, 0, metrics[0], metrics[1], metrics[2], nan) for _ in group.scenarios]


def exact_means(
    model: ModelSpec, scenario: ScenarioSpec, k: np.ndarray, billing: InputBilling | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact mean total cost, total time and accuracy for each k of `k`; `billing` is how
    prompts are billed (default: the model's input_billing)."""
    k = np.asarray(k, dtype=np.int64)
    if model.lengths is Lengths.EMPIRICAL:  # means over the eval log's samples (engine.empirical)
        cost, time = empirical.expected_cost_time(model, scenario.latency, scenario.parallelism, k, billing)
    else:
        cost, time = _normal_cost_time(model, scenario, k, billing)
    if model.accuracy_model is AccuracyModel.EMPIRICAL:
        return cost, time, empirical.expected_accuracy(model.data, k)
    return cost, time, expected_accuracy_curve(model, k)


def _normal_cost_time(
    model: ModelSpec, scenario: ScenarioSpec, k: np.ndarray, billing: InputBilling | None
) -> tuple[np.ndarray, np.ndarray]:
    e_in, e_out = expected_input_tokens(model), expected_output_tokens(model)
    kf = np.asarray(k, dtype=np.float64)
    later = model.input_price_after_first(billing)
    if later == model.c_in:
        cost = kf * (model.c_in * e_in + model.c_out * e_out)
    else:  # inference 1 pays c_in per input token, the others `later` (engine.specs.InputBilling)
        cost = model.c_in * e_in + (kf - 1.0) * later * e_in + kf * model.c_out * e_out
    if scenario.latency is Latency.WAVES:
        # t_fixed makes every inference, so every wave, that much slower.
        waves = -(-k // scenario.parallelism)
        time = expected_wave_time(model, k, scenario.parallelism) + waves * model.t_fixed
    else:
        time = kf * (model.t_fixed + model.t_in * e_in + model.t_out * e_out) / scenario.parallelism
    return cost, time
