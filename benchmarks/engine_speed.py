"""Engine speed and memory figures for the README (issue: engine and local run).

    python benchmarks/engine_speed.py            # every figure (about a quarter of an hour)
    python benchmarks/engine_speed.py --quick    # smaller runs, same figures
    python benchmarks/engine_speed.py --only scaling [--scaling-trials N]   # scenario scaling alone

1. Throughput on one core: GPT-5, k_max 1024, parallelism 1, grid all; simulated inferences
   per second and the ratio to numpy's own rate for drawing the three normals an inference
   needs (goal >= 0.75), medians of interleaved repeats in CPU time; then how much faster
   numpy draws with other bit generators or float32 (what switching streams could buy).
2. The Pareto frontier of real curves at 1,024 feasible k: the general 3-D method against the
   prefix maximum that cost and time rising with k allow (same mask).
3. Against legacy mode on the notebook defaults (GPT-5, balanced) at equal trials (goal >= 100x).
4. Peak memory (max RSS of the process and of its largest child) of `infscale run` with
   1,000,000 trials at k_max 1024 (goal <= 300 MB).
5. The decision confidence's share of the run time of examples/paper.yaml, serially in one
   process (goal <= 10%): per-run confidence and the cross-model recommendations' confidence.
6. Scenario scaling: `infscale run --workers 1` of the nine paper models under 3, 30 and 300
   scenarios that share the same 27 simulations (each paper scenario's k_max, parallelism and
   grid, with a grid of budgets; every seventh a chance constraint), at the same trials, each
   in a fresh process: wall time, the time in the per-run and the cross-model confidence, the
   process's peak memory (max RSS), and the ratios to 3 scenarios (goal: 300 within 2x).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from infscale.engine.catalog import PAPER, builtin_catalog, builtin_scenarios  # noqa: E402
from infscale.engine.legacy import simulate_legacy  # noqa: E402
from infscale.engine.plan import BlockPlan, SimulationGroup  # noqa: E402
from infscale.engine.simulation import simulate_blocks  # noqa: E402
from infscale.engine.specs import KGrid, ScenarioSpec  # noqa: E402
from infscale.engine.frontier import general_pareto_mask, pareto_mask  # noqa: E402
from infscale.engine.statistics import bins_for, summarize  # noqa: E402


def throughput(blocks: int, repeats: int = 5) -> None:
    model = builtin_catalog(PAPER)["gpt5"]
    scenario = ScenarioSpec("bench", 0.5, 60.0, 0.9, 1024, 1, KGrid.ALL)
    group = SimulationGroup(model, 1, 1024, KGrid.ALL, (scenario,))
    plan = BlockPlan(1024 * blocks, 1024)
    bins = bins_for(group)
    simulate_blocks(group, 7, plan, range(1), bins)  # warm up (and compile, the first time)
    n = plan.trials * 1024
    ours, bound = [], []
    for _ in range(repeats):  # interleaved, so both see the same load on a shared machine
        start = time.process_time()
        simulate_blocks(group, 7, plan, range(blocks), bins)
        ours.append(n / (time.process_time() - start))
        bound.append(normal_rate(np.random.PCG64, np.float64, blocks))
    ours_rate, numpy_rate = statistics.median(ours), statistics.median(bound)
    ratio = statistics.median(o / b for o, b in zip(ours, bound))
    print(f"throughput (1 core, GPT-5, k_max 1024, P 1, grid all, {plan.trials} trials, median of {repeats}, CPU time):")
    print(f"  infscale  {ours_rate / 1e6:8.2f} M inferences/s")
    print(f"  numpy     {numpy_rate / 1e6:8.2f} M inferences/s (three PCG64 float64 normal draws each, nothing else)")
    print(f"  ratio     {ratio:8.2f}   (goal >= 0.75)")
    print("  the bound with other streams (not used: a switch changes every result and would need a stream")
    print("  version stored per sweep), relative to PCG64 float64:")
    for name, bits, dtype in (
        ("PCG64DXSM float64", np.random.PCG64DXSM, np.float64), ("SFC64 float64", np.random.SFC64, np.float64),
        ("Philox float64", np.random.Philox, np.float64), ("PCG64 float32", np.random.PCG64, np.float32),
        ("SFC64 float32", np.random.SFC64, np.float32),
    ):
        rates = [normal_rate(bits, dtype, blocks) / normal_rate(np.random.PCG64, np.float64, blocks) for _ in range(repeats)]
        print(f"    {name:18s} {statistics.median(rates):5.2f}x")


def normal_rate(bit_generator: type, dtype: type, blocks: int) -> float:
    """Inferences per CPU second when each needs three standard normals of `dtype`, drawn in
    1,048,576-draw calls from `bit_generator` (the loc/scale a draw needs included for float64)."""
    rng = np.random.Generator(bit_generator(7))
    n = 1 << 20
    start = time.process_time()
    for _ in range(blocks):
        if dtype is np.float64:
            rng.normal(1024.0, 64.0, size=n)
            rng.normal(2048.0, 128.0, size=n)
            rng.normal(0.94, 0.02, size=n)
        else:
            for _ in range(3):
                rng.standard_normal(size=n, dtype=dtype)
    return blocks * n / (time.process_time() - start)


def legacy_speedup(trials: int) -> None:
    model = builtin_catalog(PAPER)["gpt5"]
    scenario = builtin_scenarios()["balanced"]
    group = SimulationGroup(model, scenario.parallelism, scenario.k_max, scenario.k_grid, (scenario,))
    bins = bins_for(group)
    start = time.perf_counter()
    simulate_legacy(group, 42, trials, bins)
    legacy = time.perf_counter() - start
    plan = BlockPlan(trials, 1024)
    start = time.perf_counter()
    simulate_blocks(group, 42, plan, range(plan.n_blocks), bins)
    ours = time.perf_counter() - start
    print(f"legacy vs standard (GPT-5, balanced: k_max 128, P 4, {trials} trials each, 1 core):")
    print(f"  legacy {legacy:7.2f} s   standard {ours:7.3f} s   speed-up {legacy / ours:6.0f}x   (goal >= 100x)")


def frontier_speedup(blocks: int, repeats: int = 200) -> None:
    model = builtin_catalog(PAPER)["gpt5"]
    scenario = ScenarioSpec("bench", 1e9, 1e9, 0.0, 1024, 1, KGrid.ALL)  # every k feasible
    group = SimulationGroup(model, 1, 1024, KGrid.ALL, (scenario,))
    plan = BlockPlan(1024 * blocks, 1024)
    bins = bins_for(group)
    (curves,) = summarize(simulate_blocks(group, 7, plan, range(blocks), bins), group, bins)
    c, t, a = curves.cost.mean, curves.time.mean, curves.accuracy.mean
    assert np.array_equal(pareto_mask(c, t, a), general_pareto_mask(c, t, a))
    seconds = {}
    for name, fn in (("general", lambda: general_pareto_mask(c, t, a)), ("prefix max", lambda: pareto_mask(c, t, a))):
        runs = []
        for _ in range(5):
            start = time.process_time()
            for _ in range(repeats):
                fn()
            runs.append((time.process_time() - start) / repeats)
        seconds[name] = statistics.median(runs)
    print(f"Pareto frontier of real curves (GPT-5, 1024 feasible k, {plan.trials} trials; same mask), median of 5:")
    print(f"  general 3-D {seconds['general'] * 1e3:7.3f} ms   prefix maximum {seconds['prefix max'] * 1e3:7.3f} ms"
          f"   speed-up {seconds['general'] / seconds['prefix max']:5.0f}x")


def peak_memory(trials: int) -> None:
    sweep = (
        "name: memory-benchmark\nmodels: [gpt5]\n"
        "scenarios:\n  - {name: wide, max_total_cost: 10, max_total_time: 3000, min_accuracy: 0.9,"
        " k_max: 1024, parallelism: 1, k_grid: all}\n"
        f"trials: {trials}\nseed: 1\n"
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "sweep.yaml")
        path.write_text(sweep)
        script = (
            "import resource, sys; from infscale.cli.main import main; rc = main(sys.argv[1:]);"
            "me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss;"
            "kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss;"
            "print(f'RSS {me} {kids}', file=sys.stderr); sys.exit(rc)"
        )
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-c", script, "run", str(path), "--db", f"sqlite:///{tmp}/m.db", "--json"],
            cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    me, kids = (int(x) for x in proc.stderr.strip().splitlines()[-1].split()[1:])
    print(f"peak memory of `infscale run` ({trials} trials, k_max 1024, grid all, {os.cpu_count()} cores, {seconds:.0f} s):")
    print(f"  main process {me / 1024:6.0f} MB   largest worker {kids / 1024:6.0f} MB   (goal <= 300 MB)")



def confidence_share(trials: int, repeats: int = 3) -> None:
    import infscale.engine.pipeline as pipeline
    from dataclasses import replace as dc_replace
    from infscale.engine.pipeline import run_sweep
    from infscale.readers.sweep_files import load_sweep

    sweep = dc_replace(load_sweep(str(ROOT / "examples" / "paper.yaml")), trials=trials)
    spent = {"runs": 0.0, "recommendations": 0.0}
    originals = {"runs": pipeline.with_confidence, "recommendations": pipeline.with_recommendation_confidence}

    def timed(name):
        def call(*args, **kwargs):
            start = time.perf_counter()
            try:
                return originals[name](*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - start
        return call

    pipeline.with_confidence, pipeline.with_recommendation_confidence = timed("runs"), timed("recommendations")
    shares, totals, parts = [], [], []
    try:
        for _ in range(repeats):
            spent.update(runs=0.0, recommendations=0.0)
            start = time.perf_counter()
            run_sweep(sweep)
            total = time.perf_counter() - start
            totals.append(total)
            parts.append(dict(spent))
            shares.append((spent["runs"] + spent["recommendations"]) / total)
    finally:
        pipeline.with_confidence, pipeline.with_recommendation_confidence = originals["runs"], originals["recommendations"]
    i = int(np.argsort(shares)[len(shares) // 2])
    print(f"decision confidence, examples/paper.yaml at {trials} trials, 1 process, median of {repeats}:")
    print(f"  run {totals[i]:6.2f} s   per-run confidence {parts[i]['runs']:5.2f} s   cross-model "
          f"{parts[i]['recommendations']:5.2f} s   share {100 * shares[i]:4.1f}%   (goal <= 10%)")


SCALING_SCRIPT = """
import resource, sys, time
import infscale.engine.pipeline as pipeline
import infscale.scheduler.local as local
from infscale.storage.sweeps import SqlSweeps
from infscale.cli.main import main
spent = {"runs": 0.0, "recommendations": 0.0, "simulation": 0.0, "storage": 0.0}
def timed(name, original):
    def call(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent[name] += time.perf_counter() - start
    return call
pipeline.with_confidence = timed("runs", pipeline.with_confidence)
pipeline.with_recommendation_confidence = timed("recommendations", pipeline.with_recommendation_confidence)
local.simulate_shard = timed("simulation", local.simulate_shard)
SqlSweeps.save_local_result = timed("storage", SqlSweeps.save_local_result)
start = time.perf_counter()
code = main(sys.argv[1:])
wall = time.perf_counter() - start
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(f"SCALING {wall} {spent['simulation']} {spent['runs']} {spent['recommendations']} {spent['storage']} {rss}",
      file=sys.stderr)
sys.exit(code)
"""


def scaling_sweep(n_scenarios: int, trials: int) -> str:
    """The nine paper models under `n_scenarios` scenarios in 27 shared simulations: each paper
    scenario's k_max, parallelism and grid with budgets scaled over a grid (cost x 0.25..4, time
    x 0.5..4, min_accuracy -0.05..+0.01), every seventh with a chance constraint."""
    lines = ["name: scenario-scaling", "catalog: builtin:paper", "models: all", "scenarios:"]
    for name, base in builtin_scenarios().items():
        for i in range(n_scenarios // 3):
            cost = base.max_total_cost * (0.25, 0.5, 1.0, 2.0, 4.0)[i % 5]
            time_ = base.max_total_time * (0.5, 1.0, 2.0, 4.0)[i // 5 % 4]
            accuracy = base.min_accuracy + (0.0, -0.02, 0.01, -0.05, 0.005)[i // 20 % 5]
            chance = ", min_probability: 0.9" if i % 7 == 3 else ""
            lines.append(
                f"  - {{name: {name}-{i}, max_total_cost: {cost!r}, max_total_time: {time_!r}, min_accuracy: "
                f"{accuracy!r}, k_max: {base.k_max}, parallelism: {base.parallelism}{chance}}}"
            )
    return "\n".join(lines + [f"trials: {trials}", "seed: 42", ""])


def scenario_scaling(trials: int, counts: tuple[int, ...] = (3, 30, 300), repeats: int = 3) -> None:
    figures: dict[int, list[tuple[float, ...]]] = {n: [] for n in counts}
    with tempfile.TemporaryDirectory() as tmp:
        for n in counts:
            Path(tmp, f"s{n}.yaml").write_text(scaling_sweep(n, trials))
        for r in range(repeats):  # interleaved, so every count sees the same load on a shared machine
            for n in counts:
                db = Path(tmp, f"s{n}-{r}.db")
                proc = subprocess.run(
                    [sys.executable, "-c", SCALING_SCRIPT, "run", str(Path(tmp, f"s{n}.yaml")), "--db",
                     f"sqlite:///{db}", "--workers", "1", "--json"],
                    cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
                )
                if proc.returncode != 0:
                    raise SystemExit(proc.stderr)
                line = next(x for x in proc.stderr.splitlines() if x.startswith("SCALING "))
                figures[n].append(tuple(float(x) for x in line.split()[1:]))
                db.unlink()
    print(f"scenario scaling: 9 paper models x N scenarios in the same 27 simulations, {trials} trials, "
          f"`infscale run --workers 1` in a fresh process, median of {repeats} (wall time, max RSS):")
    base_wall, *_, base_rss = (statistics.median(f[i] for f in figures[counts[0]]) for i in range(6))
    for n in counts:
        wall, simulation, runs, recs, storage, rss = (statistics.median(f[i] for f in figures[n]) for i in range(6))
        print(f"  9 x {n:3d} ({9 * n:4d} runs): {wall:6.1f} s ({wall / base_wall:4.2f}x); simulation {simulation:5.1f} s, "
              f"per-run confidence {runs:4.1f} s, cross-model {recs:4.1f} s, storing {storage:4.1f} s; "
              f"peak {rss / 1024:4.0f} MB ({rss / base_rss:4.2f}x)")
    print(f"  goal: 9 x {counts[-1]} within 2x the time of 9 x {counts[0]}, memory independent of the scenario count")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller runs")
    parser.add_argument("--scaling-trials", type=int, default=100_000, help="trials of the scenario scaling runs")
    parser.add_argument("--only", choices=("throughput", "frontier", "legacy", "memory", "confidence", "scaling"), help="one figure only")
    args = parser.parse_args()
    if args.only in (None, "throughput"):
        throughput(blocks=4 if args.quick else 32)
    if args.only in (None, "frontier"):
        frontier_speedup(blocks=2 if args.quick else 8)
    if args.only in (None, "legacy"):
        legacy_speedup(trials=300 if args.quick else 2000)
    if args.only in (None, "memory"):
        peak_memory(trials=100_000 if args.quick else 1_000_000)
    if args.only in (None, "confidence"):
        confidence_share(trials=16_384 if args.quick else 100_000, repeats=1 if args.quick else 3)
    if args.only in (None, "scaling"):
        scenario_scaling(trials=16_384 if args.quick else args.scaling_trials, repeats=1 if args.quick else 3)


if __name__ == "__main__":
    main()
