"""What `Store` queries return: frozen dataclasses, never ORM objects or SQL rows.

Methods and statuses are the engine's enum values as plain strings (`"max_accuracy"`,
`"ok"`, `"done"`); timestamps are timezone-aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np

from engine.statistics import Curves


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


@dataclass(frozen=True, eq=False)
class StoredCurves:
    """A finished run's curves as stored, with its feasible set and Pareto frontier per k."""

    run_id: int
    model: str
    scenario: str
    curves: Curves
    feasible: np.ndarray  # bool per k
    on_frontier: np.ndarray  # bool per k

