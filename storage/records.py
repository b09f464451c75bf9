"""ORM records <-> interface types, and the queries every SQL storage module shares.

Private to `storage/`: the concept modules (sweeps, partials, results, prices) read and write
records through these helpers; nothing outside storage sees a record.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np
from sqlalchemy import Connection, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from infscale.engine.prices import Prices, prices_of
from infscale.engine.selection import Choice, Method, Recommendation, Status
from infscale.engine.statistics import METRICS, Curves, MetricCurve
from infscale.readers.stored_specs import model_from_dict
from infscale.config import database_url
from infscale.storage.database import make_engine, unavailable, upgrade, writer
from infscale.storage.errors import NotFound
from infscale.storage.ordering import METHOD_RANK, SweepOrder, latest_revisions
from infscale.storage.rows import (
    ChoiceRow,
    PriceRow,
    RecommendationRow,
    RunRevision,
    RunStatus,
    SweepRow,
    utc_now,
)
from infscale.storage.tables import (
    ChoiceRecord,
    CurvePointRecord,
    ModelPriceRecord,
    RecommendationRecord,
    RunRecord,
    SimulationRecord,
    SweepRecord,
)

if TYPE_CHECKING:
    from infscale.engine.results import RunResult

STATS = tuple(f.name for f in fields(MetricCurve))  # mean, se, p05, p50, p95
CURVE_FLOATS = tuple(f"{m}_{s}" for m in METRICS for s in STATS) + ("feasible_probability",)
"""The float columns of `curve_points`, in the order `load_curves` reads them."""

class SqlSessions:
    """A database connection pool and its two kinds of session; the base of `SqlStore`."""

    def __init__(self, url: str | None = None, *, upgrade_schema: bool = True) -> None:
        self.url = database_url(url)
        if upgrade_schema:
            upgrade(self.url)
        self._engine = make_engine(self.url)
        self._reader = sessionmaker(self._engine, expire_on_commit=False)
        self._writer = sessionmaker(writer(self._engine), expire_on_commit=False)

    def close(self) -> None:
        """Close pooled connections (the store stays usable; it reconnects on demand)."""
        self._engine.dispose()

    def __enter__(self) -> "SqlSessions":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        """One write transaction: committed when the block ends, rolled back on any exception.
        The database failing under it (down, locked, disk full) is `DatabaseUnavailable`."""
        try:
            with self._writer() as session, session.begin():
                yield session
        except OperationalError as exc:
            raise unavailable(self.url, exc) from None

    @contextmanager
    def _statement(self) -> Iterator[Connection]:
        """A connection for a write that is one statement, or (SQLite) a few: on PostgreSQL in
        autocommit mode, where a statement is atomic by itself and costs one round trip instead
        of three (BEGIN, it, COMMIT); on SQLite a write transaction (a local file: no network)."""
        try:
            if self._engine.dialect.name == "postgresql":
                with self._engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                    yield connection
            else:
                with writer(self._engine).begin() as connection:
                    yield connection
        except OperationalError as exc:
            raise unavailable(self.url, exc) from None

    @contextmanager
    def _reading(self) -> Iterator[Session]:
        try:
            with self._reader() as session, session.begin():
                yield session
        except OperationalError as exc:
            raise unavailable(self.url, exc) from None


def match_runs(
    records: Sequence[RunRecord], results: Sequence[RunResult], what: str
) -> list[tuple[RunRecord, RunResult]]:
    """Pair run rows with engine results by (model, scenario); both sets must be the same."""
    by_key = {(r.model_key, r.scenario_name): r for r in records}
    result_keys = [(r.model.key, r.scenario.name) for r in results]
    if sorted(result_keys) != sorted(by_key):
        raise ValueError(
            f"{what}: results for {sorted(result_keys)} do not match the stored runs {sorted(by_key)}"
        )
    return [(by_key[key], result) for key, result in zip(result_keys, results)]



WRITE_BATCH_ROWS = 4096
"""Curve points per INSERT at most when writing runs' results: a group of up to a few hundred
runs is one statement per table, and the parameters held at once stay bounded however many."""


def write_run_results(session: Session, runs: Iterable[tuple[RunRecord, RunResult]], now: datetime) -> None:
    """Runs' curve points and choices, in bulk INSERTs (executemany, in run order, so choice ids
    come out as one INSERT per run gave them); the runs become done."""
    points: list[tuple[Any, ...]] = []
    choices: list[tuple[Any, ...]] = []
    for run, result in runs:
        points += _curve_point_rows(run.id, result)
        choices += [
            (run.id, c.method.value, c.status.value, c.k, c.total_cost, c.total_time, c.accuracy, c.reason, c.confidence)
            for c in result.decision.choices
        ]
        run.status, run.trials, run.finished_at = RunStatus.DONE.value, result.curves.trials, now
        run.stop_reason = result.stop_reason
        if len(points) >= WRITE_BATCH_ROWS:
            _insert_many(session, CurvePointRecord, POINT_COLUMNS, points)
            _insert_many(session, ChoiceRecord, CHOICE_COLUMNS, choices)
            points, choices = [], []
    _insert_many(session, CurvePointRecord, POINT_COLUMNS, points)
    _insert_many(session, ChoiceRecord, CHOICE_COLUMNS, choices)


POINT_COLUMNS = ("run_id", "k", *CURVE_FLOATS, "feasible", "on_frontier")
CHOICE_COLUMNS = ("run_id", "method", "status", "k", "total_cost", "total_time", "accuracy", "reason", "confidence")


def _curve_point_rows(run_id: int, result: RunResult) -> list[tuple[Any, ...]]:
    """One row per k of the grid, in POINT_COLUMNS order."""
    curves, decision = result.curves, result.decision
    floats = [getattr(getattr(curves, m), stat) for m in METRICS for stat in STATS] + [curves.feasible_probability]
    columns = [
        [run_id] * curves.k.size, curves.k.tolist(), *(_nan_as_null(x) for x in floats),
        decision.feasible.tolist(), decision.frontier.tolist(),
    ]
    return list(zip(*columns))


def _nan_as_null(values: np.ndarray) -> list[float | None]:
    """Python floats with NaN as None: what the NaNDouble columns bind (tables.NaNDouble)."""
    out = np.asarray(values, dtype=np.float64).astype(object)
    out[np.isnan(values)] = None
    return out.tolist()


def _insert_many(session: Session, record: type, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """INSERT rows (tuples in `columns` order) with the driver's executemany, in the session's
    transaction. SQLAlchemy's per-row parameter processing was most of the time of a sweep's
    hundred thousand curve points; the rows already hold what its types would bind."""
    if not rows:
        return
    connection = session.connection()
    compiled = insert(record.__table__).inline().compile(dialect=connection.dialect, column_keys=list(columns))
    if compiled.positiontup is not None:  # positional parameters (SQLite)
        order = [columns.index(name) for name in compiled.positiontup]
        params: list[Any] = rows if order == list(range(len(columns))) else [tuple(r[i] for i in order) for r in rows]
    else:  # named parameters (psycopg)
        params = [dict(zip(columns, row)) for row in rows]
    connection.exec_driver_sql(str(compiled), params)


def write_recommendations(
    session: Session, sweep_id: int, recommendations: Iterable[Recommendation], revision: int = 1,
    now: datetime | None = None,
) -> None:
    now = now or utc_now()
    rows = [
        {
            "sweep_id": sweep_id, "scenario_name": r.scenario, "method": Method(r.method).value,
            "status": Status(r.status).value, "model_key": r.model, "k": r.k, "total_cost": r.total_cost,
            "total_time": r.total_time, "accuracy": r.accuracy, "reason": r.reason,
            "confidence": r.confidence, "revision": revision, "created_at": now,
        }
        for r in recommendations
    ]
    if rows:
        session.execute(insert(RecommendationRecord), rows)



def insert_unless_present(session: Session, record_class: type, unique: tuple[str, ...], **values: Any) -> bool:
    """INSERT ... ON CONFLICT (unique) DO NOTHING; True if the row was inserted.

    RETURNING tells which happened (psycopg reports no rowcount for this statement).
    """
    table = record_class.__table__
    statement = (
        dialect_insert(session)(table).values(**values)
        .on_conflict_do_nothing(index_elements=unique)
        .returning(*table.primary_key.columns)
    )
    return session.execute(statement).first() is not None



def dialect_insert(bind: Session | Connection) -> Any:
    """The INSERT construct of the session's (or connection's) database, with its ON CONFLICT clauses."""
    dialect = bind.dialect if isinstance(bind, Connection) else bind.get_bind().dialect
    return {"sqlite": sqlite.insert, "postgresql": postgresql.insert}[dialect.name]


def sweep_record(session: Session, sweep_id: int, lock: bool = False) -> SweepRecord:
    record = session.get(SweepRecord, sweep_id, with_for_update=lock)
    if record is None:
        raise NotFound(f"sweep {sweep_id} does not exist")
    return record



def simulation_record(session: Session, sweep_id: int, group_key: str, lock: bool = False) -> SimulationRecord:
    query = select(SimulationRecord).where(SimulationRecord.sweep_id == sweep_id, SimulationRecord.group_key == group_key)
    simulation = session.scalar(query.with_for_update() if lock else query)
    if simulation is None:
        sweep_record(session, sweep_id)
        known = session.scalars(select(SimulationRecord.group_key).where(SimulationRecord.sweep_id == sweep_id))
        raise NotFound(f"sweep {sweep_id} has no simulation group {group_key!r} (groups: {', '.join(known)})")
    return simulation



def current_runs(session: Session, sweep_id: int, as_of: datetime | None = None) -> list[RunRecord]:
    """The highest revision of each (model, scenario) run of the sweep (finished by `as_of`)."""
    query = select(RunRecord).where(RunRecord.sweep_id == sweep_id)
    if as_of is not None:
        query = query.where(RunRecord.finished_at <= as_of)
    return latest_runs(session.scalars(query))



def latest_runs(records: Iterable[RunRecord]) -> list[RunRecord]:
    return latest_revisions(records, lambda r: (r.model_key, r.scenario_name))





def sweep_order(session: Session, sweep_id: int) -> SweepOrder:
    """The stored spec's model and scenario order (NotFound if there is no such sweep)."""
    record = sweep_record(session, sweep_id)
    return SweepOrder(record.id, (m["key"] for m in record.spec["models"]), (s["name"] for s in record.spec["scenarios"]))


def load_curves(session: Session, run: RunRecord) -> tuple[Curves, np.ndarray, np.ndarray]:
    """A done run's Curves, feasible mask and frontier mask from its curve points."""
    return load_many_curves(session, [run])[run.id]


def load_many_curves(session: Session, runs: Sequence[RunRecord]) -> dict[int, tuple[Curves, np.ndarray, np.ndarray]]:
    """run id -> (Curves, feasible mask, frontier mask) of done runs, in one query (a sweep's
    27 runs one by one take several times as long)."""
    for run in runs:
        if run.status != RunStatus.DONE:
            raise NotFound(f"run {run.model_key}/{run.scenario_name} has no curves yet (status {run.status})")
    table = CurvePointRecord
    rows = session.execute(
        select(table.run_id, table.k, table.feasible, table.on_frontier, *(getattr(table, c) for c in CURVE_FLOATS))
        .where(table.run_id.in_([run.id for run in runs]))
        .order_by(table.run_id, table.k)
    ).all()
    by_run: dict[int, list[Any]] = {run.id: [] for run in runs}
    for row in rows:
        by_run[row[0]].append(row[1:])
    return {run.id: _curves_of(run, by_run[run.id]) for run in runs}


def _curves_of(run: RunRecord, rows: Sequence[Any]) -> tuple[Curves, np.ndarray, np.ndarray]:
    k = np.array([r[0] for r in rows], dtype=np.int64)
    feasible = np.array([r[1] for r in rows], dtype=bool)
    frontier = np.array([r[2] for r in rows], dtype=bool)
    floats = np.array([r[3:] for r in rows], dtype=np.float64).reshape(len(rows), len(CURVE_FLOATS))
    column = {name: floats[:, i].copy() for i, name in enumerate(CURVE_FLOATS)}
    metrics = [MetricCurve(*(column[f"{m}_{s}"] for s in STATS)) for m in METRICS]
    curves = Curves(k, int(run.trials or 0), *metrics, column["feasible_probability"])
    return curves, feasible, frontier


def run_revision(session: Session, run: RunRecord) -> RunRevision:
    choices = session.scalars(select(ChoiceRecord).where(ChoiceRecord.run_id == run.id))
    rows = sorted((choice_row(run.sweep_id, run, c) for c in choices), key=lambda c: METHOD_RANK[c.method])
    return RunRevision(
        run.sweep_id, run.model_key, run.scenario_name, run.revision, run.finished_at,
        prices_of(model_from_dict(run.model)), tuple(rows),
    )



def sweep_row(r: SweepRecord) -> SweepRow:
    return SweepRow(r.id, r.name, r.source, r.status, r.mode, r.trials, r.seed, r.created_at, r.finished_at, r.error)



def choice_row(sweep_id: int, run: RunRecord, c: ChoiceRecord) -> ChoiceRow:
    return ChoiceRow(
        sweep_id, run.id, run.model_key, run.scenario_name, c.method, c.status, c.k,
        c.total_cost, c.total_time, c.accuracy, c.reason, c.confidence, run.trials, run.stop_reason,
    )



def choice_of(c: ChoiceRecord) -> Choice:
    return Choice(
        Method(c.method), Status(c.status), c.k, c.total_cost, c.total_time, c.accuracy, c.reason, c.confidence
    )



def recommendation_row(r: RecommendationRecord) -> RecommendationRow:
    return RecommendationRow(
        r.sweep_id, r.scenario_name, r.method, r.status, r.model_key, r.k,
        r.total_cost, r.total_time, r.accuracy, r.reason, r.confidence,
    )



def prices_of_record(r: ModelPriceRecord) -> Prices:
    return Prices(r.c_in, r.c_out, r.t_in, r.t_out, r.c_in_cached)



def price_row(r: ModelPriceRecord) -> PriceRow:
    return PriceRow(r.model_key, prices_of_record(r), r.effective_at, r.source)
