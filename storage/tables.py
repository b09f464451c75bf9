"""The database schema as typed ORM tables (migrations `0001_initial` and `0002_prices` create
exactly this).

A sweep has one `simulations` row per engine `SimulationGroup`, one `partials` row per
shard of a simulation, and one `runs` row per (model, scenario); a finished run has its
`curve_points` (one per k) and `choices` (one per method); a finished sweep has its
cross-model `recommendations`. `model_prices` versions each model's prices over time;
a recalculation stores a run again as a new `revision` (queries read the highest one).
Unique constraints make duplicates impossible where a duplicate would be a bug (a shard
delivered twice, a run finished twice).
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from infscale.storage.rows import utc_now


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on every backend (SQLite keeps no zone: UTC is implied)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class NaNDouble(TypeDecorator[float]):
    """A double where NaN is stored as NULL and NULL reads back as NaN.

    Not every backend keeps NaN in a double column, and NULL says "no value" (e.g. the
    standard error of a 1-trial mean) in a way every SQL client understands.
    """

    impl = Double
    cache_ok = True

    def process_bind_param(self, value: float | None, dialect: Any) -> float | None:
        if value is None or math.isnan(value):
            return None
        return float(value)

    def process_result_value(self, value: float | None, dialect: Any) -> float:
        return math.nan if value is None else float(value)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    })


class SweepRecord(Base):
    __tablename__ = "sweeps"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'running', 'done', 'failed', 'cancelled')", name="status"
        ),
        Index(None, "status", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String)
    source: Mapped[str] = mapped_column(Text)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)  # readers.stored_specs.sweep_to_dict
    mode: Mapped[str] = mapped_column(String)
    trials: Mapped[int] = mapped_column(BigInteger)
    seed: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    blocks_per_shard: Mapped[int | None] = mapped_column(Integer)


class SimulationRecord(Base):
    """One engine `SimulationGroup` of a sweep: scenarios sharing one simulation."""

    __tablename__ = "simulations"
    __table_args__ = (UniqueConstraint("sweep_id", "group_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sweep_id: Mapped[int] = mapped_column(ForeignKey("sweeps.id", ondelete="CASCADE"))
    group_key: Mapped[str] = mapped_column(String)  # SimulationGroup.key
    model_key: Mapped[str] = mapped_column(String)
    parallelism: Mapped[int] = mapped_column(Integer)
    k_max: Mapped[int] = mapped_column(Integer)
    k_grid: Mapped[str] = mapped_column(String)
    n_blocks: Mapped[int] = mapped_column(Integer)
    n_shards: Mapped[int] = mapped_column(Integer)
    # Partials stored so far, counted by the statement that stores each (migration 0008).
    shards_stored: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))


class PartialRecord(Base):
    """Encoded partial statistics of one shard (see storage.codec); stored once per shard."""

    __tablename__ = "partials"
    __table_args__ = (UniqueConstraint("simulation_id", "shard_index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    simulation_id: Mapped[int] = mapped_column(ForeignKey("simulations.id", ondelete="CASCADE"))
    shard_index: Mapped[int] = mapped_column(Integer)
    n_shards: Mapped[int] = mapped_column(Integer)
    trials: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    seconds: Mapped[float] = mapped_column(Double)  # compute time of the shard


class ShardLeaseRecord(Base):
    """Who holds a shard of a running simulation, until when (scheduler.recovery): written when
    a worker starts the shard and renewed while it runs, or by the periodic check when it sends
    the shard again. A shard whose partial is missing and whose lease ran out is lost."""

    __tablename__ = "shard_leases"
    __table_args__ = (UniqueConstraint("simulation_id", "shard_index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    simulation_id: Mapped[int] = mapped_column(ForeignKey("simulations.id", ondelete="CASCADE"))
    shard_index: Mapped[int] = mapped_column(Integer)
    holder: Mapped[str] = mapped_column(Text)  # a worker (host and pid), or scheduler.recovery.RESENT
    renewed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RunRecord(Base):
    """One model under one scenario, with the prices and budgets it was computed with."""

    __tablename__ = "runs"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'done', 'failed', 'cancelled')", name="status"),
        UniqueConstraint("sweep_id", "model_key", "scenario_name", "revision"),
        Index(None, "model_key", "scenario_name"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sweep_id: Mapped[int] = mapped_column(ForeignKey("sweeps.id", ondelete="CASCADE"))
    simulation_id: Mapped[int] = mapped_column(
        ForeignKey("simulations.id", ondelete="CASCADE"), index=True
    )
    model_key: Mapped[str] = mapped_column(String)
    scenario_name: Mapped[str] = mapped_column(String)
    model: Mapped[dict[str, Any]] = mapped_column(JSON)  # readers.stored_specs.model_to_dict
    scenario: Mapped[dict[str, Any]] = mapped_column(JSON)  # readers.stored_specs.scenario_to_dict
    status: Mapped[str] = mapped_column(String)
    error: Mapped[str | None] = mapped_column(Text)
    trials: Mapped[int | None] = mapped_column(BigInteger)
    revision: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # `trials: auto` (migration 0003): why the run's group stopped adding trials; NULL otherwise.
    stop_reason: Mapped[str | None] = mapped_column(Text)


class CurvePointRecord(Base):
    """Everything measured for one run at one k (engine.statistics.Curves, one row per k)."""

    __tablename__ = "curve_points"

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    k: Mapped[int] = mapped_column(Integer, primary_key=True)
    cost_mean: Mapped[float] = mapped_column(NaNDouble)
    cost_se: Mapped[float] = mapped_column(NaNDouble, nullable=True)  # NULL: 1 trial
    cost_p05: Mapped[float] = mapped_column(NaNDouble, nullable=True)  # NULL: exact mode
    cost_p50: Mapped[float] = mapped_column(NaNDouble, nullable=True)  # NULL: exact mode
    cost_p95: Mapped[float] = mapped_column(NaNDouble, nullable=True)  # NULL: exact mode
    time_mean: Mapped[float] = mapped_column(NaNDouble)
    time_se: Mapped[float] = mapped_column(NaNDouble, nullable=True)
    time_p05: Mapped[float] = mapped_column(NaNDouble, nullable=True)  # NULL: exact mode
    time_p50: Mapped[float] = mapped_column(NaNDouble, nullable=True)  # NULL: exact mode
    time_p95: Mapped[float] = mapped_column(NaNDouble, nullable=True)  # NULL: exact mode
    accuracy_mean: Mapped[float] = mapped_column(NaNDouble)
    accuracy_se: Mapped[float] = mapped_column(NaNDouble, nullable=True)
    accuracy_p05: Mapped[float] = mapped_column(NaNDouble, nullable=True)  # NULL: exact mode
    accuracy_p50: Mapped[float] = mapped_column(NaNDouble, nullable=True)  # NULL: exact mode
    accuracy_p95: Mapped[float] = mapped_column(NaNDouble, nullable=True)  # NULL: exact mode
    feasible_probability: Mapped[float] = mapped_column(NaNDouble, nullable=True)  # NULL: exact mode
    feasible: Mapped[bool] = mapped_column(Boolean)
    on_frontier: Mapped[bool] = mapped_column(Boolean)


class ChoiceRecord(Base):
    """The k one selection method picked for one run (engine.selection.Choice)."""

    __tablename__ = "choices"
    __table_args__ = (UniqueConstraint("run_id", "method"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    method: Mapped[str] = mapped_column(String)
    status: Mapped[str] = mapped_column(String)
    k: Mapped[int | None] = mapped_column(Integer)
    total_cost: Mapped[float | None] = mapped_column(Double)
    total_time: Mapped[float | None] = mapped_column(Double)
    accuracy: Mapped[float | None] = mapped_column(Double)
    reason: Mapped[str] = mapped_column(Text)
    confidence: Mapped[float | None] = mapped_column(Double)


class RecommendationRecord(Base):
    """The (model, k) one method picked across the models of a sweep for one scenario."""

    __tablename__ = "recommendations"
    __table_args__ = (UniqueConstraint("sweep_id", "scenario_name", "method", "revision"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sweep_id: Mapped[int] = mapped_column(ForeignKey("sweeps.id", ondelete="CASCADE"))
    scenario_name: Mapped[str] = mapped_column(String)
    method: Mapped[str] = mapped_column(String)
    status: Mapped[str] = mapped_column(String)
    model_key: Mapped[str | None] = mapped_column(String)
    k: Mapped[int | None] = mapped_column(Integer)
    total_cost: Mapped[float | None] = mapped_column(Double)
    total_time: Mapped[float | None] = mapped_column(Double)
    accuracy: Mapped[float | None] = mapped_column(Double)
    reason: Mapped[str] = mapped_column(Text)
    # Estimated probability that the pick is right (migration 0004; engine.confidence).
    confidence: Mapped[float | None] = mapped_column(Double)
    revision: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    # When this revision was written (migration 0002; older rows: their sweep's finish time).
    created_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=utc_now)


class ModelPriceRecord(Base):
    """One version of one model's prices, in force from `effective_at` until the next version.

    `t_in` / `t_out` / `c_in_cached` NULL: no source has said (a model keeps its catalog's). Importing the
    prices in force again adds no row (`Storage.import_prices`).
    """

    __tablename__ = "model_prices"
    __table_args__ = (
        UniqueConstraint("model_key", "effective_at"),
        CheckConstraint(
            "c_in >= 0 AND c_out >= 0 AND (t_in IS NULL OR t_in >= 0) AND (t_out IS NULL OR t_out >= 0)",
            name="nonnegative",
        ),
        CheckConstraint("c_in_cached IS NULL OR c_in_cached >= 0", name="cached_nonnegative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_key: Mapped[str] = mapped_column(String)
    c_in: Mapped[float] = mapped_column(Double)  # $ per input token
    c_out: Mapped[float] = mapped_column(Double)  # $ per output token
    t_in: Mapped[float | None] = mapped_column(Double)  # s per input token
    t_out: Mapped[float | None] = mapped_column(Double)  # s per output token
    # $ per cached input token (migration 0007; NULL: the source did not say).
    c_in_cached: Mapped[float | None] = mapped_column(Double)
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(Text)  # the file it was imported from
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
