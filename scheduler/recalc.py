"""`infscale recalc`: import the configured prices, then recompute the stored runs they make stale.

A run is stale when the prices its model was computed with differ from the price version in
force now (engine.prices.is_stale). Per done sweep, its stale models are simulated again, all
their scenarios, with the sweep's seed and trials and the new prices, on this machine's
processes (`scheduler.local.run_local`): random streams depend on (seed, model, block) only, so
a recomputed run equals a fresh `infscale run` with the new prices bit for bit. The results are
stored as the next revision of each run, and the sweep's cross-model recommendations, decided
again over its current runs, as their next revision (`Storage.save_revision`, one transaction;
older revisions stay). Runs whose prices did not change are not touched, and a second
recalculation with no price change finds nothing stale and writes nothing.

Two recalculations at once are harmless: a sweep's revision is stored only if none was stored
since it was read. On the workers the `infscale.recalc` task also holds a Redis lock
(workers.broker.exclusive), so a second beat or a duplicate trigger does no work at all.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Mapping

from infscale.engine.pipeline import recommend_all
from infscale.engine.prices import Prices, is_stale, reprice
from infscale.engine.specs import InputBilling, ModelSpec
from infscale.readers.price_files import PriceFile, load_price_file
from infscale.scheduler.local import run_local
from infscale.storage.interface import Storage
from infscale.storage.rows import PriceImport, RunModel, SweepStatus

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



def import_price_file(
    store: Storage, path: str, catalog: str | None = None, effective_at: datetime | None = None
) -> tuple[PriceFile, PriceImport]:
    """Validate the whole price file first (`catalog`: which LiteLLM name is which model; None:
    the stored sweeps' models), then import it in one transaction: all of it or nothing."""
    price_file = load_price_file(path, store.stored_models() if catalog is None else {}, catalog)
    return price_file, store.import_prices(price_file.quotes, str(path), effective_at)


def recalc(
    store: Storage, source: str | None = None, catalog: str | None = None, workers: int | None = None
) -> RecalcReport:
    """Import `source` (a price file; None: none; `catalog` as in `import_price_file`), then
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
    store: Storage, sweep_id: int, prices: Mapping[str, Prices], workers: int | None = None
) -> SweepRecalc | None:
    """Recompute the sweep's runs whose model prices are stale under `prices`; None if none are."""
    current = store.run_models(sweep_id)
    spec = store.sweep_spec(sweep_id)
    repriced = stale_models(current, prices, {s.name: s.input_billing for s in spec.scenarios})
    if not repriced:
        return None
    result = run_local(replace(spec, models=tuple(repriced[m.key] for m in spec.models if m.key in repriced)), workers)
    runs = {(r.model.key, r.scenario.name): r for r in store.run_results(sweep_id)}
    runs.update({(r.model.key, r.scenario.name): r for r in result.runs})
    recommendations = recommend_all(spec, list(runs.values()))  # uses the spec's order, not its prices
    based_on = {(m.model, m.scenario): m.revision for m in current}
    stored = store.save_revision(sweep_id, result.runs, recommendations, based_on)
    return SweepRecalc(sweep_id, tuple(repriced), len(result.runs), stored)


def stale_models(
    current: list[RunModel], prices: Mapping[str, Prices], billing: Mapping[str, InputBilling | None]
) -> dict[str, ModelSpec]:
    """model key -> the model repriced, for each model some current run computed with other
    prices (`billing`: scenario name -> its input_billing, None: the model's)."""
    return {
        run.model: reprice(run.spec, prices[run.model])
        for run in current
        if run.model in prices and is_stale(run.spec, prices[run.model], billing.get(run.scenario))
    }


def skipped(reason: str) -> RecalcReport:
    """The report of a recalculation that did nothing at all (e.g. another one holds the lock)."""
    return RecalcReport(None, None, (), skipped=reason)
