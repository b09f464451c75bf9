"""The Celery tasks. Each body is a few lines: read the spec, call the engine, store.

- `infscale.simulate_shard(sweep_id, group_key, shard_index, n_shards, blocks)`: simulate blocks
  [start, stop) of one simulation group and store the partial (a second delivery stores
  nothing); if that completed the group, send its `reduce_run` (or, when the broker cannot take
  it, reduce right there).
- `infscale.reduce_run(sweep_id, group_key)`: merge the group's partials, store its runs, and
  finish the sweep if it was the last group; with `trials: auto`, or enqueue the group's next
  round of shards (scheduler.reduce).
- `infscale.check_sweeps()`: periodic (beat); sends a `reduce_run` for every complete group
  whose reduce never happened, finishes sweeps whose runs are all done, and sends again every
  lost shard (scheduler.recovery: no live worker holds its lease).
- `infscale.recalc()`: periodic (beat, $INFSCALE_RECALC_SCHEDULE) or `infscale recalc`; imports
  $INFSCALE_PRICE_SOURCE and recomputes the stale runs (scheduler.recalc) in this pool process,
  holding a Redis lock so that a second recalc at the same time does nothing. Returns its report.

A shard holds a lease while it runs (workers.leases). A shard or reduce that raises is retried
with exponential backoff and jitter; after its last retry the sweep is marked failed with the
error, unless the error was an outage (workers.retrying): those are retried for
$INFSCALE_OUTAGE_RETRY seconds and never fail the sweep (the periodic check sends the shard
again). The database is $INFSCALE_DATABASE_URL.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from kombu.exceptions import OperationalError

from infscale.engine import pipeline
from infscale.engine.errors import InfscaleError
from infscale.engine.plan import SimulationGroup, simulation_groups
from infscale.engine.specs import SweepSpec
from infscale.scheduler import recalc as recalculation
from infscale import config
from infscale.scheduler import recovery, reduce
from infscale.storage.sql import SqlStore
from infscale.reports.documents import recalc_document
from infscale.workers.broker import enqueue, exclusive
from infscale.workers.app import CHECK_SWEEPS, RECALC, REDUCE_RUN, SIMULATE_SHARD, app
from infscale.workers.labels import LabelledTask
from infscale.workers.leases import holding
from infscale.workers.retrying import is_outage, outage_countdown, outage_retries

log = logging.getLogger(__name__)


class FailsSweepTask(LabelledTask):
    """A task whose final failure (retries exhausted, or hard time limit) fails its sweep, unless
    it failed for an outage; labelled in Flower with its sweep, group and shard (workers.labels)."""

    def retry(self, args: Any = None, kwargs: Any = None, exc: BaseException | None = None, throw: bool = True,
              eta: Any = None, countdown: float | None = None, max_retries: int | None = None, **options: Any) -> Any:
        if exc is not None and is_outage(exc):  # wait the outage out (workers.retrying)
            countdown, max_retries = outage_countdown(self.request.retries), outage_retries()
        return super().retry(args, kwargs, exc, throw, eta, countdown, max_retries, **options)

    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: dict, einfo: Any) -> None:
        sweep_id = kwargs["sweep_id"]
        if is_outage(exc):
            log.warning("sweep %s: %s gave up for now after an outage (%s); the periodic check sends it again",
                        sweep_id, kwargs["group_key"], exc)
            return
        where = kwargs["group_key"]
        if "shard_index" in kwargs:
            where += f" shard {kwargs['shard_index'] + 1} of {kwargs['n_shards']}"
        error = f"{where} failed after {self.request.retries} retries: {type(exc).__name__}: {exc}"
        # A fresh store: this can run in the worker's main process (hard time limit), which
        # must not hold connections its future pool processes would inherit.
        try:
            with SqlStore(upgrade_schema=False) as store:
                store.fail_sweep(sweep_id, error)
        except Exception:  # noqa: BLE001 - the failure being reported matters more
            log.exception("sweep %s: could not record failure: %s", sweep_id, error)


RETRYING = dict(
    base=FailsSweepTask,
    autoretry_for=(Exception,),
    max_retries=config.shard_retries(),
    retry_backoff=config.retry_backoff(),
    # Retries wait as ETA messages, which Redis would redeliver after the visibility timeout.
    retry_backoff_max=max(1, config.visibility_timeout() // 4),
    retry_jitter=True,
)


@app.task(name=SIMULATE_SHARD, **RETRYING)
def simulate_shard(sweep_id: int, group_key: str, shard_index: int, n_shards: int, blocks: list[int]) -> str:
    # Two database round trips on PostgreSQL: one takes the shard (its lease, if the sweep is
    # open), one stores the partial and says whether it completed the group.
    store = _store()
    with holding(store, sweep_id, group_key, shard_index) as taken:
        if not taken.sweep_open:
            return "skipped: sweep has ended"
        sweep, groups = _plan(sweep_id, taken.sweep_created_at)
        start = time.perf_counter()
        partial = pipeline.simulate_shard(sweep, groups[group_key], range(*blocks))
        seconds = time.perf_counter() - start
        saved = store.save_partial(sweep_id, group_key, shard_index, partial, seconds)
    # The shard that completes its group sends the reduce as a task of its own (operators see it
    # in Flower; it retries on its own). The store says which shard that is, once. A second
    # delivery of a shard already stored checks the group: the first delivery may have died
    # before sending the reduce. If the message is lost, `check_sweeps` sends it again. If the
    # broker cannot take it, the reduce runs here: it needs only the database, and the sweep
    # must not wait for the periodic check, nor fail for an outage of Redis.
    outcome = "stored" if saved.stored else "duplicate: already stored"
    if saved.completed_group or (not saved.stored and reduce.needs_reduce(store, sweep_id, group_key)):
        try:
            reduce_run.delay(sweep_id=sweep_id, group_key=group_key)
            outcome += "; group complete, reduce sent"
        except OperationalError:
            outcome += "; reduced here: broker unreachable; " + reduce.reduce_group(store, sweep_id, sweep, group_key, _send)
    return outcome


@app.task(name=REDUCE_RUN, **RETRYING)
def reduce_run(sweep_id: int, group_key: str) -> str:
    store = _store()
    return reduce.reduce_group(store, sweep_id, store.sweep_spec(sweep_id), group_key, _send)


@app.task(name=CHECK_SWEEPS)
def check_sweeps() -> str:
    """Reduce complete groups whose reduce was lost (one `reduce_run` each, in parallel) and
    send lost shards again."""
    pending = reduce.check_sweeps(_store())
    for sweep_id, group_key in pending:
        reduce_run.delay(sweep_id=sweep_id, group_key=group_key)
    resent = recovery.recover_sweeps(_store(), _send, timedelta(seconds=config.shard_lease()))
    return "; ".join([f"{len(pending)} reduce(s) sent", *resent])


class RecalcFailed(InfscaleError):
    """A recalculation's user-facing error (e.g. a bad price file), as one line for the caller."""


@app.task(name=RECALC, ignore_result=False)
def recalc() -> dict[str, Any]:
    # The lock outlives no task: it expires with the hard time limit of this one.
    with exclusive(app.conf.broker_url, config.task_time_limits()[1]) as ours:
        if not ours:
            return recalc_document(recalculation.skipped("another recalculation is running (it holds the lock)"))
        try:
            report = recalculation.recalc(_store(), config.price_source(), config.price_catalog(), workers=1)
        except InfscaleError as exc:
            raise RecalcFailed(str(exc)) from None  # rebuilt as itself by the caller (one argument)
        return recalc_document(report)


def _send(messages: list[dict[str, Any]]) -> None:
    """Enqueue a further round's shards on this app's broker."""
    enqueue(messages, app.conf.broker_url)


@lru_cache(maxsize=None)
def _store() -> SqlStore:
    """This process's store (pool processes create their own after the fork)."""
    return SqlStore(upgrade_schema=False)


@lru_cache(maxsize=64)
def _plan(sweep_id: int, created_at: datetime) -> tuple[SweepSpec, dict[str, SimulationGroup]]:
    """A sweep's spec and groups, read once per process: a stored spec never changes, and the
    creation time in the key tells a sweep from another with the same id (a database made anew
    under a running worker)."""
    sweep = _store().sweep_spec(sweep_id)
    return sweep, {g.key: g for g in simulation_groups(sweep)}
