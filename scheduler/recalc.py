"""`infscale recalc`: import the configured prices, then recompute the stored runs they make stale.

A run is stale when the prices its model was computed with differ from the price version in
force now (engine.prices.is_stale). Per done sweep, its stale models are simulated again, all
their scenarios, with the sweep's seed and trials and the new prices, on this machine's
processes (`scheduler.local.run_local`): random streams depend on (seed, model, block) only, so
a recomputed run equals a fresh `infscale run` with the new prices bit for bit. The results are
stored as the next revision of each run, and the sweep's cross-model recommendations, decided
again over its current runs, as their next revision (`Store.save_revision`, one transaction;
older revisions stay). Runs whose prices did not change are not touched, and a second
recalculation with no price change finds nothing stale and writes nothing.

Two recalculations at once are harmless: a sweep's revision is stored only if none was stored
since it was read. On the workers the `infscale.recalc` task also holds a Redis lock
(`exclusive`), so a second beat or a duplicate trigger does no work at all.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, Iterator, Mapping

from infscale.engine.errors import InfscaleError
from infscale.engine.pipeline import recommend_all
from infscale.engine.pricefile import PriceFile
from infscale.engine.prices import Prices, is_stale, reprice
from infscale.engine.specs import ModelSpec
from infscale.scheduler import settings
from infscale.scheduler.local import run_local
from infscale.scheduler.pricefiles import import_document, import_price_file
from infscale.storage.rows import PriceImport, RunModel
from infscale.storage.store import Store
from infscale.storage.tables import SweepStatus

BROKER_CONNECT_RETRIES = 2
"""Attempts to reach the broker before `send_recalc` gives up (a down broker fails in ~1 s)."""

LOCK_NAME = "infscale:recalc"
"""The Redis key of the recalculation lock (held by at most one `infscale.recalc` task)."""


class BrokerUnreachable(InfscaleError):
    """The broker a recalculation was to be sent to does not answer."""


@dataclass(frozen=True)
class SweepRecalc:
    """One sweep's recalculation: the models recomputed and whether the revision was stored."""

    sweep_id: int
    models: tuple[str, ...]
    runs: int  # runs recomputed (every scenario of each model)
    stored: bool  # False: another recalculation stored a revision of this sweep first


@dataclass(frozen=True)
class RecalcReport:
    price_file: PriceFile | None  # None: no price source configured
    imported: PriceImport | None
    sweeps: tuple[SweepRecalc, ...]
    skipped: str | None = None  # why nothing was done at all (another recalculation runs)

    @property
    def changed(self) -> bool:
        return any(s.stored for s in self.sweeps)

    def document(self) -> dict[str, Any]:
        """The `--json` contract of `recalc` (also what the `infscale.recalc` task returns)."""
        return {
            "skipped": self.skipped,
            "prices": None if self.imported is None else import_document(self.price_file, self.imported),
            "sweeps": [
                {"sweep": s.sweep_id, "models": list(s.models), "runs": s.runs, "stored": s.stored}
                for s in self.sweeps
            ],
            "changed": self.changed,
        }


def recalc(
    store: Store, source: str | None = None, catalog: str | None = None, workers: int | None = None
) -> RecalcReport:
    """Import `source` (a price file; None: none; `catalog` as in scheduler.pricefiles), then
    recompute every stale run of every done sweep on `workers` processes (default: all cores)."""
    price_file, imported = import_price_file(store, source, catalog) if source else (None, None)
    prices = {model: row.prices for model, row in store.prices().items()}
    sweeps = []
    for row in store.sweeps([SweepStatus.DONE]):
        done = recalc_sweep(store, row.id, prices, workers)
        if done is not None:
            sweeps.append(done)
    return RecalcReport(price_file, imported, tuple(sweeps))


def recalc_sweep(
    store: Store, sweep_id: int, prices: Mapping[str, Prices], workers: int | None = None
) -> SweepRecalc | None:
    """Recompute the sweep's runs whose model prices are stale under `prices`; None if none are."""
    current = store.run_models(sweep_id)
    repriced = stale_models(current, prices)
    if not repriced:
        return None
    spec = store.sweep_spec(sweep_id)
    result = run_local(replace(spec, models=tuple(repriced[m.key] for m in spec.models if m.key in repriced)), workers)
    runs = {(r.model.key, r.scenario.name): r for r in store.run_results(sweep_id)}
    runs.update({(r.model.key, r.scenario.name): r for r in result.runs})
    recommendations = recommend_all(spec, list(runs.values()))  # uses the spec's order, not its prices
    based_on = {(m.model, m.scenario): m.revision for m in current}
    stored = store.save_revision(sweep_id, result.runs, recommendations, based_on)
    return SweepRecalc(sweep_id, tuple(repriced), len(result.runs), stored)


def stale_models(current: list[RunModel], prices: Mapping[str, Prices]) -> dict[str, ModelSpec]:
    """model key -> the model repriced, for each model some current run computed with other prices."""
    return {
        run.model: reprice(run.spec, prices[run.model])
        for run in current
        if run.model in prices and is_stale(run.spec, prices[run.model])
    }


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


def skipped(reason: str) -> RecalcReport:
    """The report of a recalculation that did nothing at all (e.g. another one holds the lock)."""
    return RecalcReport(None, None, (), skipped=reason)


def send_recalc(broker: str | None, timeout: float) -> dict[str, Any]:
    """Run `infscale.recalc` on the workers and return its document (waits up to `timeout` s).

    Raises `BrokerUnreachable` if the broker does not answer, `InfscaleError` if no worker
    answers in time or the task failed.
    """
    from celery.exceptions import TimeoutError as CeleryTimeout
    from kombu.utils.url import maybe_sanitize_url

    from infscale.workers.app import RECALC, make_app  # Celery is imported only when sending

    app = make_app(broker)
    url = maybe_sanitize_url(settings.broker_url(broker))
    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=BROKER_CONNECT_RETRIES, interval_start=0.2, interval_step=0.3)
    except Exception as exc:  # noqa: BLE001 - whatever the transport raised: not reachable
        raise BrokerUnreachable(f"broker {url} is not reachable: {exc}") from None
    result = app.send_task(RECALC)
    try:
        document = result.get(timeout=timeout, propagate=False)
    except CeleryTimeout:
        raise InfscaleError(
            f"no worker finished the recalculation (task {result.id}) within {timeout:g} s; it stays queued "
            f"on {url} (is a worker running? `infscale worker`)"
        ) from None
    if result.failed():
        raise InfscaleError(f"the recalculation failed on a worker: {type(document).__name__}: {document}")
    return document
