"""`infscale run`: the whole sweep in this machine's processes, no servers.

Shards (contiguous block ranges) go to a process pool; each group's partials are merged in
shard order, so the answer equals the serial `engine.pipeline.run_sweep` bit for bit.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Callable

from engine.pipeline import SweepResult, finish_group, order_runs, recommend_all, simulate_shard
from engine.plan import block_plan, shard_ranges, simulation_groups
from engine.specs import SweepSpec
from engine.statistics import Partial, merge

Progress = Callable[[int], None]
"""Called with the number of trials just finished (summed over groups)."""


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def total_trials(sweep: SweepSpec) -> int:
    """Trials simulated by a sweep: trials x simulation groups (the unit of progress)."""
    return sweep.trials * len(simulation_groups(sweep))


def run_local(sweep: SweepSpec, workers: int | None = None, progress: Progress | None = None) -> SweepResult:
    """Simulate every group on `workers` processes (1: in this process), then decide."""
    workers = workers or default_workers()
    groups = simulation_groups(sweep)
    plan = block_plan(sweep)
    # About four shards per worker per group keeps the pool busy without tiny tasks.
    per_shard = max(1, -(-plan.n_blocks // (4 * workers)))
    tasks = [(g, blocks) for g in range(len(groups)) for blocks in shard_ranges(plan.n_blocks, per_shard)]
    # Partials are merged as they arrive (merging is exact in any order), so the main process
    # holds one merged partial per group rather than every shard's.
    merged: dict[int, Partial] = {}

    def add(g: int, part: Partial, blocks: range) -> None:
        merged[g] = part if g not in merged else merge([merged[g], part])
        if progress:
            progress(sum(plan.block_size(b) for b in blocks))

    if workers == 1:
        for g, blocks in tasks:
            add(g, simulate_shard(sweep, groups[g], blocks), blocks)
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(simulate_shard, sweep, groups[g], blocks): (g, blocks) for g, blocks in tasks}
            for future in as_completed(futures):
                g, blocks = futures.pop(future)
                add(g, future.result(), blocks)
    runs = []
    for g, group in enumerate(groups):
        runs.extend(finish_group(sweep, group, [merged.pop(g)]))
    ordered = order_runs(sweep, runs)
    return SweepResult(ordered, recommend_all(sweep, ordered))
