"""Decision confidence (engine/confidence.py): the estimated probability that a choice is right,
from draws of the true means given the run's trial blocks (its calibration: test_calibration.py).

- Near 1 for a clear decision, clearly below 1 for a near-tie built on purpose (a cost budget
  placed exactly on the mean cost of the chosen k).
- Reproducible: the same for any sharding of the blocks; none for a single block or legacy mode.
- Stored in choices.confidence and shown by `results` (table and `--json`).
- Vectorised across scenarios (issue 14) and still the per-scenario computation, bit for bit
  (tests/confidence_reference.py), in chunks of any size.
"""

from __future__ import annotations

import json

from dataclasses import replace

import numpy as np
import pytest

from infscale.engine import confidence as engine_confidence
from infscale.engine.intervals import with_bounded_accuracy_se
from infscale.engine.pipeline import finish_group, run_sweep, simulate_shard
from infscale.engine.plan import BLOCK_TRIALS, block_plan, shard_ranges, simulation_groups
from infscale.engine.selection import Method, Status, decide
from infscale.engine.specs import Knee, Mode
from infscale.engine.statistics import bins_for, summarize
from tests import confidence_reference
from tests.engine_fixtures import PAPER_MODELS, PAPER_SCENARIOS, make_model, make_scenario, make_sweep, only_group, run_one
from tests.test_cli import run_cli, write

TRIALS = 16 * BLOCK_TRIALS
MODEL = make_model("toy")
K_TIE = 10


def cost_means(trials: int = TRIALS, seed: int = 3) -> np.ndarray:
    return run_one(MODEL, make_scenario(k_max=20), trials, seed).curves.cost.mean


def confidence_of(run, method: Method) -> float | None:
    return run.decision.choice(method).confidence


def test_clear_decision_has_confidence_near_1() -> None:
    """Cost budget halfway between the mean costs of k = 10 and 11: every resample agrees."""
    cost = cost_means()
    run = run_one(MODEL, make_scenario(max_total_cost=(cost[K_TIE - 1] + cost[K_TIE]) / 2, k_max=20), TRIALS, seed=3)
    choice = run.decision.choice(Method.MAX_ACCURACY)
    assert (choice.status, choice.k) == (Status.OK, K_TIE)
    assert choice.confidence >= 0.99


def test_near_tie_has_confidence_clearly_below_1() -> None:
    """Cost budget equal to the mean cost of k = 10 on these very draws: k = 10 is (just) feasible,
    but about half of the resamples see its mean cost above the budget and pick k = 9."""
    cost = cost_means()
    run = run_one(MODEL, make_scenario(max_total_cost=cost[K_TIE - 1], k_max=20), TRIALS, seed=3)
    choice = run.decision.choice(Method.MAX_ACCURACY)
    assert (choice.status, choice.k) == (Status.OK, K_TIE)
    assert 0.25 < choice.confidence < 0.75
    # The other methods' picks lie far from the budget: they are sure.
    assert confidence_of(run, Method.MAX_CUBE) >= 0.95


def test_confidence_is_the_same_for_any_sharding() -> None:
    scenario = make_scenario(max_total_cost=cost_means()[K_TIE - 1], k_max=20)
    sweep = make_sweep([MODEL], [scenario], TRIALS, seed=3)
    group = only_group(sweep)
    n_blocks = block_plan(sweep).n_blocks
    (whole,) = finish_group(sweep, group, [simulate_shard(sweep, group, range(n_blocks))])
    for per_shard in (1, 5):
        shards = [simulate_shard(sweep, group, r) for r in shard_ranges(n_blocks, per_shard)]
        (run,) = finish_group(sweep, group, shards[::-1])
        assert run.decision.choices == whole.decision.choices


def test_infeasible_and_no_knee_decisions_have_a_confidence_too() -> None:
    infeasible = run_one(MODEL, make_scenario(min_accuracy=0.999999, k_max=8), 4 * BLOCK_TRIALS, seed=1)
    assert all(c.status is Status.INFEASIBLE and c.confidence == 1.0 for c in infeasible.decision.choices)
    run = run_one(PAPER_MODELS["gpt5"], PAPER_SCENARIOS["latency-critical"], 4 * BLOCK_TRIALS, seed=1)
    knee = run.decision.choice(Method.KNEE)
    assert knee.status is Status.NO_KNEE and knee.confidence is not None


def test_no_confidence_from_a_single_block_or_in_legacy_mode() -> None:
    assert confidence_of(run_one(MODEL, make_scenario(k_max=8), BLOCK_TRIALS, seed=1), Method.MAX_ACCURACY) is None
    legacy = run_one(MODEL, make_scenario(k_max=4), 50, seed=1, mode=Mode.LEGACY)
    assert all(c.confidence is None for c in legacy.decision.choices)


def test_results_show_and_store_confidence(tmp_path, capsys) -> None:
    cost = cost_means()
    text = (
        "name: tie\ncatalog: cat.yaml\nscenarios:\n"
        f"  - {{name: tie, max_total_cost: {float(cost[K_TIE - 1])!r}, max_total_time: 1000000000, min_accuracy: 0, "
        "k_max: 20, parallelism: 1, k_grid: all}\n"
        f"trials: {TRIALS}\nseed: 3\n"
    )
    catalog = (
        "models:\n  toy: {name: toy, c_in: 1.0e-6, c_out: 1.0e-5, t_in: 1.0e-3, t_out: 1.0e-2, mu_Lin: 500,"
        " sigma_Lin: 50, mu_Lout: 1000, sigma_Lout: 100, acc_mean: 0.8, acc_std: 0.1}\n"
    )
    write(tmp_path, "cat.yaml", catalog)
    sweep = write(tmp_path, "tie.yaml", text)
    db = f"sqlite:///{tmp_path}/t.db"
    code, out, err = run_cli(capsys, "run", str(sweep), "--db", db)
    assert code == 0, err
    assert "in brackets its confidence" in out
    code, out, err = run_cli(capsys, "results", "--db", db, "--json")
    assert code == 0, err
    by_method = {r["method"]: r for r in json.loads(out)["results"]}
    assert by_method["max_accuracy"]["k"] == K_TIE and 0.25 < by_method["max_accuracy"]["confidence"] < 0.75
    assert all(0.0 <= r["confidence"] <= 1.0 for r in by_method.values())
    # The same as the engine computes: the stored value is the run's.
    want = run_one(MODEL, make_scenario("tie", max_total_cost=cost[K_TIE - 1], max_total_time=1e9, k_max=20),
                   TRIALS, seed=3)
    assert by_method["max_accuracy"]["confidence"] == confidence_of(want, Method.MAX_ACCURACY)
    code, out, err = run_cli(capsys, "results", "--db", db)
    assert f"{K_TIE} ({by_method['max_accuracy']['confidence']:.2f})" in out


def test_paper_decisions_are_mostly_sure() -> None:
    """GPT-5 under the three paper scenarios with 16 blocks: the cube and utopia picks, and the
    budget-bound maximal accuracy of balanced and latency-critical, are sure; the saturated
    maximal accuracy of accuracy-critical is not (its pick is within the noise of the tolerance)."""
    sweep = make_sweep([PAPER_MODELS["gpt5"]], list(PAPER_SCENARIOS.values()), TRIALS, seed=42)
    for run in run_sweep(sweep).runs:
        for method in (Method.MAX_ACCURACY, Method.MAX_CUBE, Method.UTOPIA):
            if (run.scenario.name, method) != ("accuracy-critical", Method.MAX_ACCURACY):
                assert confidence_of(run, method) >= 0.9, (run.scenario.name, method)


def test_cross_model_recommendations_carry_a_confidence() -> None:
    models = [PAPER_MODELS["gpt5"], PAPER_MODELS["gpt5-nano"]]
    result = run_sweep(make_sweep(models, [PAPER_SCENARIOS["balanced"]], TRIALS, seed=42))
    assert all(0.0 <= r.confidence <= 1.0 for r in result.recommendations)
    cube = next(r for r in result.recommendations if r.method is Method.MAX_CUBE)
    assert cube.confidence >= 0.9  # gpt5-nano k=4 is far cheaper than anything else
    legacy = run_sweep(make_sweep(models, [PAPER_SCENARIOS["balanced"]], 300, seed=42, mode=Mode.LEGACY))
    assert all(r.confidence is None for r in legacy.recommendations)


def shared_scenarios() -> list:
    """Scenarios sharing one simulation (k <= 24, every k): budgets on the means that bind
    part-way, chance constraints, nothing feasible, the paper's argmax, no budget at all."""
    return [
        make_scenario("cost", max_total_cost=0.004, max_total_time=1e9, min_accuracy=0.85, k_max=24),
        make_scenario("time", max_total_cost=1e9, max_total_time=60.0, min_accuracy=0.0, k_max=24),
        make_scenario("chance", max_total_cost=0.006, max_total_time=120.0, min_accuracy=0.9, k_max=24,
                      min_probability=0.9),
        make_scenario("chance-half", max_total_cost=0.003, max_total_time=80.0, min_accuracy=0.85, k_max=24,
                      min_probability=0.5),
        make_scenario("infeasible", min_accuracy=0.9999999, k_max=24),
        make_scenario("argmax", max_total_cost=0.01, max_total_time=1e9, min_accuracy=0.8, k_max=24,
                      accuracy_tolerance=0.0),
        make_scenario("open", k_max=24),
    ]


@pytest.mark.parametrize("knee", [Knee.CHORD, Knee.CURVATURE])
@pytest.mark.parametrize("blocks, seed", [(2, 1), (3, 5), (8, 42)])
def test_vectorised_confidence_is_the_per_scenario_computation(knee: Knee, blocks: int, seed: int, monkeypatch) -> None:
    """The same confidence, bit for bit, as scenario by scenario with `decide` on every draw
    for the knee (tests/confidence_reference.py), whatever the chunks of scenarios: chord and
    curvature knees, chance constraints, infeasible runs, no knee; two blocks give draws whose
    cost or time does not rise with k (the draw-by-draw path), more blocks do not."""
    models = [MODEL, PAPER_MODELS["gpt5-nano"], PAPER_MODELS["gpt5"]]
    scenarios = shared_scenarios() + list(PAPER_SCENARIOS.values())
    sweep = replace(make_sweep(models, scenarios, blocks * BLOCK_TRIALS, seed), knee=knee)
    statuses = set()
    for group in simulation_groups(sweep):
        partial = simulate_shard(sweep, group, range(blocks))
        curves = [with_bounded_accuracy_se(c) for c in summarize(partial, group, bins_for(group))]
        decisions = [decide(c, s, knee) for s, c in zip(group.scenarios, curves)]
        statuses |= {c.status for d in decisions for c in d.choices}
        want = confidence_reference.confidence(partial, group, decisions, seed, knee)
        for cells in (1, 2 * engine_confidence.REPLICATES * group.grid().size, engine_confidence.CHUNK_CELLS):
            monkeypatch.setattr(engine_confidence, "CHUNK_CELLS", cells)
            monkeypatch.setattr(engine_confidence, "MEETING_CELLS", cells)
            assert engine_confidence.confidence(partial, group, decisions, seed, knee) == want, (group.key, cells)
    assert statuses == set(Status)


def test_the_chord_knees_planar_arithmetic_is_numpys_einsum_and_norm() -> None:
    """engine.confidence writes the chord knee per coordinate; the confidences stored before were
    computed with numpy's einsum and norm over (..., 3) arrays. On a million random vectors of
    mixed scales the planar sums give the same bits (a numpy whose einsum summed in another
    order would fail here first)."""
    rng = np.random.default_rng(14)
    scale = 10.0 ** rng.integers(-6, 4, size=(1_000_000, 1))
    offset, unit = rng.standard_normal((1_000_000, 3)) * scale, rng.standard_normal((1_000_000, 3))
    (ox, oy, oz), (ux, uy, uz) = offset.T, unit.T
    assert np.array_equal(np.einsum("rc,rc->r", offset, unit), (ox * ux + oz * uz) + oy * uy)
    assert np.array_equal(np.linalg.norm(offset, axis=1), np.sqrt((ox * ox + oy * oy) + oz * oz))
