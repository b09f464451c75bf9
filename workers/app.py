"""The Celery app: `celery -A infscale.workers.app worker` (or `infscale worker`) runs the tasks of
`workers.tasks` with the settings below.

Every Celery setting infscale relies on is in `celery_config`, each with the reason it is
there. Values an operator may change come from environment variables (infscale.config).
Redis is broker and result backend; the database, not Celery's results, holds every partial
and answer, so a lost result or a task run twice never changes what is stored.
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery.schedules import crontab
from celery.signals import worker_init

from infscale.engine.errors import InfscaleError
from infscale import config

CHECK_SWEEPS = "infscale.check_sweeps"
RECALC = "infscale.recalc"
REDUCE_RUN = "infscale.reduce_run"
SIMULATE_SHARD = "infscale.simulate_shard"


def celery_config(broker: str | None = None) -> dict[str, Any]:
    """The app's configuration; `broker` overrides $INFSCALE_BROKER_URL."""
    visibility = config.visibility_timeout()
    soft_limit, hard_limit = config.task_time_limits()
    return {
        "broker_url": config.broker_url(broker),
        "result_backend": config.result_backend(broker),
        # JSON only: a message is data an operator can read in Flower, and a worker never
        # unpickles what someone else put on the queue.
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "event_serializer": "json",
        # Acknowledge a shard only after it ran: a worker that dies mid-shard leaves the
        # message unacknowledged, and Redis hands it to another worker.
        "task_acks_late": True,
        # A pool process killed by a signal or the OOM killer: requeue its shard at once
        # rather than marking it failed (the default with late acks).
        "task_reject_on_worker_lost": True,
        # Each pool process reserves one message at a time, so a slow or dying worker holds
        # back at most as many shards as it has processes, and idle workers get the rest.
        "worker_prefetch_multiplier": 1,
        # Redis redelivers a message not acknowledged within this many seconds (the only way a
        # shard of a worker that died outright, or lost its connection, runs again). Workers
        # look for such messages every tenth of it (at most every 10 s; kombu's default is
        # about every 100 s), so a dead worker's shards wait at most ~1.1 timeouts.
        "broker_transport_options": {
            "visibility_timeout": visibility,
            "unacked_restore_interval": max(1, min(10, visibility // 10)),
            "unacked_restore_throttle": 1,
        },
        "result_backend_transport_options": {"visibility_timeout": visibility},
        # A shard still running when the visibility timeout ends would run twice at once: the
        # time limits stop it first (soft: an exception the retry logic sees; hard: kill).
        "task_soft_time_limit": soft_limit,
        "task_time_limit": hard_limit,
        # A worker that loses Redis keeps running its shards: their partials go to the
        # database, and the redelivered copies then find them stored and do nothing.
        "worker_cancel_long_running_tasks_on_connection_loss": False,
        # Wait for Redis at start and after a restart instead of exiting (workers are
        # started before or independently of the broker).
        "broker_connection_retry_on_startup": True,
        "broker_connection_max_retries": None,
        # The database holds the answers, so tasks store no result in Redis (one write less per
        # shard, and no task can fail for want of the result backend); anything that does
        # store a result (e.g. a task called with ignore_result=False) is dropped after an hour.
        "task_ignore_result": True,
        "result_expires": 3600,
        # Task events for Flower (`celery -A infscale.workers.app flower`): sent, started, succeeded,
        # retried, failed, with each task's readable keyword arguments. A worker sends them once
        # Flower asks (it asks every 5 s while it runs), or from the start with
        # $INFSCALE_TASK_EVENTS=1: each costs a Redis round trip, three per shard, twice what the
        # shard itself needs from Redis (fetch, mark unacknowledged, acknowledge).
        "worker_send_task_events": config.task_events(),
        "task_send_sent_event": True,
        # Beat reads crontab schedules in this zone: $INFSCALE_RECALC_SCHEDULE is UTC.
        "timezone": "UTC",
        "enable_utc": True,
        "beat_schedule": {
            # The safety net behind the in-task reducer (run a worker with -B, or `celery beat`):
            # finishes any run whose partials are all stored but whose result is not.
            "check-sweeps": {"task": CHECK_SWEEPS, "schedule": float(config.check_interval())},
            # The nightly price recalculation. Run exactly one beat: a second one would send
            # each recalc twice; the second finds the Redis lock held (or nothing stale left)
            # and does nothing, so a second beat is harmless, only wasteful.
            "recalc": {"task": RECALC, "schedule": recalc_crontab()},
        },
    }


def recalc_crontab() -> crontab:
    """$INFSCALE_RECALC_SCHEDULE (minute hour day-of-month month day-of-week, UTC) as a crontab."""
    minute, hour, day_of_month, month_of_year, day_of_week = config.recalc_schedule()
    try:
        return crontab(minute=minute, hour=hour, day_of_month=day_of_month, month_of_year=month_of_year,
                       day_of_week=day_of_week)
    except ValueError as exc:
        raise InfscaleError(f"environment: INFSCALE_RECALC_SCHEDULE: {exc}") from None


def make_app(broker: str | None = None) -> Celery:
    """A Celery app with infscale's configuration; the workers' tasks are registered on it."""
    celery = Celery("infscale", include=["infscale.workers.tasks"])
    celery.conf.update(celery_config(broker))
    return celery


app = make_app()


@worker_init.connect
def _load_kernel(**_: Any) -> None:
    """In the worker's main process, before its pool forks: every pool process inherits the
    compiled kernel instead of loading it (0.5-2 s) inside its first shard, which with a short
    visibility timeout could push that shard past its time limit."""
    from infscale.engine import fused

    fused.load()
