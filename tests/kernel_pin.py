"""Small standard-mode runs whose exact statistics are pinned in tests/data/kernel_pin.npz.

The stored arrays were written by the simulation kernel as it was before the fused kernel
(issue 14), so `test_kernel_pin` proves that rewriting the kernel changed no bit of any
partial (sums, centred squares, budget counts, histograms) nor of the curves summarised
from it. The cases cover every branch of the kernel: best-of-k accuracy with every clip
binding, paper and waves latency, both correctness models, a k_max that is not a multiple
of the row chunk, a short last block, several scenarios with budgets that bind part-way.

    python -m tests.kernel_pin     # rewrite the file (only with a kernel known to be right)
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


def write() -> None:
    arrays = {f"{name}/{key}": value for name, group in cases().items() for key, value in compute(group).items()}
    np.savez_compressed(PATH, **arrays)


if __name__ == "__main__":
    write()
