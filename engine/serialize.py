"""Specs <-> plain JSON-ready dicts, so a stored or queued sweep rebuilds exactly."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from infscale.engine.specs import AccuracyModel, AdaptiveTrials, KGrid, Latency, Mode, ModelSpec, ScenarioSpec, SweepSpec


def model_to_dict(model: ModelSpec) -> dict[str, Any]:
    return {**asdict(model), "accuracy_model": model.accuracy_model.value}


def model_from_dict(data: dict[str, Any]) -> ModelSpec:
    # Models stored before accuracy models existed have the paper's Gaussian best-of-k.
    accuracy_model = AccuracyModel(data.get("accuracy_model", AccuracyModel.GAUSSIAN_BEST_OF_K.value))
    return ModelSpec(**{**data, "accuracy_model": accuracy_model})


def scenario_to_dict(scenario: ScenarioSpec) -> dict[str, Any]:
    return {**asdict(scenario), "k_grid": scenario.k_grid.value, "latency": scenario.latency.value}


def scenario_from_dict(data: dict[str, Any]) -> ScenarioSpec:
    # Scenarios stored before the latency model existed have the paper's.
    latency = Latency(data.get("latency", Latency.PAPER.value))
    # Scenarios stored before the accuracy tolerance existed were decided by the plain argmax.
    tolerance = data.get("accuracy_tolerance", 0.0)
    return ScenarioSpec(**{**data, "k_grid": KGrid(data["k_grid"]), "latency": latency, "accuracy_tolerance": tolerance})


def sweep_to_dict(sweep: SweepSpec) -> dict[str, Any]:
    return {
        "name": sweep.name,
        "catalog": sweep.catalog,
        "models": [model_to_dict(m) for m in sweep.models],
        "scenarios": [scenario_to_dict(s) for s in sweep.scenarios],
        "trials": sweep.trials,
        "seed": sweep.seed,
        "mode": sweep.mode.value,
        "adaptive": None if sweep.adaptive is None else asdict(sweep.adaptive),
        "source": sweep.source,
    }


def sweep_from_dict(data: dict[str, Any]) -> SweepSpec:
    return SweepSpec(
        name=data["name"],
        catalog=data["catalog"],
        models=tuple(model_from_dict(m) for m in data["models"]),
        scenarios=tuple(scenario_from_dict(s) for s in data["scenarios"]),
        trials=data["trials"],
        seed=data["seed"],
        mode=Mode(data["mode"]),
        adaptive=None if data.get("adaptive") is None else AdaptiveTrials(**data["adaptive"]),
        source=data.get("source", "<stored>"),
    )
