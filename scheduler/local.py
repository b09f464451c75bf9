"""`infscale run`: the whole sweep in this machine's processes, no servers.

Shards (contiguous block ranges) go to a process pool; each group's partials are merged in
block order as they arrive (one that comes early waits for those before it; engine.batches
keeps the merged rows bounded), so the answer equals the serial `engine.pipeline.run_sweep`
bit for bit. Groups simulate in rounds (engine.adaptive): one round
of all blocks for a fixed trial count; with `trials: auto`, each round's shards of every group
still running go to the pool together, and `advance_group` says which groups need more.
A group is decided as soon as its round's last block is merged, and its merged statistics
(which hold a row of budget counts per block and scenario) are dropped then: with one worker
one group's are held at a time, however many groups and scenarios the sweep has.
"""

from __future__ import annotations

import os
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from typing import Callable

from infscale.engine.batches import MAX_BATCHES, BlockMerger
from infscale.engine.pipeline import RunResult, SweepResult, advance_group, order_runs, recommend_all, run_exact, simulate_shard
from infscale.engine.plan import SimulationGroup, block_plan, first_round, shards, simulation_groups
from infscale.engine.specs import Mode, SweepSpec
from infscale.engine.statistics import Partial

Progress = Callable[[int], None]
"""Called with the number of trials just finished (summed over groups)."""


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def total_trials(sweep: SweepSpec) -> int:
    """Trials simulated by a sweep: trials x simulation groups (the unit of progress; with
    `trials: auto`, the most it may simulate)."""
    return sweep.trials * len(simulation_groups(sweep))


def run_local(sweep: SweepSpec, workers: int | None = None, progress: Progress | None = None) -> SweepResult:
    """Simulate every group on `workers` processes (1: in this process), then decide.
    Exact mode simulates nothing: it decides at once, in this process."""
    if sweep.mode is Mode.EXACT:
        return run_exact(sweep)
    workers = workers or default_workers()
    groups = simulation_groups(sweep)
    todo = {g: first_round(sweep) for g in range(len(groups))}
    merged: dict[int, BlockMerger] = {}
    runs: list[RunResult] = []
    pool = None
    if workers > 1:
        from infscale.engine import fused  # only a run that simulates pays numba's start-up

        fused.load()  # before the pool forks: its processes inherit the compiled kernel
        pool = ProcessPoolExecutor(max_workers=workers)
    following: dict[int, range] = {}  # groups that need another round, and its blocks

    def advance(g: int) -> None:
        step = advance_group(sweep, groups[g], [merged[g].result()])
        if step.next_blocks is None:
            runs.extend(step.runs)
            del merged[g]
        else:
            following[g] = step.next_blocks

    try:
        while todo:
            _simulate_round(sweep, groups, todo, merged, workers, pool, progress, advance)
            todo = dict(following)
            following.clear()
    finally:
        if pool is not None:
            pool.shutdown()
    ordered = order_runs(sweep, runs)
    return SweepResult(ordered, recommend_all(sweep, ordered))


def _simulate_round(
    sweep: SweepSpec, groups: tuple[SimulationGroup, ...], todo: dict[int, range], merged: dict[int, BlockMerger],
    workers: int, pool: Executor | None, progress: Progress | None, done: Callable[[int], None],
) -> None:
    """Simulate blocks `todo[g]` of each group g and merge them, in block order, into `merged[g]`;
    `done(g)` as soon as group g's last block of the round is in."""
    plan = block_plan(sweep)
    tasks = []
    for g, blocks in todo.items():
        # About four shards per worker per group keeps the pool busy without tiny tasks; a
        # shard holds one row per block, so at most a quarter of a merged partial's rows.
        per_shard = min(max(1, -(-len(blocks) // (4 * workers))), MAX_BATCHES // 4)
        tasks += [(g, shard.blocks) for shard in shards(blocks, per_shard)]
    # The main process holds one merger per group, and the shards that came before their turn.
    waiting: dict[int, dict[int, Partial]] = {g: {} for g in todo}
    next_block = {g: blocks.start for g, blocks in todo.items()}

    def add(g: int, part: Partial, blocks: range) -> None:
        waiting[g][blocks.start] = part
        while next_block[g] in waiting[g]:
            ready = waiting[g].pop(next_block[g])
            merged.setdefault(g, BlockMerger()).add(ready)
            next_block[g] = int(ready.blocks[-1]) + 1
        if progress:
            progress(sum(plan.block_size(b) for b in blocks))
        if next_block[g] == todo[g].stop:
            done(g)

    if pool is None:
        for g, blocks in tasks:
            add(g, simulate_shard(sweep, groups[g], blocks), blocks)
        return
    futures = {pool.submit(simulate_shard, sweep, groups[g], blocks): (g, blocks) for g, blocks in tasks}
    for future in as_completed(futures):
        g, blocks = futures.pop(future)
        add(g, future.result(), blocks)
