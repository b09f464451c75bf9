"""Specs <-> plain JSON-ready dicts, so a stored or queued sweep rebuilds exactly.

The compatibility rules of stored specs live here: a key added after a sweep was stored gets
the default that reproduces what that sweep computed (the paper's latency and accuracy model).

An empirical model's samples (engine.empirical) are stored inside its model dict, so a worker
rebuilds them from the database and never reads the eval log: `data` holds the file's name,
and per column the little-endian bytes of its array in base64 (counts int64, columns float64),
which give back every value bit for bit.
"""

from __future__ import annotations

import base64
from dataclasses import asdict, replace
from typing import Any

import numpy as np

from infscale.engine.empirical_data import COLUMNS, EmpiricalData
from infscale.engine.specs import (
    AccuracyModel, AdaptiveTrials, InputBilling, KGrid, Knee, Latency, Lengths, Mode, ModelSpec, ScenarioSpec, SweepSpec,
)


# Keys added later are stored only when they differ from their default, so a spec that does
# not use them is stored exactly as before they existed.
_MODEL_DEFAULTS = {
    "t_fixed": 0.0, "input_billing": InputBilling.EACH.value, "c_in_cached": None, "lengths": Lengths.NORMAL.value, "data": None,
}


def model_to_dict(model: ModelSpec) -> dict[str, Any]:
    data = {
        **asdict(replace(model, data=None)), "accuracy_model": model.accuracy_model.value,
        "input_billing": model.input_billing.value, "lengths": model.lengths.value,
        "data": None if model.data is None else empirical_to_dict(model.data),
    }
    return {k: v for k, v in data.items() if k not in _MODEL_DEFAULTS or v != _MODEL_DEFAULTS[k]}


def model_from_dict(data: dict[str, Any]) -> ModelSpec:
    # Models stored before accuracy models existed have the paper's Gaussian best-of-k.
    accuracy_model = AccuracyModel(data.get("accuracy_model", AccuracyModel.GAUSSIAN_BEST_OF_K.value))
    billing = InputBilling(data.get("input_billing", InputBilling.EACH.value))
    lengths = Lengths(data.get("lengths", Lengths.NORMAL.value))
    samples = None if data.get("data") is None else empirical_from_dict(data["data"])
    return ModelSpec(**{
        **data, "accuracy_model": accuracy_model, "input_billing": billing, "lengths": lengths, "data": samples,
    })


def empirical_to_dict(data: EmpiricalData) -> dict[str, Any]:
    """An empirical model's samples as JSON-ready text (module docstring)."""
    out: dict[str, Any] = {"source": data.source, "counts": _encode(data.counts.astype("<i8"))}
    for name in COLUMNS:
        column = getattr(data, name)
        if column is not None:
            out[name] = _encode(column.astype("<f8"))
    return out


def empirical_from_dict(data: dict[str, Any]) -> EmpiricalData:
    columns = {name: _decode(data[name], "<f8") for name in COLUMNS if data.get(name) is not None}
    return EmpiricalData(source=data["source"], counts=_decode(data["counts"], "<i8"), **columns)


def _encode(array: np.ndarray) -> str:
    return base64.b64encode(array.tobytes()).decode("ascii")


def _decode(text: str, dtype: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype=dtype).astype(dtype[1:], copy=True)


def scenario_to_dict(scenario: ScenarioSpec) -> dict[str, Any]:
    data = {**asdict(scenario), "k_grid": scenario.k_grid.value, "latency": scenario.latency.value}
    del data["input_billing"]
    if scenario.input_billing is not None:
        data["input_billing"] = scenario.input_billing.value
    return data


def scenario_from_dict(data: dict[str, Any]) -> ScenarioSpec:
    # Scenarios stored before the latency model existed have the paper's.
    latency = Latency(data.get("latency", Latency.PAPER.value))
    # Scenarios stored before the accuracy tolerance existed were decided by the plain argmax.
    tolerance = data.get("accuracy_tolerance", 0.0)
    billing = None if data.get("input_billing") is None else InputBilling(data["input_billing"])
    return ScenarioSpec(**{
        **data, "k_grid": KGrid(data["k_grid"]), "latency": latency, "accuracy_tolerance": tolerance,
        "input_billing": billing,
    })


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
        "knee": sweep.knee.value,
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
        # Sweeps stored before the knee key had the paper's curvature (the notebook's in legacy mode).
        knee=Knee(data.get("knee", (Knee.CURVATURE_2D if data["mode"] == Mode.LEGACY.value else Knee.CURVATURE).value)),
    )
