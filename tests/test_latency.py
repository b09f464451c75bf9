"""The `waves` latency model (science.md section 6): ceil(k/P) waves, each as slow as its slowest
inference, the partial last wave counting as a wave.

- `wave_prefix` equals a direct per-wave computation on hand-made cases and on random ones,
  however the rows are cut into chunks.
- A simulated block's waves statistics equal those of raw trials recomputed from the documented
  streams with the direct per-wave computation.
- For the same draws, waves latency is never below the paper's sum / P and never above the plain
  sum (= P x paper); with P = 1 the two models agree.
- Specs: the field is validated, grouped on, stored and read back.
"""

from __future__ import annotations

import numpy as np
import pytest

from infscale.engine import exact
from infscale.engine.errors import SpecError
from infscale.engine.plan import BLOCK_TRIALS, ROW_CHUNK, BlockPlan, simulation_groups
from infscale.readers.stored_specs import scenario_from_dict, scenario_to_dict, sweep_from_dict, sweep_to_dict
from infscale.engine.fused import wave_prefix
from infscale.engine.simulation import simulate_blocks
from infscale.engine.specs import KGrid, Latency, Mode
from infscale.engine.statistics import bins_for
from tests.engine_fixtures import (
    PAPER_MODELS,
    WIDE,
    crn_raw_trials,
    direct_wave_totals,
    make_scenario,
    make_sweep,
    meets_budgets,
    only_group,
    run_one,
)
from tests.test_specs import SWEEP, load_sweep, spec_error, sweep_text

TRIALS = 8 * BLOCK_TRIALS


def prefix_in_chunks(times: np.ndarray, parallelism: int, cuts: list[int]) -> np.ndarray:
    """`wave_prefix` over the rows of `times` cut at `cuts`, carrying as the engine does."""
    out = times.copy()
    n = times.shape[1]
    before, finished = np.zeros(n), np.zeros(n)
    edges = [0, *cuts, times.shape[0]]
    for r0, r1 in zip(edges[:-1], edges[1:]):
        wave_prefix(out[r0:r1], r0, before, finished, parallelism)
    return out


@pytest.mark.parametrize(
    "parallelism, expected",
    [
        (1, [3, 4, 8, 9, 14, 23, 25]),  # one inference per wave: the plain sum
        (2, [3, 3, 7, 7, 12, 16, 18]),  # waves {3,1} {4,1} {5,9} {2}
        (3, [3, 3, 4, 5, 9, 13, 15]),  # waves {3,1,4} {1,5,9} {2}
        (7, [3, 3, 4, 4, 5, 9, 9]),  # one wave: the running maximum
        (8, [3, 3, 4, 4, 5, 9, 9]),  # P above k: still one (partial) wave
    ],
)
def test_wave_prefix_on_a_hand_made_trial(parallelism: int, expected: list[float]) -> None:
    times = np.array([3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0])[:, None]
    for cuts in ([], [1], [3, 4], [2, 5, 6]):
        got = prefix_in_chunks(times, parallelism, cuts)[:, 0]
        assert got.tolist() == expected, cuts
    assert direct_wave_totals(times, parallelism)[:, 0].tolist() == expected


@pytest.mark.parametrize("parallelism", [1, 2, 3, 5, 16])
def test_wave_prefix_equals_the_direct_per_wave_computation(parallelism: int) -> None:
    rng = np.random.default_rng(parallelism)
    times = rng.exponential(2.0, size=(40, 25))
    want = direct_wave_totals(times, parallelism)
    for cuts in ([], [7], [13, 26, 39]):
        np.testing.assert_allclose(prefix_in_chunks(times, parallelism, cuts), want, rtol=1e-13)


@pytest.mark.parametrize("model", [PAPER_MODELS["gpt5"], WIDE], ids=lambda m: m.key)
@pytest.mark.parametrize("parallelism", [3, 4])
def test_block_statistics_equal_raw_trials_with_waves(model, parallelism: int) -> None:
    """Sums, centred squares and budget counts of a block equal those of raw trials, with waves
    computed directly per k; k_max spans more than one row chunk and P = 3 does not divide it."""
    k_max = ROW_CHUNK + 10
    scenario = make_scenario(
        max_total_cost=1.5 * exact.expected_cost(model, 6),
        max_total_time=2.0 * exact.expected_time(model, 6, 1),
        k_max=k_max, parallelism=parallelism, k_grid=KGrid.ALL, latency=Latency.WAVES,
    )
    trials, seed, block = BLOCK_TRIALS + 200, 23, 1
    group = only_group(make_sweep([model], [scenario], trials, seed))
    plan = BlockPlan(trials, BLOCK_TRIALS)
    n = plan.block_size(block)
    partial = simulate_blocks(group, seed, plan, [block], bins_for(group))
    raw = crn_raw_trials(model, parallelism, k_max, seed, block, n, Latency.WAVES)
    np.testing.assert_allclose(partial.sums[0], raw.sum(axis=-1), rtol=1e-12)
    centred = raw - raw.mean(axis=-1, keepdims=True)
    np.testing.assert_allclose(partial.m2[0], (centred**2).sum(axis=-1), rtol=1e-8, atol=1e-20)
    assert np.array_equal(partial.feasible[0, 0], meets_budgets(raw, scenario).sum(axis=-1))
    # Every trial's total lies inside the histogram's span: no under- or overflow.
    assert np.all(partial.hist[1, :, 0] == 0) and np.all(partial.hist[1, :, -1] == 0)


@pytest.mark.parametrize("parallelism, k_grid", [(4, KGrid.MULTIPLES), (3, KGrid.ALL), (8, KGrid.ALL)])
def test_waves_are_never_below_the_paper_latency_for_the_same_draws(parallelism: int, k_grid: KGrid) -> None:
    """Same model, seed and inferences under both models (one sweep, two simulation groups):
    per trial, sum / P <= sum of wave maxima <= sum, so the means are ordered likewise and, under
    the same time budget, waves never meet it in more trials than the paper's latency does."""
    model = PAPER_MODELS["nvidia-nemotron-h-47b"]
    budget = 1.1 * exact.expected_time(model, 8, 1) / 2
    common = dict(max_total_time=budget, k_max=32, parallelism=parallelism, k_grid=k_grid)
    paper = make_scenario("paper", **common)
    waves = make_scenario("waves", latency=Latency.WAVES, **common)
    sweep = make_sweep([model], [paper, waves], TRIALS, seed=4)
    assert len(simulation_groups(sweep)) == 2
    from infscale.engine.pipeline import run_sweep

    by_name = {r.scenario.name: r.curves for r in run_sweep(sweep).runs}
    p, w = by_name["paper"], by_name["waves"]
    assert np.array_equal(p.cost.mean, w.cost.mean) and np.array_equal(p.accuracy.mean, w.accuracy.mean)
    assert np.all(w.time.mean >= p.time.mean * (1 - 1e-12))
    assert np.all(w.time.mean <= parallelism * p.time.mean * (1 + 1e-12))
    assert np.all(w.feasible_probability <= p.feasible_probability)
    assert np.any(w.feasible_probability < p.feasible_probability)  # the budget binds somewhere
    # Means are non-decreasing in k, and a new wave (k = mP + 1) costs at least one more inference.
    assert np.all(np.diff(w.time.mean) >= 0.0)
    starts = np.flatnonzero((w.k[1:] - 1) % parallelism == 0) + 1
    single = exact.expected_time(model, 1, 1)
    assert np.all(w.time.mean[starts] - w.time.mean[starts - 1] >= 0.9 * single)


def test_with_one_slot_waves_equal_the_paper_latency() -> None:
    model = PAPER_MODELS["gpt5"]
    paper = run_one(model, make_scenario(k_max=20, parallelism=1), 2 * BLOCK_TRIALS, seed=2).curves
    waves = run_one(model, make_scenario(k_max=20, parallelism=1, latency=Latency.WAVES), 2 * BLOCK_TRIALS, seed=2).curves
    for name in ("cost", "time", "accuracy"):
        assert np.array_equal(getattr(paper, name).mean, getattr(waves, name).mean), name
        assert np.array_equal(getattr(paper, name).se, getattr(waves, name).se), name


def test_first_k_wave_totals_do_not_depend_on_k_max() -> None:
    model, trials = PAPER_MODELS["gpt5-mini"], 2 * BLOCK_TRIALS
    short = run_one(model, make_scenario(k_max=12, parallelism=4, latency=Latency.WAVES), trials, seed=9).curves
    long = run_one(model, make_scenario(k_max=150, parallelism=4, latency=Latency.WAVES), trials, seed=9).curves
    np.testing.assert_allclose(short.time.mean, long.time.mean[:12], rtol=1e-12)


# --- specs -----------------------------------------------------------------------------------


def test_latency_is_read_validated_and_grouped_on() -> None:
    sweep = load_sweep(sweep_text(scenarios=[
        {"name": "a", "max_total_cost": 0.5, "max_total_time": 60, "min_accuracy": 0.8, "k_max": 16, "parallelism": 4},
        {"name": "b", "max_total_cost": 0.5, "max_total_time": 60, "min_accuracy": 0.8, "k_max": 16, "parallelism": 4,
         "latency": "waves"},
        {"name": "c", "max_total_cost": 0.9, "max_total_time": 30, "min_accuracy": 0.8, "k_max": 16, "parallelism": 4,
         "latency": "paper"},
    ]))
    assert [s.latency for s in sweep.scenarios] == [Latency.PAPER, Latency.WAVES, Latency.PAPER]
    groups = simulation_groups(sweep)
    # The paper's key is what it was before latency models existed (stored sweeps still match).
    assert [g.key for g in groups] == ["gpt5/P4/k16/multiples", "gpt5/P4/k16/multiples/waves"]
    assert [[s.name for s in g.scenarios] for g in groups] == [["a", "c"], ["b"]]
    assert sweep_from_dict(sweep_to_dict(sweep)) == sweep


def test_bad_latency_names_its_field() -> None:
    error = spec_error(lambda: load_sweep(sweep_text(scenario={"latency": "batches"})), SWEEP)
    assert error.field == "scenarios[0].latency" and "'paper' or 'waves'" in error.message


def test_legacy_mode_refuses_waves() -> None:
    text = sweep_text(mode="legacy", scenario={"latency": "waves"})
    assert spec_error(lambda: load_sweep(text), SWEEP).field == "scenarios[0].latency"
    assert load_sweep(sweep_text(mode="legacy", scenario={"latency": "paper"})).mode is Mode.LEGACY


def test_scenarios_stored_before_latency_models_read_as_paper() -> None:
    stored = scenario_to_dict(make_scenario())
    del stored["latency"]
    assert scenario_from_dict(stored).latency is Latency.PAPER
    with pytest.raises(SpecError):
        load_sweep(sweep_text(scenario={"latency": 3}))


def test_a_waves_scenario_runs_stores_and_shows_through_the_cli(tmp_path, capsys) -> None:
    from tests.test_cli import run_cli, write

    text = (
        "name: waves\nmodels: [gpt5]\nscenarios:\n  - balanced\n"
        "  - {name: balanced-waves, max_total_cost: 0.5, max_total_time: 60, min_accuracy: 0.88,"
        " k_max: 128, parallelism: 4, latency: waves}\ntrials: 2000\nseed: 3\n"
    )
    sweep = write(tmp_path, "w.yaml", text)
    db = f"sqlite:///{tmp_path}/w.db"
    code, out, err = run_cli(capsys, "run", str(sweep), "--db", db)
    assert code == 0, err
    assert "P = 4, waves latency)" in out and "P = 4)" in out
    from infscale.storage.sql import SqlStore

    store = SqlStore(db)
    paper = store.curves(1, "gpt5", "balanced").curves
    waves = store.curves(1, "gpt5", "balanced-waves").curves
    assert np.all(waves.time.mean > paper.time.mean)
    k = {c.scenario: c.k for c in store.choices(1) if c.method == "max_accuracy"}
    assert k["balanced-waves"] <= k["balanced"]  # slower waves allow no larger k under the same budget
