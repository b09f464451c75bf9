"""The prices and revisions part of `MemoryStore` (see storage.interface.Storage)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

from infscale.engine.prices import PriceQuote, prices_of
from infscale.engine.selection import Method, Recommendation
from infscale.storage.memory_records import RunEntry, finish_run, in_method_order, recommendation_row
from infscale.storage.ordering import revision_pairs
from infscale.storage.rows import (
    Changes,
    ChoiceRow,
    PriceImport,
    PriceRow,
    RecommendationChange,
    RunChange,
    RunRevision,
    RunStatus,
    utc_now,
)

if TYPE_CHECKING:
    from infscale.engine.results import RunResult


class MemoryPrices:
    """Needs the `MemoryStore` state: `_lock`, `_runs`, `_recommendations`, `_prices`."""

    def import_prices(
        self, quotes: Sequence[PriceQuote], source: str, effective_at: datetime | None = None
    ) -> PriceImport:
        when = effective_at or utc_now()
        with self._lock:
            in_force = {model: row.prices for model, row in self._prices_at(when).items()}
            changed, unchanged, new = [], [], []
            for quote in quotes:
                prices = quote.prices.over(in_force.get(quote.model))
                if in_force.get(quote.model) == prices:
                    unchanged.append(quote.model)
                    continue
                new.append(PriceRow(quote.model, prices, when, source))
                in_force[quote.model] = prices
                changed.append(quote.model)
            self._prices.extend(new)
            return PriceImport(when, tuple(changed), tuple(unchanged))

    def prices(self, at: datetime | None = None) -> dict[str, PriceRow]:
        with self._lock:
            in_force = self._prices_at(at or utc_now())
            return {key: in_force[key] for key in sorted(in_force)}

    def price_history(self, model: str | None = None) -> list[PriceRow]:
        with self._lock:
            rows = [r for r in self._prices if model is None or r.model == model]
            return sorted(rows, key=lambda r: (r.model, r.effective_at))

    def save_revision(
        self,
        sweep_id: int,
        runs: Sequence[RunResult],
        recommendations: Iterable[Recommendation],
        based_on: Mapping[tuple[str, str], int],
    ) -> bool:
        with self._lock:
            self._sweep(sweep_id)
            current = {(r.model.key, r.scenario.name): r for r in self._current(sweep_id)}
            if {key: r.revision for key, r in current.items()} != dict(based_on):
                return False
            now = utc_now()
            for result in runs:
                old = current[result.model.key, result.scenario.name]
                new = RunEntry(self._next_run_id(), sweep_id, old.group_key, result.model, result.scenario, revision=old.revision + 1)
                self._runs.append(new)
                finish_run(new, result, now)
            latest = max((r.revision for r in self._recommendations if r.sweep_id == sweep_id), default=0)
            self._add_recommendations(sweep_id, recommendations, latest + 1, now)
            return True

    def run_history(self, sweep_id: int, model: str, scenario: str) -> list[RunRevision]:
        with self._lock:
            order = self._order(sweep_id)
            order.check_model(model)
            order.check_scenario(scenario)
            runs = [
                r for r in self._runs
                if r.sweep_id == sweep_id and r.model.key == model and r.scenario.name == scenario
                and r.status == RunStatus.DONE
            ]
            return [self._revision(r) for r in sorted(runs, key=lambda r: r.revision)]

    def changes(self, sweep_id: int, since: datetime | None = None) -> Changes:
        with self._lock:
            order = self._order(sweep_id)
            done = [r for r in self._runs if r.sweep_id == sweep_id and r.status == RunStatus.DONE]
            run_pairs = revision_pairs(done, lambda r: (r.model.key, r.scenario.name), lambda r: r.finished_at, since)
            recs = [r for r in self._recommendations if r.sweep_id == sweep_id]
            rec_pairs = revision_pairs(recs, lambda r: (r.rec.scenario, r.rec.method), lambda r: r.created_at, since)
            run_changes = sorted(
                (RunChange(self._revision(old), self._revision(new)) for old, new in run_pairs),
                key=lambda c: order.key(c.new.model, c.new.scenario, Method.MAX_ACCURACY.value),
            )
            rec_changes = sorted(
                (RecommendationChange(old.revision, recommendation_row(sweep_id, old.rec), new.revision,
                                      recommendation_row(sweep_id, new.rec))
                 for old, new in rec_pairs),
                key=lambda c: order.key(None, c.new.scenario, c.new.method),
            )
            return Changes(sweep_id, tuple(run_changes), tuple(rec_changes))

    def _prices_at(self, at: datetime) -> dict[str, PriceRow]:
        best: dict[str, PriceRow] = {}
        for row in self._prices:
            if row.effective_at <= at and (row.model not in best or row.effective_at > best[row.model].effective_at):
                best[row.model] = row
        return best

    def _revision(self, run: RunEntry) -> RunRevision:
        rows = [
            ChoiceRow(
                run.sweep_id, run.id, run.model.key, run.scenario.name, c.method.value, c.status.value, c.k,
                c.total_cost, c.total_time, c.accuracy, c.reason, c.confidence, run.trials, run.stop_reason,
            )
            for c in in_method_order(run.result.decision.choices)
        ]
        return RunRevision(
            run.sweep_id, run.model.key, run.scenario.name, run.revision, run.finished_at, prices_of(run.model), tuple(rows)
        )
