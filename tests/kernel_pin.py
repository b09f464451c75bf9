"""Small standard-mode runs whose exact statistics are pinned in tests/data/kernel_pin.npz.

The stored arrays were written by the simulation kernel as it was before the fused kernel
(issue 14), so `test_kernel_pin` proves that rewriting the kernel changed no bit of any
partial (sums, centred squares, budget counts, histograms) nor of the curves summarised
from it. The cases cover every branch of the kernel: best-of-k accuracy with every clip
binding, paper and waves latency, both correctness models, a k_max that is not a multiple
of the row chunk, a short last block, several scenarios with budgets that bind part-way.

    python -m tests.kernel_pin     # rewrite the file (only with a kernel known to be right)

The empirical model (engine.empirical), added after the rewrite, has its own file,
tests/data/empirical_pin.npz, written by its first version, so that later changes to its draws
or sums show up the same way:

    python -m tests.kernel_pin --empirical     # rewrite only that file
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from infscale.engine.plan import BlockPlan, SimulationGroup
from infscale.engine.simulation import simulate_blocks
from infscale.engine.specs import AccuracyModel, KGrid, Latency
from infscale.engine.statistics import bins_for, summarize
from tests.engine_fixtures import PAPER_MODELS, WIDE, make_model, make_scenario

PATH = Path(__file__).parent / "data" / "kernel_pin.npz"
EMPIRICAL_PATH = Path(__file__).parent / "data" / "empirical_pin.npz"
PARTIAL_FIELDS = ("blocks", "trials", "sums", "m2", "feasible", "hist")
CURVE_FIELDS = ("mean", "se", "p05", "p50", "p95")
SEED = 20261202
TRIALS = 2 * 1024 + 300  # two whole blocks and a short one

_PASS = make_model("pass", accuracy_model=AccuracyModel.PASS_AT_K, alpha=0.6, beta=1.4)
_VOTE = make_model("vote", accuracy_model=AccuracyModel.MAJORITY_VOTE, alpha=2.0, beta=1.5)


def _group(model, k_max, parallelism, grid, latency, budgets) -> SimulationGroup:
    scenarios = tuple(
        make_scenario(
            f"s{i}", max_total_cost=c, max_total_time=t, min_accuracy=a,
            k_max=k_max, parallelism=parallelism, k_grid=grid, latency=latency,
        )
        for i, (c, t, a) in enumerate(budgets)
    )
    return SimulationGroup(model, parallelism, k_max, grid, scenarios)


def cases() -> dict[str, SimulationGroup]:
    """Name -> group. Budgets chosen to be met by part of the trials at part of the k."""
    gpt5 = PAPER_MODELS["gpt5"]
    return {
        "gpt5-paper-P4-multiples": _group(
            gpt5, 150, 4, KGrid.MULTIPLES, Latency.PAPER, [(0.5, 60.0, 0.88), (0.3, 25.0, 0.95)]
        ),
        "wide-paper-P1-all": _group(WIDE, 70, 1, KGrid.ALL, Latency.PAPER, [(2e-3, 2.0, 0.7)]),
        "wide-waves-P3-all": _group(WIDE, 67, 3, KGrid.ALL, Latency.WAVES, [(2e-3, 1.0, 0.8), (1.0, 1e9, 0.0)]),
        "pass-paper-P2-all": _group(_PASS, 130, 2, KGrid.ALL, Latency.PAPER, [(1.0, 1e9, 0.5)]),
        "vote-waves-P5-multiples": _group(_VOTE, 135, 5, KGrid.MULTIPLES, Latency.WAVES, [(0.5, 100.0, 0.5)]),
    }


def empirical_cases() -> dict[str, SimulationGroup]:
    """Name -> group of the empirical model: both keys (paper and waves latency, cached billing),
    graded scores without latency, and each key alone."""
    from dataclasses import replace

    from infscale.engine.validation import catalog_from_mapping
    from tests.eval_logs import generated_log

    log = generated_log(7, queries=40, samples=5)
    graded = replace(log, score=np.round(np.linspace(0.0, 1.0, log.samples) ** 2, 4), latency_s=None)
    prices = dict(c_in=2e-6, c_out=8e-6)
    normal = dict(mu_Lin=900.0, sigma_Lin=300.0, mu_Lout=400.0, sigma_Lout=120.0, t_in=2e-4, t_out=0.012)
    entries = {
        "both": dict(lengths="empirical", accuracy_model="empirical", data=log, input_billing="cached", c_in_cached=5e-7),
        "graded": dict(lengths="empirical", accuracy_model="empirical", data=graded, t_in=2e-4, t_out=0.012, t_fixed=0.3),
        "accuracy": dict(accuracy_model="empirical", data=log, **normal),
        "lengths": dict(lengths="empirical", data=log, accuracy_model="pass_at_k", alpha=0.8, beta=1.5),
    }
    models = catalog_from_mapping({"models": {k: {**prices, **v} for k, v in entries.items()}}, "pin.yaml")
    return {
        "both-paper-P4-multiples": _group(models["both"], 150, 4, KGrid.MULTIPLES, Latency.PAPER, [(0.05, 40.0, 0.6)]),
        "both-waves-P3-all": _group(models["both"], 67, 3, KGrid.ALL, Latency.WAVES, [(0.02, 30.0, 0.6)]),
        "graded-paper-P1-all": _group(models["graded"], 70, 1, KGrid.ALL, Latency.PAPER, [(0.05, 200.0, 0.9)]),
        "accuracy-paper-P2-all": _group(models["accuracy"], 40, 2, KGrid.ALL, Latency.PAPER, [(0.05, 60.0, 0.6)]),
        "lengths-waves-P5-multiples": _group(models["lengths"], 135, 5, KGrid.MULTIPLES, Latency.WAVES, [(0.1, 60.0, 0.6)]),
    }


def compute(group: SimulationGroup) -> dict[str, np.ndarray]:
    """Every array of the group's partial over all blocks, and of its curves per scenario."""
    plan = BlockPlan(TRIALS, 1024)
    bins = bins_for(group)
    partial = simulate_blocks(group, SEED, plan, range(plan.n_blocks), bins)
    out = {f: np.asarray(getattr(partial, f)) for f in PARTIAL_FIELDS}
    for s, curves in enumerate(summarize(partial, group, bins)):
        out[f"s{s}.feasible_probability"] = curves.feasible_probability
        for metric in ("cost", "time", "accuracy"):
            for field in CURVE_FIELDS:
                out[f"s{s}.{metric}.{field}"] = getattr(getattr(curves, metric), field)
    return out


def write(path: Path, groups: dict[str, SimulationGroup]) -> None:
    arrays = {f"{name}/{key}": value for name, group in groups.items() for key, value in compute(group).items()}
    np.savez_compressed(path, **arrays)


if __name__ == "__main__":
    import sys

    if "--empirical" in sys.argv:
        write(EMPIRICAL_PATH, empirical_cases())
    else:
        write(PATH, cases())
