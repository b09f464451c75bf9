"""What a run and a sweep produce: the types every runner returns and storage keeps."""

from __future__ import annotations

from dataclasses import dataclass

from infscale.engine.selection import Decision, Recommendation
from infscale.engine.specs import ModelSpec, ScenarioSpec
from infscale.engine.statistics import Curves


@dataclass(frozen=True)
class RunResult:
    """One model under one scenario: its curves and its decision."""

    model: ModelSpec
    scenario: ScenarioSpec
    curves: Curves
    decision: Decision
    stop_reason: str | None = None  # `trials: auto`: why its group stopped adding trials


@dataclass(frozen=True)
class SweepResult:
    runs: tuple[RunResult, ...]  # model-major, in sweep order
    recommendations: tuple[Recommendation, ...]  # scenario-major, then Method order
