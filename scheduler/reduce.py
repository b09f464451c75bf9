"""From stored partials to stored answers, for sweeps whose shards run anywhere.

A group's runs are finished once every shard of the group has stored its partial: the
partials are merged in shard order (`engine.pipeline.finish_group`, the same function the
local runner uses, so the answer is bit-identical) and written by `Store.finish_group`. A
sweep is finished once all its runs are: `engine.pipeline.recommend_all` over the stored runs,
written by `Store.finish_sweep`. The store writes each exactly once, so calling these twice,
or from two workers at once, is harmless. The shard tasks trigger them; `check_sweeps` is the
periodic safety net for a trigger that was lost (a worker that died in between, a message the
broker dropped).
"""

from __future__ import annotations

from engine.pipeline import finish_group, recommend_all
from engine.plan import simulation_groups
from engine.specs import SweepSpec
from storage.codec import partial_from_bytes
from storage.rows import GroupProgress
from storage.store import Store
from storage.tables import SweepStatus

OPEN_STATUSES = (SweepStatus.PENDING.value, SweepStatus.RUNNING.value)


def needs_reduce(store: Store, sweep_id: int, group_key: str) -> bool:
    """All of the group's partials are stored and its runs are not finished yet."""
    progress = _group_progress(store, sweep_id, group_key)
    return progress.complete and not progress.finished


def reduce_group(store: Store, sweep_id: int, sweep: SweepSpec, group_key: str) -> str:
    """Once all of a group's partials are stored: finish its runs, then the sweep if every
    run is done. Says what it found or did."""
    progress = _group_progress(store, sweep_id, group_key)
    if not progress.complete:
        return f"{progress.shards_done} of {progress.n_shards} shards stored"
    outcome = "group was finished"
    if not progress.finished:
        group = next(g for g in simulation_groups(sweep) if g.key == group_key)
        partials = [partial_from_bytes(data) for data in store.partials(sweep_id, group_key)]
        finished = store.finish_group(sweep_id, group_key, finish_group(sweep, group, partials))
        outcome = "group finished" if finished else "group finished elsewhere or sweep ended"
    return f"{outcome}; sweep {'done' if finish_sweep(store, sweep_id, sweep) else 'open'}"


def finish_sweep(store: Store, sweep_id: int, sweep: SweepSpec) -> bool:
    """Store the cross-model recommendations and mark the sweep done if every run is done."""
    if not all(g.finished for g in store.progress(sweep_id)):
        return False
    return store.finish_sweep(sweep_id, recommend_all(sweep, store.run_results(sweep_id)))


def check_sweeps(store: Store) -> list[tuple[int, str]]:
    """The periodic check: finish every open sweep whose runs are all done, and return the
    (sweep id, group key) of complete groups still to be reduced (for `reduce_run` tasks)."""
    to_reduce = []
    for row in store.sweeps(OPEN_STATUSES):
        groups = store.progress(row.id)
        to_reduce += [(row.id, g.group_key) for g in groups if g.complete and not g.finished]
        if all(g.finished for g in groups):
            finish_sweep(store, row.id, store.sweep_spec(row.id))
    return to_reduce


def _group_progress(store: Store, sweep_id: int, group_key: str) -> GroupProgress:
    return next(g for g in store.progress(sweep_id) if g.group_key == group_key)
