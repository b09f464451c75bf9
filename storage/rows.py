"""The types of the storage interface: what queries return (frozen dataclasses, never ORM
objects or SQL rows) and the statuses of sweeps and runs.

Methods and statuses are the engine's enum values as plain strings (`"max_accuracy"`,
`"ok"`, `"done"`); timestamps are timezone-aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum

import numpy as np

from infscale.engine.prices import Prices
from infscale.engine.specs import ModelSpec
from infscale.engine.statistics import Curves


class SweepStatus(str, Enum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class RunStatus(str, Enum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINAL_SWEEP_STATUSES = frozenset({SweepStatus.DONE, SweepStatus.FAILED, SweepStatus.CANCELLED})

RUN_STATUS_ON_SWEEP_END = {SweepStatus.FAILED: RunStatus.FAILED, SweepStatus.CANCELLED: RunStatus.CANCELLED}
"""What a sweep's pending runs become when it ends another way than done."""


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class SweepRow:
    id: int
    name: str
    source: str
    status: str  # storage.tables.SweepStatus value
    mode: str
    trials: int
    seed: int
    created_at: datetime
    finished_at: datetime | None
    error: str | None


@dataclass(frozen=True)
class SimulationRow:
    """How far a simulation group's plan has grown: blocks and shards so far (`trials: auto`
    adds rounds), and the shard size its sweep was submitted with (None: one shard a round)."""

    group_key: str
    n_blocks: int
    n_shards: int
    blocks_per_shard: int | None


@dataclass(frozen=True)
class GroupProgress:
    """How far one simulation group of a sweep is: shards stored, runs finished."""

    group_key: str
    n_shards: int
    shards_done: int
    trials_done: int  # trials of the stored shards
    n_runs: int
    runs_done: int

    @property
    def complete(self) -> bool:
        """Every shard's partial is stored: the group can be reduced."""
        return self.shards_done == self.n_shards

    @property
    def finished(self) -> bool:
        """Every run of the group is done (reduced and stored)."""
        return self.runs_done == self.n_runs


@dataclass(frozen=True)
class ShardLease:
    """Who last held one shard (a worker, or the check that sent it again), and until when."""

    group_key: str
    shard_index: int
    holder: str
    renewed_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class ShardStart:
    """What a worker learns as it takes a shard (`Storage.start_shard`)."""

    sweep_open: bool  # False: the sweep has ended; no lease was written and nothing should run
    sweep_created_at: datetime | None  # with the sweep id, names its stored spec (None if ended)


@dataclass(frozen=True)
class SavedPartial:
    """What storing a shard's partial did (`Storage.save_partial`)."""

    stored: bool  # False: that shard's partial was stored already, and nothing changed
    completed_group: bool  # this partial was the group's last one: its reduce is due now


@dataclass(frozen=True)
class PartialTime:
    """When one shard's partial was stored and how long its simulation took."""

    group_key: str
    shard_index: int
    trials: int
    seconds: float
    created_at: datetime


@dataclass(frozen=True)
class ChoiceRow:
    """The k one method picked for one model under one scenario (engine.selection.Choice)."""

    sweep_id: int
    run_id: int
    model: str
    scenario: str
    method: str
    status: str
    k: int | None
    total_cost: float | None
    total_time: float | None
    accuracy: float | None
    reason: str
    confidence: float | None
    trials: int | None = None  # of the run
    stop_reason: str | None = None  # `trials: auto`: why the run stopped adding trials


@dataclass(frozen=True)
class RecommendationRow:
    """The (model, k) one method picked across models for one scenario (engine Recommendation)."""

    sweep_id: int
    scenario: str
    method: str
    status: str
    model: str | None
    k: int | None
    total_cost: float | None
    total_time: float | None
    accuracy: float | None
    reason: str
    confidence: float | None = None  # estimated probability that the pick is right (engine)


@dataclass(frozen=True, eq=False)
class StoredCurves:
    """A finished run's curves as stored, with its feasible set and Pareto frontier per k."""

    run_id: int
    model: str
    scenario: str
    curves: Curves
    feasible: np.ndarray  # bool per k
    on_frontier: np.ndarray  # bool per k
    accuracy_model: str = "gaussian_best_of_k"  # the run's (engine.specs.AccuracyModel value)



# --- prices and revisions -------------------------------------------------------------------------


@dataclass(frozen=True)
class PriceRow:
    """One version of one model's prices (engine.prices.Prices), with when it took effect."""

    model: str
    prices: Prices
    effective_at: datetime
    source: str


@dataclass(frozen=True)
class PriceImport:
    """What one import did: models given a new price version, and models whose prices were
    already in force (no new version)."""

    effective_at: datetime
    changed: tuple[str, ...]
    unchanged: tuple[str, ...]


@dataclass(frozen=True)
class RunModel:
    """The current revision of one run and the model (with its prices) it was computed with."""

    model: str
    scenario: str
    revision: int
    spec: ModelSpec


@dataclass(frozen=True)
class RunRevision:
    """One revision of one run: the prices it was computed with, when, and what it chose."""

    sweep_id: int
    model: str
    scenario: str
    revision: int
    computed_at: datetime
    prices: Prices
    choices: tuple[ChoiceRow, ...]  # in method order


@dataclass(frozen=True)
class RunChange:
    """A run whose revision changed: the one before and the one after."""

    old: RunRevision
    new: RunRevision


@dataclass(frozen=True)
class RecommendationChange:
    """A cross-model recommendation (scenario, method) before and after a recalculation."""

    old_revision: int
    old: RecommendationRow
    new_revision: int
    new: RecommendationRow

    @property
    def changed(self) -> bool:
        """Whether the pick itself moved (model, k or status), not only its numbers."""
        return (self.old.status, self.old.model, self.old.k) != (self.new.status, self.new.model, self.new.k)


@dataclass(frozen=True)
class Changes:
    """What recalculations changed in one sweep (`Storage.changes`)."""

    sweep_id: int
    runs: tuple[RunChange, ...]
    recommendations: tuple[RecommendationChange, ...]
