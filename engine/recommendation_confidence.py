"""Confidence of the cross-model recommendations: the estimated probability that a (model, k)
pick is right (the same definition as engine.confidence, over every (model, k) of a scenario).

Models are simulated from independent streams, so their estimates are independent; within a
model only the per-k standard errors survive in the stored curves (a distributed sweep's
recommendations are decided from the database). Each draw moves each model's mean curve of
each metric by one normal multiple of its standard errors, z * se(k) (k's of one model moving
together, as common random numbers make them nearly do), independently across models and
metrics, and decides the truth on the draw. Every method is judged on the same REPLICATES
draws, vectorised over draws x candidates (the knee's cross-model frontier too:
engine.cross_model_knees). O(REPLICATES x candidates x (log candidates + models)).
"""

from __future__ import annotations

import zlib
from dataclasses import replace
from typing import Sequence

import numpy as np

from infscale.engine.confidence import right_without_frontier
from infscale.engine.cross_model_knees import NONE, knee_columns
from infscale.engine.selection import Decision, Method, Recommendation, Status
from infscale.engine.specs import Knee, ScenarioSpec
from infscale.engine.statistics import Curves

REPLICATES = 512
"""Draws of the true means per scenario: the confidence is a multiple of 1/512."""


def with_recommendation_confidence(
    scenario: ScenarioSpec, runs: Sequence[tuple[str, Curves, Decision]], recs: Sequence[Recommendation],
    knee: Knee, seed: int,
) -> list[Recommendation]:
    """`recs` (one scenario's, in Method order) with their confidence; None without standard
    errors (a single block, legacy and exact mode)."""
    if not runs or any(c.trials < 2 or np.all(np.nan_to_num(c.accuracy.se) == 0) for _, c, _ in runs):
        return list(recs)
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(
        seed, spawn_key=(zlib.crc32(scenario.name.encode()), 0xC0F1E0))))
    k = np.concatenate([c.k for _, c, _ in runs])
    model = np.concatenate([np.full(c.k.size, i) for i, (_, c, _) in enumerate(runs)])
    z = {metric: rng.standard_normal((REPLICATES, len(runs))) for metric in ("cost", "time", "accuracy")}
    # Candidates feasible in no draw change no draw's best: judge on the others only, and draw
    # only those that the most favourable of the draws' multiples of their errors could admit.
    kept = np.flatnonzero(_possibly_feasible(scenario, runs, model, z))
    cost, time, acc = (_draw(runs, model, metric, z[metric], kept) for metric in ("cost", "time", "accuracy"))
    if scenario.min_probability is not None:  # the chance constraint's shares, as estimated
        meeting = np.concatenate([c.feasible_probability for _, c, _ in runs])[kept]
        feasible = np.broadcast_to(meeting >= scenario.min_probability, cost.shape)
    else:
        feasible = (cost <= scenario.max_total_cost) & (time <= scenario.max_total_time) & (acc >= scenario.min_accuracy)
    live = np.flatnonzero(feasible.any(axis=0))
    cost, time, acc, feasible = cost[:, live], time[:, live], acc[:, live], feasible[:, live]
    model, k = model[kept[live]], k[kept[live]]
    names = [name for name, _, _ in runs]
    out = []
    for rec in recs:
        j = None if rec.status is not Status.OK else _column(names, model, k, rec)
        if rec.status is Status.INFEASIBLE:
            share = float(np.mean(~feasible.any(axis=1)))
        elif rec.status is Status.OK and j is None:  # feasible in no draw: never right
            share = 0.0
        elif rec.method is Method.KNEE:
            truth = knee_columns(scenario, knee, model, k, cost, time, acc, feasible)
            if rec.status is Status.NO_KNEE:  # right when something is feasible but has no knee
                share = float(np.mean(feasible.any(axis=1) & (truth == NONE)))
            else:
                share = float(np.mean(truth == j))
        else:
            share = float(np.mean(right_without_frontier(rec.method, j, cost, time, acc, feasible, scenario)))
        out.append(replace(rec, confidence=share))
    return out


def _draw(runs, model: np.ndarray, metric: str, z: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """(R, columns): each model's mean curve moved by z * se, one z (R, models) per model and draw."""
    mean = np.concatenate([getattr(c, metric).mean for _, c, _ in runs])[columns]
    se = np.nan_to_num(np.concatenate([getattr(c, metric).se for _, c, _ in runs]))[columns]
    return mean[None, :] + z[:, model[columns]] * se[None, :]


def _possibly_feasible(scenario: ScenarioSpec, runs, model: np.ndarray, z: dict[str, np.ndarray]) -> np.ndarray:
    """Per candidate: whether some draw may admit it, judged per metric at the draws' most
    favourable z of its model (necessary, so no candidate feasible in a draw is left out)."""
    if scenario.min_probability is not None:
        return np.concatenate([c.feasible_probability for _, c, _ in runs]) >= scenario.min_probability
    ok = np.ones(model.size, dtype=bool)
    for metric, bound, sign in (("cost", scenario.max_total_cost, 1.0), ("time", scenario.max_total_time, 1.0),
                                ("accuracy", scenario.min_accuracy, -1.0)):
        mean = np.concatenate([getattr(c, metric).mean for _, c, _ in runs])
        se = np.nan_to_num(np.concatenate([getattr(c, metric).se for _, c, _ in runs]))
        best_z = (z[metric].min(axis=0) if sign > 0 else z[metric].max(axis=0))[model]
        ok &= sign * (mean + best_z * se) <= sign * bound
    return ok


def _column(names: list[str], model: np.ndarray, k: np.ndarray, rec: Recommendation) -> int | None:
    """The candidate column of `rec`'s (model, k); None when it is not among them."""
    at = np.flatnonzero((model == names.index(rec.model)) & (k == rec.k))
    return int(at[0]) if at.size else None
