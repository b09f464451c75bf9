"""`mode: exact` (engine/exact_curves.py): decisions from exact expectations, no sampling.

- Its means are the closed forms of engine.exact, k by k (and agree with Monte Carlo for the
  waves latency, whose mean needs a quadrature of a maximum).
- Specs: no trial keys, and a chance constraint is refused in one line naming the field.
- `infscale run` stores and shows it like any sweep; `submit` refuses it.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from infscale.engine import exact
from infscale.engine.exact_curves import exact_curves
from infscale.engine.pipeline import run_sweep
from infscale.engine.selection import decide
from infscale.engine.specs import Latency, Mode
from tests.engine_fixtures import PAPER_MODELS, PAPER_SCENARIOS, WIDE, make_model, make_scenario, make_sweep, only_group, run_one
from tests.test_cli import run_cli, write
from tests.test_specs import SWEEP, load_sweep, spec_error, sweep_text


def exact_sweep(models, scenarios):
    return make_sweep(models, scenarios, 0, mode=Mode.EXACT)


@pytest.mark.parametrize("key", ["gpt5", "nvidia-nemotron-nano-9b-v2"])
def test_exact_curves_are_the_closed_forms(key: str) -> None:
    model, scenario = PAPER_MODELS[key], PAPER_SCENARIOS["balanced"]
    (curves,) = exact_curves(only_group(exact_sweep([model], [scenario])))
    k = scenario.grid()
    assert np.allclose(curves.cost.mean, [exact.expected_cost(model, int(j)) for j in k], rtol=1e-12)
    assert np.allclose(curves.time.mean, [exact.expected_time(model, int(j), 4) for j in k], rtol=1e-12)
    assert np.allclose(curves.accuracy.mean, [exact.expected_accuracy(model, int(j)) for j in k], rtol=0, atol=1e-13)
    assert np.all(curves.accuracy.se == 0) and np.all(np.isnan(curves.cost.p50))


@pytest.mark.parametrize("model", [PAPER_MODELS["gpt5"], WIDE], ids=["gpt5", "wide"])
def test_exact_mean_latency_in_waves_agrees_with_monte_carlo(model) -> None:
    scenario = make_scenario(k_max=12, parallelism=4, latency=Latency.WAVES)
    (curves,) = exact_curves(only_group(exact_sweep([model], [scenario])))
    run = run_one(model, scenario, 32 * 1024, seed=2)
    z = (run.curves.time.mean - curves.time.mean) / run.curves.time.se
    assert np.all(np.abs(z) < 4.0), z
    # A wave is as slow as its slowest member: never below the paper's mean latency.
    assert np.all(curves.time.mean >= np.arange(1, 13) * exact.expected_time(model, 1, 1) / 4 - 1e-9)


def test_run_sweep_in_exact_mode_decides_from_the_exact_curves() -> None:
    models = [PAPER_MODELS["gpt5"], make_model("toy")]
    sweep = exact_sweep(models, list(PAPER_SCENARIOS.values()))
    result = run_sweep(sweep)
    assert len(result.runs) == 6 and len(result.recommendations) == 12
    for run in result.runs:
        (curves,) = [c for s, c in zip(only_group(exact_sweep([run.model], [run.scenario])).scenarios,
                                        exact_curves(only_group(exact_sweep([run.model], [run.scenario]))))]
        assert run.decision.choices == decide(curves, run.scenario).choices
        assert run.curves.trials == 0 and all(c.confidence is None for c in run.decision.choices)


def test_exact_mode_specs() -> None:
    text = sweep_text(mode="exact").replace("trials: 1000\n", "")
    sweep = load_sweep(text)
    assert sweep.mode is Mode.EXACT and sweep.trials == 0 and sweep.adaptive is None
    assert spec_error(lambda: load_sweep(sweep_text(mode="exact")), SWEEP).field == "trials"
    error = spec_error(lambda: load_sweep(sweep_text({"min_probability": 0.9}, mode="exact").replace("trials: 1000\n", "")), SWEEP)
    assert error.field == "scenarios[0].min_probability" and "needs sampling" in str(error)


def test_run_stores_and_shows_an_exact_sweep(tmp_path, capsys) -> None:
    sweep = write(tmp_path, "exact.yaml", "name: e\nmodels: [gpt5, gpt5-nano]\nscenarios: [balanced]\nmode: exact\n")
    db = f"sqlite:///{tmp_path}/e.db"
    code, out, err = run_cli(capsys, "run", str(sweep), "--db", db)
    assert code == 0, err
    assert "exact expectations, no trials" in out and "exact mode" in out
    code, out, err = run_cli(capsys, "results", "--db", db, "--json")
    rows = {(r["model"], r["method"]): r for r in json.loads(out)["results"]}
    assert rows["gpt5", "max_accuracy"]["k"] == 20  # the notebook's 300 trials pick 16 (science.md section 4)
    code, out, err = run_cli(capsys, "curves", "--db", db, "--model", "gpt5", "--scenario", "balanced", "--json")
    assert code == 0, err
    code, out, err = run_cli(capsys, "validate", str(sweep))
    assert code == 0 and "2 runs decided from exact expectations, no trials" in out
    code, out, err = run_cli(capsys, "submit", str(sweep), "--db", db)
    assert code == 2 and "exact mode samples nothing" in err and err.count("\n") == 1
