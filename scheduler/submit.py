"""`infscale submit`: record a validated sweep and its shard plan, then enqueue every shard.

The plan is the engine's (`engine.plan.plan_sweep`): each simulation group cuts its trials
into fixed blocks, and each shard is `blocks_per_shard` consecutive blocks (legacy mode has a
single block, hence a single shard). With `trials: auto` only the first round's shards are
enqueued here; each later round is enqueued by the reduce that decides it is needed
(scheduler.reduce). The sweep is stored `pending` with one pending run per model x scenario
before anything is enqueued, and becomes `running` once every shard is on the queue; if the
broker cannot take them all, the sweep is marked failed with the reason, so nothing waits
for shards that will never come. The broker is reached only through the `send` callable
(workers.broker.sender), so the scheduler never imports Celery.
"""

from __future__ import annotations

from typing import Any, Callable

from infscale.engine.errors import InfscaleError
from infscale import config
from infscale.engine.plan import SweepPlan, plan_sweep
from infscale.engine.specs import SweepSpec
from infscale.storage.interface import Storage
from infscale.storage.rows import SweepStatus

Send = Callable[[list[dict[str, Any]]], None]
"""Puts `infscale.simulate_shard` messages (`shard_message`) on the queue, or raises."""


class SubmitError(InfscaleError):
    """The sweep was recorded but its shards could not be enqueued (it is marked failed)."""


def shard_messages(sweep_id: int, plan: SweepPlan) -> list[dict[str, Any]]:
    """The keyword arguments of every first-round `infscale.simulate_shard` task, group by group
    (the only round unless `trials: auto`; scheduler.reduce sends the others)."""
    return [
        shard_message(sweep_id, g.group.key, shard.index, len(g.shards), shard.blocks)
        for g in plan.groups
        for shard in g.shards
    ]


def shard_message(sweep_id: int, group_key: str, shard_index: int, n_shards: int, blocks: range) -> dict[str, Any]:
    """The keyword arguments of one `infscale.simulate_shard` task."""
    return {
        "sweep_id": sweep_id, "group_key": group_key, "shard_index": shard_index, "n_shards": n_shards,
        "blocks": [blocks.start, blocks.stop],
    }


def submit(sweep: SweepSpec, store: Storage, send: Send, blocks_per_shard: int | None = None) -> int:
    """Record the sweep, enqueue its shards with `send` and return its id (it then runs on the
    workers); `blocks_per_shard` None: $INFSCALE_SHARD_BLOCKS."""
    if sweep.mode.value == "exact":  # nothing to shard: refuse before anything is stored
        raise SubmitError(f"{sweep.source}: exact mode samples nothing and takes milliseconds; use infscale run")
    plan = plan_sweep(sweep, config.shard_blocks(blocks_per_shard))
    sweep_id = store.create_sweep(plan, status=SweepStatus.PENDING)
    try:
        send(shard_messages(sweep_id, plan))
    except Exception as exc:  # noqa: BLE001 - whatever the broker raised, the sweep must not hang
        reason = f"could not enqueue its shards: {exc}"
        store.fail_sweep(sweep_id, reason)
        raise SubmitError(f"sweep {sweep_id} failed: {reason}") from None
    store.set_sweep_status(sweep_id, SweepStatus.RUNNING)
    return sweep_id
