"""Shared builders for the engine's scientific tests.

Spec builders with readable defaults, a builder of hand-made `Curves`, and an independent
re-implementation of the documented standard-mode simulation (science.md section 2 with the
stream layout stated in engine/simulation.py) that returns raw per-trial values, so tests can
compare the engine's statistics with numpy computed on the trials themselves.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from infscale.engine.catalog import builtin_catalog, builtin_scenarios
from infscale.engine.pipeline import RunResult, run_sweep
from infscale.engine.plan import SimulationGroup, simulation_groups
from infscale.engine.simulation import block_streams, difficulty_stream
from infscale.engine.specs import DEFAULT_ACCURACY_TOLERANCE, KGrid, Latency, Mode, ModelSpec, ScenarioSpec, SweepSpec
from infscale.engine.statistics import Curves, MetricCurve

PAPER_MODELS = builtin_catalog("builtin:paper")
PAPER_SCENARIOS = builtin_scenarios()
METRIC_NAMES = ("cost", "time", "accuracy")
NO_BUDGET = 1e12  # a budget no toy model reaches


def make_model(key: str = "toy", **fields: float) -> ModelSpec:
    """A model with moderate, well-behaved defaults; override any field by keyword."""
    values = dict(
        name=key, c_in=1e-6, c_out=1e-5, t_in=1e-3, t_out=1e-2,
        mu_Lin=500.0, sigma_Lin=50.0, mu_Lout=1000.0, sigma_Lout=100.0,
        acc_mean=0.8, acc_std=0.1,
    )
    values.update(fields)
    return ModelSpec(key=key, **values)


# Per-inference accuracy N(0.99, 0.05): 42% of draws exceed 1, so the clip at 1 matters.
SATURATING = make_model("saturating", acc_mean=0.99, acc_std=0.05)
# Token lengths so wide that every clip of science.md section 2 binds often: L_in at 1 (48%)
# and at 16 mu_Lin = 32 (7%); L_out at 1 and at 16 L_in; accuracy at 0 and at 1.
WIDE = make_model("wide", mu_Lin=2.0, sigma_Lin=20.0, mu_Lout=50.0, sigma_Lout=100.0, acc_mean=0.5, acc_std=0.4)


def make_scenario(
    name: str = "s",
    *,
    max_total_cost: float = NO_BUDGET,
    max_total_time: float = NO_BUDGET,
    min_accuracy: float = 0.0,
    k_max: int = 16,
    parallelism: int = 1,
    k_grid: KGrid = KGrid.ALL,
    min_probability: float | None = None,
    latency: Latency = Latency.PAPER,
    accuracy_tolerance: float = DEFAULT_ACCURACY_TOLERANCE,
) -> ScenarioSpec:
    return ScenarioSpec(
        name, max_total_cost, max_total_time, min_accuracy, k_max, parallelism, k_grid, min_probability, latency,
        accuracy_tolerance,
    )


def make_sweep(
    models: Sequence[ModelSpec],
    scenarios: Sequence[ScenarioSpec],
    trials: int,
    seed: int = 0,
    mode: Mode = Mode.STANDARD,
) -> SweepSpec:
    return SweepSpec("test", "test", tuple(models), tuple(scenarios), trials, seed, mode)


def only_group(sweep: SweepSpec) -> SimulationGroup:
    """The single simulation group of a one-model, one-simulation sweep."""
    (group,) = simulation_groups(sweep)
    return group


def run_one(
    model: ModelSpec, scenario: ScenarioSpec, trials: int, seed: int = 0, mode: Mode = Mode.STANDARD
) -> RunResult:
    """`run_sweep` of one model under one scenario."""
    (run,) = run_sweep(make_sweep([model], [scenario], trials, seed, mode)).runs
    return run


def metric_curves(curves: Curves) -> dict[str, MetricCurve]:
    return {name: getattr(curves, name) for name in METRIC_NAMES}


def assert_curves_identical(a: Curves, b: Curves) -> None:
    """Every array of two `Curves` bit-for-bit equal."""
    assert np.array_equal(a.k, b.k) and a.trials == b.trials
    assert np.array_equal(a.feasible_probability, b.feasible_probability)
    for name in METRIC_NAMES:
        ma, mb = getattr(a, name), getattr(b, name)
        for field in ("mean", "se", "p05", "p50", "p95"):
            assert np.array_equal(getattr(ma, field), getattr(mb, field), equal_nan=True), (name, field)


def make_curves(
    k: Sequence[int],
    cost: Sequence[float],
    time: Sequence[float],
    accuracy: Sequence[float],
    feasible_probability: Sequence[float] | None = None,
    trials: int = 1000,
) -> Curves:
    """Hand-made curves: the given means, zero standard errors, quantiles equal to the means."""

    def metric(values: Sequence[float]) -> MetricCurve:
        v = np.asarray(values, dtype=np.float64)
        return MetricCurve(v, np.zeros_like(v), v, v, v)

    k_arr = np.asarray(k, dtype=np.int64)
    prob = np.ones(k_arr.size) if feasible_probability is None else np.asarray(feasible_probability, dtype=np.float64)
    return Curves(k_arr, trials, metric(cost), metric(time), metric(accuracy), prob)


def crn_raw_trials(
    model: ModelSpec, parallelism: int, k_max: int, seed: int, block: int, n: int,
    latency: Latency = Latency.PAPER,
) -> np.ndarray:
    """Raw (cost, time, accuracy) totals of one standard-mode block, shape (3, k_max, n).

    Written from the documentation, not from the engine's loop: each of the block's three
    streams (input length, output length, accuracy) supplies k_max x n standard normals laid
    out inference-major; every trial takes the prefix sums (cost, time / P) and the prefix
    maximum (clipped accuracy) over its inferences. Row k - 1 holds the totals for k. With
    `waves` latency, time is `direct_wave_totals` of the per-inference times.
    """
    g_in, g_out, g_acc = block_streams(model.key, seed, block)
    shape = (k_max, n)
    l_in = np.clip(model.mu_Lin + model.sigma_Lin * g_in.standard_normal(shape), 1.0, 16.0 * model.mu_Lin)
    l_out = np.clip(model.mu_Lout + model.sigma_Lout * g_out.standard_normal(shape), 1.0, 16.0 * l_in)
    score = np.clip(model.acc_mean + model.acc_std * g_acc.standard_normal(shape), 0.0, 1.0)
    cost = np.cumsum(model.c_in * l_in + model.c_out * l_out, axis=0)
    per_inference = model.t_in * l_in + model.t_out * l_out
    if latency is Latency.WAVES:
        time = direct_wave_totals(per_inference, parallelism)
    else:
        time = np.cumsum(per_inference, axis=0) / parallelism
    accuracy = np.maximum.accumulate(score, axis=0)
    return np.stack([cost, time, accuracy])


def direct_wave_totals(times: np.ndarray, parallelism: int) -> np.ndarray:
    """Total latency in waves for every k, straight from the definition: for each k, the first
    k inferences (rows of `times`) are cut into ceil(k / P) waves of P (the last may be short),
    and the total is the sum over waves of the slowest member. O(k_max^2 x trials)."""
    k_max = times.shape[0]
    out = np.empty_like(times)
    for k in range(1, k_max + 1):
        waves = [times[w:min(w + parallelism, k)].max(axis=0) for w in range(0, k, parallelism)]
        out[k - 1] = np.sum(waves, axis=0)
    return out


def meets_budgets(raw: np.ndarray, scenario: ScenarioSpec) -> np.ndarray:
    """Per trial (and k): all three budgets of the scenario met; raw is (3, ...)."""
    return (raw[0] <= scenario.max_total_cost) & (raw[1] <= scenario.max_total_time) & (raw[2] >= scenario.min_accuracy)


def crn_raw_correct_counts(model: ModelSpec, k_max: int, seed: int, block: int, n: int) -> np.ndarray:
    """Correct answers among the first k inferences of each trial of one block, shape (k_max, n).

    From the documentation: the block's difficulty stream gives p ~ Beta(alpha, beta) per trial,
    its accuracy stream k_max x n uniforms laid out inference-major; inference i of a trial is
    correct when its uniform is below the trial's p.
    """
    p = difficulty_stream(model.key, seed, block).beta(model.alpha, model.beta, size=n)
    u = block_streams(model.key, seed, block)[2].random((k_max, n))
    return np.cumsum(u < p, axis=0).astype(np.float64)
