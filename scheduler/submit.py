"""`infscale submit`: record a validated sweep and its shard plan, then enqueue every shard.

The plan: each simulation group (scenarios sharing one simulation run it once) cuts its trials
into the engine's fixed blocks, and each shard is `blocks_per_shard` consecutive blocks
(`engine.plan.shard_ranges`; legacy mode has a single block, hence a single shard). With
`trials: auto` only the first round's blocks are enqueued here; each later round is enqueued
by the reduce that decides it is needed (scheduler.reduce). The sweep
is stored `pending` with one pending run per model x scenario before anything is enqueued, and
becomes `running` once every shard is on the queue; if the broker cannot take them all, the
sweep is marked failed with the reason, so nothing waits for shards that will never come.
"""

from __future__ import annotations

from typing import Any

from kombu.utils.url import maybe_sanitize_url

from infscale.engine.errors import InfscaleError
from infscale.engine.adaptive import first_round
from infscale.engine.plan import shard_ranges, simulation_groups
from infscale.engine.specs import SweepSpec
from infscale.scheduler import settings
from infscale.storage.store import Store
from infscale.storage.tables import SweepStatus

BROKER_CONNECT_RETRIES = 2
"""Attempts to reach the broker before a submit gives up (a down broker fails in ~1 s)."""


class SubmitError(InfscaleError):
    """The sweep was recorded but its shards could not be enqueued (it is marked failed)."""


def shard_messages(sweep_id: int, sweep: SweepSpec, blocks_per_shard: int) -> list[dict[str, Any]]:
    """The keyword arguments of every first-round `infscale.simulate_shard` task, group by group
    (the only round unless `trials: auto`; scheduler.reduce sends the others)."""
    ranges = shard_ranges(first_round(sweep).stop, blocks_per_shard)
    return [
        shard_message(sweep_id, group.key, i, len(ranges), blocks)
        for group in simulation_groups(sweep)
        for i, blocks in enumerate(ranges)
    ]


def shard_message(sweep_id: int, group_key: str, shard_index: int, n_shards: int, blocks: range) -> dict[str, Any]:
    """The keyword arguments of one `infscale.simulate_shard` task."""
    return {
        "sweep_id": sweep_id, "group_key": group_key, "shard_index": shard_index, "n_shards": n_shards,
        "blocks": [blocks.start, blocks.stop],
    }


def submit(sweep: SweepSpec, store: Store, broker: str | None = None, blocks_per_shard: int | None = None) -> int:
    """Record the sweep, enqueue its shards and return its id (it then runs on the workers)."""
    if sweep.mode.value == "exact":  # nothing to shard: refuse before anything is stored
        raise SubmitError(f"{sweep.source}: exact mode samples nothing and takes milliseconds; use infscale run")
    blocks_per_shard = settings.shard_blocks(blocks_per_shard)
    sweep_id = store.create_sweep(sweep, blocks_per_shard, status=SweepStatus.PENDING)
    messages = shard_messages(sweep_id, sweep, blocks_per_shard)
    try:
        enqueue(messages, broker)
    except Exception as exc:  # noqa: BLE001 - whatever the broker raised, the sweep must not hang
        reason = f"could not enqueue its shards on {maybe_sanitize_url(settings.broker_url(broker))}: {exc}"
        store.fail_sweep(sweep_id, reason)
        raise SubmitError(f"sweep {sweep_id} failed: {reason}") from None
    store.set_sweep_status(sweep_id, SweepStatus.RUNNING)
    return sweep_id


def enqueue(messages: list[dict[str, Any]], broker: str | None = None) -> None:
    """Send one `infscale.simulate_shard` task per message, over one connection, labelled for
    Flower (`sweep 12 - gpt5/P4/k128/multiples - shard 3/7`)."""
    from infscale.workers.app import SIMULATE_SHARD, make_app  # Celery is imported only when sending
    from infscale.workers.labels import task_label

    app = make_app(broker)
    with app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=BROKER_CONNECT_RETRIES, interval_start=0.2, interval_step=0.3)
        with connection.Producer() as producer:
            for kwargs in messages:
                app.send_task(SIMULATE_SHARD, kwargs=kwargs, producer=producer, argsrepr=task_label(kwargs))
