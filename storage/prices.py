"""Prices and revisions in SQL: versioned model prices, recalculated runs stored as new
revisions, and what each recalculation changed.

Model prices are versioned in time (`import_prices`); a recalculation stores recomputed runs
as the next revision of each (`save_revision`), older revisions stay.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from infscale.engine.prices import PriceQuote
from infscale.engine.selection import Method, Recommendation
from infscale.readers.stored_specs import model_to_dict, scenario_to_dict
from infscale.storage.ordering import revision_pairs
from infscale.storage.records import (
    SqlSessions,
    sweep_order,
    current_runs,
    price_row,
    prices_of_record,
    recommendation_row,
    run_revision,
    sweep_record,
    write_recommendations,
    write_run_results,
)
from infscale.storage.rows import Changes, PriceImport, PriceRow, RecommendationChange, RunChange, RunRevision, RunStatus, utc_now
from infscale.storage.tables import ModelPriceRecord, RecommendationRecord, RunRecord

if TYPE_CHECKING:
    from infscale.engine.results import RunResult

_PRICES_LOCK_ID = 0x1F5CA1F  # any constant, the same in every process that imports prices


class SqlPrices(SqlSessions):
    """The prices and revisions part of `SqlStore` (see storage.interface.Storage)."""

    def import_prices(
        self, quotes: Sequence[PriceQuote], source: str, effective_at: datetime | None = None
    ) -> PriceImport:
        """A new price version, effective at `effective_at` (default: now), for each quoted model
        whose prices differ from the version in force then; the same prices again add nothing.

        Times a quote leaves open are carried over from the version in force. One transaction
        (serialised with other imports), so a failure imports nothing.
        """
        when = effective_at or utc_now()
        with self._transaction() as session:
            _lock(session, _PRICES_LOCK_ID)
            in_force = {r.model_key: prices_of_record(r) for r in _prices_in_force(session, when)}
            changed, unchanged = [], []
            for quote in quotes:
                prices = quote.prices.over(in_force.get(quote.model))
                if in_force.get(quote.model) == prices:
                    unchanged.append(quote.model)
                    continue
                session.add(ModelPriceRecord(
                    model_key=quote.model, c_in=prices.c_in, c_out=prices.c_out, t_in=prices.t_in,
                    t_out=prices.t_out, c_in_cached=prices.c_in_cached, effective_at=when, source=source, created_at=utc_now(),
                ))
                in_force[quote.model] = prices
                changed.append(quote.model)
            return PriceImport(when, tuple(changed), tuple(unchanged))

    def prices(self, at: datetime | None = None) -> dict[str, PriceRow]:
        """model key -> the price version in force at `at` (default: now), by model key."""
        with self._reading() as session:
            records = sorted(_prices_in_force(session, at or utc_now()), key=lambda r: r.model_key)
            return {r.model_key: price_row(r) for r in records}

    def price_history(self, model: str | None = None) -> list[PriceRow]:
        """Every price version (of `model`, or of all models), by model, oldest first."""
        query = select(ModelPriceRecord).order_by(ModelPriceRecord.model_key, ModelPriceRecord.effective_at)
        if model is not None:
            query = query.where(ModelPriceRecord.model_key == model)
        with self._reading() as session:
            return [price_row(r) for r in session.scalars(query)]

    def save_revision(
        self,
        sweep_id: int,
        runs: Sequence[RunResult],
        recommendations: Iterable[Recommendation],
        based_on: Mapping[tuple[str, str], int],
    ) -> bool:
        """Recomputed runs as the next revision of each, and the sweep's recommendations as
        their next revision, in one transaction; older revisions stay.

        `based_on` is the revision of every run of the sweep, (model, scenario) -> revision,
        that the recomputation read. If the sweep's current revisions are no longer exactly
        those (another recalculation got there first), nothing is written and the result is False.
        """
        with self._transaction() as session:
            sweep_record(session, sweep_id, lock=True)  # PostgreSQL: one revision writer per sweep
            current = {(r.model_key, r.scenario_name): r for r in current_runs(session, sweep_id)}
            if {key: r.revision for key, r in current.items()} != dict(based_on):
                return False
            now = utc_now()
            records = []
            for result in runs:
                old = current[result.model.key, result.scenario.name]
                records.append(RunRecord(
                    sweep_id=sweep_id, simulation_id=old.simulation_id, model_key=old.model_key,
                    scenario_name=old.scenario_name, model=model_to_dict(result.model),
                    scenario=scenario_to_dict(result.scenario), status=RunStatus.PENDING.value,
                    revision=old.revision + 1, created_at=now,
                ))
            session.add_all(records)
            session.flush()  # the new runs' ids, in order
            write_run_results(session, zip(records, runs), now)
            latest = session.scalar(
                select(func.max(RecommendationRecord.revision)).where(RecommendationRecord.sweep_id == sweep_id)
            )
            write_recommendations(session, sweep_id, recommendations, (latest or 0) + 1, now)
            return True

    def run_history(self, sweep_id: int, model: str, scenario: str) -> list[RunRevision]:
        """Every finished revision of one run, oldest first."""
        with self._reading() as session:
            order = sweep_order(session, sweep_id)
            order.check_model(model)
            order.check_scenario(scenario)
            records = session.scalars(
                select(RunRecord)
                .where(RunRecord.sweep_id == sweep_id, RunRecord.model_key == model,
                       RunRecord.scenario_name == scenario, RunRecord.status == RunStatus.DONE.value)
                .order_by(RunRecord.revision)
            )
            return [run_revision(session, r) for r in records]

    def changes(self, sweep_id: int, since: datetime | None = None) -> Changes:
        """What recalculations changed in a sweep: each run and recommendation whose revision in
        force at `since` (default: its previous revision) is not its current one, old and new.

        One first computed after `since` is compared from its first revision.
        """
        with self._reading() as session:
            order = sweep_order(session, sweep_id)
            runs = session.scalars(
                select(RunRecord).where(RunRecord.sweep_id == sweep_id, RunRecord.status == RunStatus.DONE.value)
            )
            run_pairs = revision_pairs(runs, lambda r: (r.model_key, r.scenario_name), lambda r: r.finished_at, since)
            recs = session.scalars(select(RecommendationRecord).where(RecommendationRecord.sweep_id == sweep_id))
            rec_pairs = revision_pairs(recs, lambda r: (r.scenario_name, r.method), lambda r: r.created_at, since)
            run_changes = sorted(
                (RunChange(run_revision(session, old), run_revision(session, new)) for old, new in run_pairs),
                key=lambda c: order.key(c.new.model, c.new.scenario, Method.MAX_ACCURACY.value),
            )
            rec_changes = sorted(
                (RecommendationChange(old.revision, recommendation_row(old), new.revision, recommendation_row(new))
                 for old, new in rec_pairs),
                key=lambda c: order.key(None, c.new.scenario, c.new.method),
            )
            return Changes(sweep_id, tuple(run_changes), tuple(rec_changes))



def _lock(session: Session, lock_id: int) -> None:
    """Serialise this transaction with others taking the same lock (PostgreSQL advisory lock;
    SQLite's write transactions are serialised already, from BEGIN)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock_id})



def _prices_in_force(session: Session, at: datetime) -> list[ModelPriceRecord]:
    """Per model, the price version with the latest `effective_at` not after `at`."""
    records = session.scalars(select(ModelPriceRecord).where(ModelPriceRecord.effective_at <= at))
    best: dict[str, ModelPriceRecord] = {}
    for r in records:
        if r.model_key not in best or r.effective_at > best[r.model_key].effective_at:
            best[r.model_key] = r
    return list(best.values())


