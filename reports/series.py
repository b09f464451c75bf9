"""The data each figure draws, as JSON-ready dicts built from stored rows.

A figure is drawn from its dict alone and the same dict is written next to the image as its
sidecar (`cube.png` -> `cube.json`), so a sidecar says exactly what the image shows. Points
are the Monte Carlo means of the stored curves; chosen points are the stored choices.
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from infscale.engine.specs import ScenarioSpec
from infscale.reports.values import json_float, json_floats
from infscale.reports.text import METHOD_ORDER

RUN_FIGURES = ("cube", "accuracy", "cost_time")
MODELS_FIGURE = "models"
ACCURACY_GRID_FIGURE = "accuracy_grid"
CUBE_REACH = 1.3
Z_95 = 1.96  # two-sided 95% normal quantile: the confidence band of a mean is mean +- Z_95 * SE


def run_figures(store: Any, sweep_id: int, model: str, scenario: str) -> dict[str, dict[str, Any]]:
    """Data of `cube`, `accuracy` and `cost_time` for one model under one scenario."""
    stored = store.curves(sweep_id, model, scenario)  # checks that sweep, model and scenario exist
    scen = store.sweep_spec(sweep_id).scenario(scenario)
    choices = store.choices(sweep_id, model=model, scenario=scenario)
    head = _head(sweep_id, scen, model, stored.curves.trials)
    chosen = [_choice(c) for c in _in_method_order(choices)]
    c = stored.curves
    k = c.k
    feasible_k = _ints(k[stored.feasible])
    return {
        "cube": {
            **head, "figure": "cube",
            "trajectory": _points(stored, np.ones_like(stored.feasible)),
            "feasible": _points(stored, stored.feasible),
            "frontier": _points(stored, stored.on_frontier),
            "chosen": chosen,
            "utopia": {"total_cost": 0.0, "total_time": 0.0, "accuracy": 1.0},
            "axes": _cube_box(scen, c.accuracy.mean),
        },
        "accuracy": {
            **head, "figure": "accuracy",
            "k": _ints(k),
            "mean": json_floats(c.accuracy.mean),
            "ci95_low": json_floats(c.accuracy.mean - Z_95 * c.accuracy.se),
            "ci95_high": json_floats(c.accuracy.mean + Z_95 * c.accuracy.se),
            "p05": json_floats(c.accuracy.p05),
            "p95": json_floats(c.accuracy.p95),
            "feasible_k": feasible_k,
            "chosen": chosen,
        },
        "cost_time": {
            **head, "figure": "cost_time",
            "k": _ints(k),
            "total_cost": _band(c.cost),
            "total_time": _band(c.time),
            "feasible_k": feasible_k,
            "chosen": chosen,
        },
    }


def models_figure(store: Any, sweep_id: int, scenario: str) -> dict[str, Any]:
    """Data of `models`: every model's frontier under one scenario and the cross-model picks."""
    recs = store.recommendations(sweep_id, scenario=scenario)  # checks that sweep and scenario exist
    spec = store.sweep_spec(sweep_id)
    models = []
    for m in spec.models:
        stored = store.curves(sweep_id, m.key, scenario)
        first = next(iter(_in_method_order(store.choices(sweep_id, model=m.key, scenario=scenario))), None)
        models.append({
            "model": m.key,
            "name": m.name,
            "status": "infeasible" if not stored.feasible.any() else "ok",
            "reason": first.reason if first is not None and first.status == "infeasible" else "",
            "frontier": _points(stored, stored.on_frontier),
        })
    return {
        **_head(sweep_id, spec.scenario(scenario), None, spec.trials), "figure": MODELS_FIGURE,
        "models": models,
        "recommendations": [{**_choice(r), "model": r.model} for r in _in_method_order(recs)],
    }


def accuracy_grid_figure(store: Any, sweep_id: int, scenario: str) -> dict[str, Any]:
    """Data of `accuracy_grid`: the `accuracy` data of every model under one scenario."""
    spec = store.sweep_spec(sweep_id)
    return {
        **_head(sweep_id, spec.scenario(scenario), None, spec.trials), "figure": ACCURACY_GRID_FIGURE,
        "models": [run_figures(store, sweep_id, m.key, scenario)["accuracy"] for m in spec.models],
    }


def _cube_box(scen: ScenarioSpec, accuracy: np.ndarray) -> dict[str, list[float]]:
    """Axis limits of the cube: CUBE_REACH times the cost and time budgets, accuracy up to 1.

    Far beyond the budgets nothing can be chosen; stretching the axes to k_max would shrink
    the feasible box to a corner. Points outside the box are not drawn.
    """
    a_lo = min(float(np.nanmin(accuracy)), scen.min_accuracy)
    return {
        "total_cost": [0.0, CUBE_REACH * scen.max_total_cost],
        "total_time": [0.0, CUBE_REACH * scen.max_total_time],
        "accuracy": [a_lo - 0.05 * (1.0 - a_lo), 1.0],
    }


def method_label(method: str) -> str:
    return {"max_accuracy": "max accuracy", "max_cube": "max cube", "utopia": "utopia-closest"}.get(method, method)


def _head(sweep_id: int, scen: ScenarioSpec, model: str | None, trials: int) -> dict[str, Any]:
    return {
        "sweep": sweep_id,
        "model": model,
        "scenario": scen.name,
        "trials": int(trials),
        "budgets": {
            "max_total_cost": scen.max_total_cost,
            "max_total_time": scen.max_total_time,
            "min_accuracy": scen.min_accuracy,
        },
    }


def _points(stored: Any, mask: np.ndarray) -> dict[str, list]:
    """The mean (cost, time, accuracy) of the k where `mask` holds, ascending k."""
    c = stored.curves
    return {
        "k": _ints(c.k[mask]),
        "total_cost": json_floats(c.cost.mean[mask]),
        "total_time": json_floats(c.time.mean[mask]),
        "accuracy": json_floats(c.accuracy.mean[mask]),
    }


def _band(metric: Any) -> dict[str, list]:
    return {"mean": json_floats(metric.mean), "p05": json_floats(metric.p05), "p95": json_floats(metric.p95)}


def _choice(row: Any) -> dict[str, Any]:
    return {
        "method": row.method, "status": row.status, "k": row.k,
        "total_cost": json_float(row.total_cost), "total_time": json_float(row.total_time),
        "accuracy": json_float(row.accuracy), "reason": row.reason,
        "confidence": json_float(getattr(row, "confidence", None)),
    }


def _in_method_order(rows: Iterable[Any]) -> list[Any]:
    return sorted(rows, key=lambda r: METHOD_ORDER.index(r.method))


def _ints(values: np.ndarray) -> list[int]:
    return [int(v) for v in values]

