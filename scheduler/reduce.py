"""From stored partials to stored answers, for sweeps whose shards run anywhere.

A group's runs are finished once every shard of the group has stored its partial: the
partials stream from the database, are merged in shard order (engine.batches, as the local
runner merges) and decided by `engine.pipeline.advance_group`, the function the local runner
uses, so the answer is bit-identical; `Storage.finish_group` writes it.
With `trials: auto`, the group may need another round instead: its shards are enqueued first
and the simulation extended (`Storage.extend_simulation`) only once they are on the queue, so a
broker that cannot take them leaves the group complete and unreduced, for the periodic check
to try again; two reduces at once enqueue the same shards (the second copy stores nothing)
and extend it once. A
sweep is finished once all its runs are: `engine.pipeline.recommend_all` over the stored runs,
written by `Storage.finish_sweep`. The store writes each exactly once, so calling these twice,
or from two workers at once, is harmless. The shard tasks trigger them; `check_sweeps` is the
periodic safety net for a trigger that was lost (a worker that died in between, a message the
broker dropped).
"""

from __future__ import annotations

from infscale.engine.batches import merge_in_order
from infscale.engine.pipeline import advance_group, recommend_all
from infscale.engine.plan import shards, simulation_groups
from infscale.engine.selection import Recommendation
from infscale.engine.specs import SweepSpec
from infscale.scheduler.submit import Send, shard_message
from infscale.storage.rows import GroupProgress
from infscale.storage.interface import Storage
from infscale.storage.rows import SweepStatus

OPEN_STATUSES = (SweepStatus.PENDING.value, SweepStatus.RUNNING.value)

SCENARIOS_PER_READ = 32
"""Scenarios whose runs are read at once to recommend across models: the reduce holds their
curves, not the whole sweep's, however many scenarios it has."""


def needs_reduce(store: Storage, sweep_id: int, group_key: str) -> bool:
    """All of the group's partials are stored and its runs are not finished yet."""
    progress = _group_progress(store, sweep_id, group_key)
    return progress.complete and not progress.finished


def reduce_group(store: Storage, sweep_id: int, sweep: SweepSpec, group_key: str, send: Send) -> str:
    """Once all of a group's partials are stored: finish its runs (or, with `trials: auto`,
    send its next round), then the sweep if every run is done. Says what it found or did."""
    progress = _group_progress(store, sweep_id, group_key)
    if not progress.complete:
        return f"{progress.shards_done} of {progress.n_shards} shards stored"
    outcome = "group was finished"
    if not progress.finished:
        group = next(g for g in simulation_groups(sweep) if g.key == group_key)
        # Merged one at a time as they stream from storage, in shard order: memory stays one
        # partial plus the bounded merged rows, however many shards (engine.batches).
        merged = merge_in_order(store.stream_partials(sweep_id, group_key))
        step = advance_group(sweep, group, [merged])
        if step.next_blocks is not None:
            return _next_round(store, sweep_id, group_key, step.next_blocks, send)
        finished = store.finish_group(sweep_id, group_key, step.runs)
        outcome = "group finished" if finished else "group finished elsewhere or sweep ended"
    return f"{outcome}; sweep {'done' if finish_sweep(store, sweep_id, sweep) else 'open'}"


def finish_sweep(store: Storage, sweep_id: int, sweep: SweepSpec) -> bool:
    """Store the cross-model recommendations and mark the sweep done if every run is done."""
    if not all(g.finished for g in store.progress(sweep_id)):
        return False
    recommendations: list[Recommendation] = []
    for start in range(0, len(sweep.scenarios), SCENARIOS_PER_READ):
        scenarios = sweep.scenarios[start : start + SCENARIOS_PER_READ]
        runs = store.run_results(sweep_id, [s.name for s in scenarios])
        recommendations += recommend_all(sweep, runs, scenarios)
    return store.finish_sweep(sweep_id, recommendations)


def check_sweeps(store: Storage) -> list[tuple[int, str]]:
    """The periodic check: finish every open sweep whose runs are all done, and return the
    (sweep id, group key) of complete groups still to be reduced (for `reduce_run` tasks)."""
    to_reduce = []
    for row in store.sweeps(OPEN_STATUSES):
        groups = store.progress(row.id)
        to_reduce += [(row.id, g.group_key) for g in groups if g.complete and not g.finished]
        if all(g.finished for g in groups):
            finish_sweep(store, row.id, store.sweep_spec(row.id))
    return to_reduce


def _next_round(store: Storage, sweep_id: int, group_key: str, blocks: range, send: Send) -> str:
    """Enqueue a group's next round of blocks, then extend its simulation by it."""
    what = f"next round: blocks {blocks.start} to {blocks.stop - 1}"
    simulation = store.simulation(sweep_id, group_key)
    if simulation.n_blocks != blocks.start:
        return f"{what} was sent elsewhere"
    new = shards(blocks, simulation.blocks_per_shard, first_index=simulation.n_shards)
    n_shards = simulation.n_shards + len(new)
    try:
        send([shard_message(sweep_id, group_key, s.index, n_shards, s.blocks) for s in new])
    except Exception as exc:  # noqa: BLE001 - whatever the broker raised: nothing is extended, try again later
        return f"{what} not sent ({type(exc).__name__}: {exc}); the periodic check will send it"
    if store.extend_simulation(sweep_id, group_key, blocks, len(new)):
        return f"{what} sent in {len(new)} shard(s)"
    return f"{what} was sent elsewhere (these copies store nothing)"


def _group_progress(store: Storage, sweep_id: int, group_key: str) -> GroupProgress:
    return next(g for g in store.progress(sweep_id) if g.group_key == group_key)
