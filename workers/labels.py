"""What an operator reads in Flower's task list: which sweep, simulation group and shard a task is.

Flower shows a task's `argsrepr` in its args column, so each shard is sent with a label such as
`sweep 12 - gpt5/P4/k128/multiples - shard 3/7` (and a reduce with `... - reduce`) while its
keyword arguments stay what the task reads. The task name itself is left alone (a name per
shard would make a Prometheus series per shard in Flower's /metrics, and break filtering by name).
Celery does not keep `argsrepr` on a retry, so `LabelledTask` sets it on every send.
"""

from __future__ import annotations

from typing import Any

from celery import Task


def task_label(kwargs: dict[str, Any]) -> str | None:
    """The label of a shard or reduce task from its keyword arguments; None for other tasks."""
    if "sweep_id" not in kwargs or "group_key" not in kwargs:
        return None
    where = f"sweep {kwargs['sweep_id']} - {kwargs['group_key']}"
    if "shard_index" in kwargs:
        return f"{where} - shard {kwargs['shard_index'] + 1}/{kwargs['n_shards']}"
    return f"{where} - reduce"


class LabelledTask(Task):
    """A task whose every send (first, `delay`, or retry) carries `task_label` as its argsrepr."""

    def apply_async(self, args: Any = None, kwargs: dict[str, Any] | None = None, **options: Any) -> Any:
        label = task_label(kwargs or {})
        if label is not None:
            options.setdefault("argsrepr", label)
        return super().apply_async(args, kwargs, **options)
