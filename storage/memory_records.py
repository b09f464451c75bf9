"""The records `MemoryStore` keeps (plain dataclasses) and the helpers that fill and read them."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Iterable, Sequence

from infscale.engine.selection import Choice, Method, Recommendation, Status
from infscale.engine.specs import ModelSpec, ScenarioSpec, SweepSpec
from infscale.engine.statistics import Partial
from infscale.storage.ordering import METHOD_RANK
from infscale.storage.rows import RecommendationRow, RunStatus, SweepRow

if TYPE_CHECKING:
    from infscale.engine.results import RunResult


@dataclass
class SweepEntry:
    row: SweepRow
    spec: SweepSpec
    blocks_per_shard: int | None
    groups: dict[str, "SimulationEntry"] = field(default_factory=dict)  # in sweep order


@dataclass
class SimulationEntry:
    n_blocks: int
    n_shards: int
    partials: dict[int, tuple[Partial, float, datetime]] = field(default_factory=dict)
    leases: dict[int, tuple[str, datetime, datetime]] = field(default_factory=dict)  # holder, renewed, expires


@dataclass
class RunEntry:
    id: int
    sweep_id: int
    group_key: str
    model: ModelSpec
    scenario: ScenarioSpec
    status: str = RunStatus.PENDING.value
    revision: int = 1
    trials: int | None = None
    stop_reason: str | None = None
    finished_at: datetime | None = None
    error: str | None = None
    result: RunResult | None = None

    @property
    def model_key(self) -> str:
        return self.model.key

    @property
    def scenario_name(self) -> str:
        return self.scenario.name


@dataclass
class RecommendationEntry:
    sweep_id: int
    revision: int
    created_at: datetime
    rec: Recommendation


def finish_run(run: RunEntry, result: RunResult, now: datetime) -> None:
    """Keep a deep copy of the result: a caller changing its arrays must not change ours."""
    run.result = copy.deepcopy(result)
    run.status, run.trials, run.finished_at, run.stop_reason = RunStatus.DONE.value, result.curves.trials, now, result.stop_reason


def check_results(records: Sequence[RunEntry], results: Sequence[RunResult], what: str) -> None:
    expected = sorted((r.model.key, r.scenario.name) for r in records)
    got = sorted((r.model.key, r.scenario.name) for r in results)
    if got != expected:
        raise ValueError(f"{what}: results for {got} do not match the stored runs {expected}")


def in_method_order(choices: Iterable[Choice]) -> list[Choice]:
    return sorted(choices, key=lambda c: METHOD_RANK[c.method.value])


def recommendation_row(sweep_id: int, r: Recommendation) -> RecommendationRow:
    return RecommendationRow(
        sweep_id, r.scenario, Method(r.method).value, Status(r.status).value,
        r.model, r.k, r.total_cost, r.total_time, r.accuracy, r.reason, r.confidence,
    )
