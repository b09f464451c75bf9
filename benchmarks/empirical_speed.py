"""Simulation speed of the empirical model against the normal one (issue 15 item 2).

    python benchmarks/empirical_speed.py            # 16 blocks per repeat, 7 repeats
    python benchmarks/empirical_speed.py --quick    # 4 blocks, 3 repeats

One core, k_max 1024, parallelism 4, grid all, paper latency: simulated inferences per second
of GPT-5 (normal lengths, Gaussian best-of-k) and of the model of examples/eval-log.jsonl
(500 samples) resampled from its log, with both keys empirical and with each alone. Medians
of interleaved repeats in process CPU time, after one warm-up block each (numba's compile).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from infscale.engine.catalog import PAPER, builtin_catalog  # noqa: E402
from infscale.engine.plan import BLOCK_TRIALS, BlockPlan, SimulationGroup  # noqa: E402
from infscale.engine.simulation import simulate_blocks  # noqa: E402
from infscale.engine.specs import AccuracyModel, KGrid, Lengths, ScenarioSpec  # noqa: E402
from infscale.engine.statistics import bins_for  # noqa: E402
from infscale.readers.sweep_files import load_catalog_file  # noqa: E402

K_MAX = 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    blocks, repeats = (4, 3) if args.quick else (16, 7)
    both = load_catalog_file(str(ROOT / "examples" / "catalog-empirical.yaml"))["from-log"]
    models = {
        "normal (gpt5)": builtin_catalog(PAPER)["gpt5"],
        "empirical lengths + accuracy": both,
        "empirical accuracy only": replace(both, lengths=Lengths.NORMAL, mu_Lin=894.0, sigma_Lin=324.0,
                                           mu_Lout=388.0, sigma_Lout=116.0, t_in=2.5e-4, t_out=0.012),
        "empirical lengths only": replace(both, accuracy_model=AccuracyModel.GAUSSIAN_BEST_OF_K, acc_mean=0.6, acc_std=0.2),
    }
    scenario = ScenarioSpec("bench", 1e9, 1e9, 0.0, K_MAX, 4, KGrid.ALL)
    plan = BlockPlan(blocks * BLOCK_TRIALS, BLOCK_TRIALS)
    groups = {name: SimulationGroup(m, 4, K_MAX, KGrid.ALL, (scenario,)) for name, m in models.items()}
    for group in groups.values():  # warm-up: compile, bins
        simulate_blocks(group, 1, BlockPlan(BLOCK_TRIALS, BLOCK_TRIALS), [0], bins_for(group))
    seconds: dict[str, list[float]] = {name: [] for name in groups}
    for r in range(repeats):
        for name, group in groups.items():
            start = time.process_time()
            simulate_blocks(group, r, plan, range(blocks), bins_for(group))
            seconds[name].append(time.process_time() - start)
    inferences = blocks * BLOCK_TRIALS * K_MAX
    print(f"log: {both.data.source} ({both.data.n_queries} queries, {both.data.n_samples} samples); "
          f"{inferences:,} inferences per repeat, median of {repeats}")
    base = statistics.median(seconds["normal (gpt5)"])
    for name, values in seconds.items():
        median = statistics.median(values)
        print(f"  {name:<30} {inferences / median / 1e6:7.2f} M inferences/s  ({median / base:.2f}x the normal model's time)")


if __name__ == "__main__":
    main()
