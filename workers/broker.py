"""Everything that talks to the broker from outside a task: sending shards, running a
recalculation on the workers (or here, when no broker answers), and the recalculation lock.

The scheduler never imports this module: it takes a `send` callable (scheduler.submit.Send)
where it needs to enqueue, and the CLI and the tasks hand it `enqueue` bound to a broker.
Celery and Redis are imported only when something is sent.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from infscale import config
from infscale.engine.errors import InfscaleError

BROKER_CONNECT_RETRIES = 2
"""Attempts to reach the broker before sending gives up (a down broker fails in about 1 s)."""

LOCK_NAME = "infscale:recalc"
"""The Redis key of the recalculation lock (held by at most one `infscale.recalc` task)."""


class BrokerUnreachable(InfscaleError):
    """The broker a task was to be sent to does not answer."""


def enqueue(messages: list[dict[str, Any]], broker: str | None = None) -> None:
    """Send one `infscale.simulate_shard` task per message (scheduler.submit.shard_message),
    over one connection to `broker` (None: the configured one), labelled for Flower."""
    from infscale.workers.app import SIMULATE_SHARD, make_app
    from infscale.workers.labels import task_label

    app = make_app(broker)
    with _connection(app, broker) as connection, connection.Producer() as producer:
        for kwargs in messages:  # labelled for Flower: `sweep 12 - gpt5/P4/k128/multiples - shard 3/7`
            app.send_task(SIMULATE_SHARD, kwargs=kwargs, producer=producer, argsrepr=task_label(kwargs))


def sender(broker: str | None = None) -> Callable[[list[dict[str, Any]]], None]:
    """`enqueue` bound to `broker`: the `send` the scheduler takes."""
    return lambda messages: enqueue(messages, broker)


def run_recalc(
    broker: str | None, database: str | None, in_process: bool, timeout: float, workers: int | None
) -> dict[str, Any]:
    """Recalculate prices and stale runs where it belongs: on a worker when a broker is
    configured (`--broker` or $INFSCALE_BROKER_URL) and answers, else in this process (saying
    so on stderr when a configured broker does not answer). Returns the report's document."""
    if not in_process and config.broker_configured(broker):
        try:
            return send_recalc(broker, timeout)
        except BrokerUnreachable as exc:
            print(f"infscale: {exc}; recalculating in this process", file=sys.stderr)
    from infscale.reports.documents import recalc_document
    from infscale.scheduler.recalc import recalc
    from infscale.storage import open_store

    report = recalc(open_store(database), config.price_source(), config.price_catalog(), workers)
    return recalc_document(report)


def send_recalc(broker: str | None, timeout: float) -> dict[str, Any]:
    """Run `infscale.recalc` on the workers and return its document (waits up to `timeout` s).

    Raises `BrokerUnreachable` if the broker does not answer, `InfscaleError` if no worker
    answers in time or the task failed.
    """
    from celery.exceptions import TimeoutError as CeleryTimeout

    from infscale.workers.app import RECALC, make_app

    app = make_app(broker)
    with _connection(app, broker):
        pass
    result = app.send_task(RECALC)
    try:
        document = result.get(timeout=timeout, propagate=False)
    except CeleryTimeout:
        raise InfscaleError(
            f"no worker finished the recalculation (task {result.id}) within {timeout:g} s; it stays queued "
            f"on {_url(broker)} (is a worker running? `infscale worker`)"
        ) from None
    if result.failed():
        raise InfscaleError(f"the recalculation failed on a worker: {type(document).__name__}: {document}")
    return document


@contextmanager
def exclusive(broker_url: str, ttl_seconds: float) -> Iterator[bool]:
    """Hold the Redis lock `LOCK_NAME` (SET NX PX with a random token) while the block runs.

    Yields False, holding nothing, if another holder has it. The lock expires after
    `ttl_seconds` should its holder die; it is released only by its holder (token check).
    """
    import redis
    from redis.exceptions import LockError

    client = redis.Redis.from_url(broker_url, socket_timeout=10)
    lock = client.lock(LOCK_NAME, timeout=ttl_seconds, blocking=False)
    try:
        acquired = lock.acquire()
        try:
            yield acquired
        finally:
            if acquired:
                try:
                    lock.release()
                except LockError:
                    pass  # it expired while we ran (and may be someone else's now): nothing to release
    finally:
        client.close()


@contextmanager
def _connection(app: Any, broker: str | None) -> Iterator[Any]:
    """A write connection to the app's broker, established within `BROKER_CONNECT_RETRIES`
    attempts, else `BrokerUnreachable` naming the broker (its password hidden)."""
    with app.connection_for_write() as connection:
        try:
            connection.ensure_connection(max_retries=BROKER_CONNECT_RETRIES, interval_start=0.2, interval_step=0.3)
        except Exception as exc:  # noqa: BLE001 - whatever the transport raised: not reachable
            raise BrokerUnreachable(f"broker {_url(broker)} is not reachable: {exc}") from None
        yield connection


def _url(broker: str | None) -> str:
    from kombu.utils.url import maybe_sanitize_url

    return maybe_sanitize_url(config.broker_url(broker))
