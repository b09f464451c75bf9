"""Honest uncertainty for rare events (engine/intervals.py): Wilson intervals never collapse.

- The Wilson interval's ends in closed form at x = n, and its coverage over many binomial
  samples near the edge (p = 0.999, n = 1000), where mean +- 1.96 SE covers far less often.
- A run whose accuracy saturates at 1 in every trial reports a positive standard error, and
  `curves --json` gives lower and upper bounds per k for accuracy and P(all budgets met).
"""

from __future__ import annotations

import json

import numpy as np

from infscale.engine.intervals import Z_95, bounded_mean_interval, wilson_interval
from infscale.engine.plan import BLOCK_TRIALS
from tests.engine_fixtures import make_model, make_scenario, run_one
from tests.test_cli import run_cli, write


def test_wilson_ends_at_all_or_none() -> None:
    lo, hi = wilson_interval(np.array([1.0, 0.0]), 1000)
    assert abs(lo[0] - 1000 / (1000 + Z_95**2)) < 1e-12 and hi[0] == 1.0
    assert abs(lo[1]) < 1e-12 and abs(hi[1] - Z_95**2 / (1000 + Z_95**2)) < 1e-12


def test_wilson_covers_near_the_edge_where_the_normal_interval_does_not() -> None:
    rng = np.random.default_rng(7)
    p, n = 0.999, 1000
    x = rng.binomial(n, p, size=4000) / n
    lo, hi = wilson_interval(x, n)
    wilson = np.mean((lo <= p) & (p <= hi))
    se = np.sqrt(x * (1 - x) / n)
    normal = np.mean((x - Z_95 * se <= p) & (p <= x + Z_95 * se))
    # Wilson dips a little below 95% this close to the edge (one expected miss per sample);
    # the normal interval, whose SE is 0 whenever no trial missed, covers about 63%.
    assert wilson >= 0.9 and normal < 0.75, (wilson, normal)


def test_saturated_accuracy_has_a_positive_standard_error(tmp_path, capsys) -> None:
    sure = make_model("sure", acc_mean=1.5, acc_std=0.1)  # every clipped score is 1
    run = run_one(sure, make_scenario(k_max=4), 2 * BLOCK_TRIALS, seed=1)
    assert np.all(run.curves.accuracy.mean == 1.0) and np.all(run.curves.accuracy.se > 0)
    lo, hi = bounded_mean_interval(run.curves.accuracy.mean, np.zeros(4), run.curves.trials)
    assert np.all(lo < 1.0) and np.all(hi == 1.0)
    sweep = write(tmp_path, "s.yaml", "name: s\nmodels: [gpt5]\nscenarios: [balanced]\ntrials: 2048\nseed: 1\n")
    db = f"sqlite:///{tmp_path}/s.db"
    assert run_cli(capsys, "run", str(sweep), "--db", db)[0] == 0
    code, out, err = run_cli(capsys, "curves", "--db", db, "--model", "gpt5", "--scenario", "balanced", "--json")
    doc = json.loads(out)
    for name in ("accuracy", "feasible_probability"):
        value = doc[f"{name}_mean"] if name == "accuracy" else doc[name]
        assert all(lo <= v <= hi for lo, v, hi in zip(doc[f"{name}_lower"], value, doc[f"{name}_upper"]))
        assert all(lo < hi for lo, hi in zip(doc[f"{name}_lower"], doc[f"{name}_upper"]))


def test_pass_at_k_accuracy_is_a_proportion_with_wilson_bounds(tmp_path, capsys) -> None:
    """Correctness accuracy (pass@k: each trial 0 or 1) gets the Wilson interval of its mean at
    every k, not mean +- z SE; the Gaussian score model keeps the bounded-mean interval."""
    catalog = write(tmp_path, "c.yaml", (
        "models:\n  easy:\n    name: Easy\n    c_in: 1.0e-6\n    c_out: 1.0e-6\n    t_in: 1.0e-4\n"
        "    t_out: 1.0e-3\n    mu_Lin: 100\n    sigma_Lin: 10\n    mu_Lout: 100\n    sigma_Lout: 10\n"
        "    accuracy_model: pass_at_k\n    alpha: 2.0\n    beta: 0.5\n"
    ))
    sweep = write(tmp_path, "s.yaml", f"name: s\ncatalog: {catalog}\nmodels: [easy]\nscenarios: [balanced]\n"
                                      "trials: 2048\nseed: 3\n")
    db = f"sqlite:///{tmp_path}/p.db"
    assert run_cli(capsys, "run", str(sweep), "--db", db)[0] == 0
    code, out, _ = run_cli(capsys, "curves", "--db", db, "--model", "easy", "--scenario", "balanced", "--json")
    doc = json.loads(out)
    lo, hi = wilson_interval(np.array(doc["accuracy_mean"]), doc["trials"])
    assert np.allclose(doc["accuracy_lower"], lo) and np.allclose(doc["accuracy_upper"], hi)
    normal = np.array(doc["accuracy_mean"]) - Z_95 * np.array(doc["accuracy_se"])
    assert not np.allclose(doc["accuracy_lower"], normal)  # a different interval, not a relabelled one
    assert all(0 < h - l for l, h in zip(doc["accuracy_lower"], doc["accuracy_upper"]))
