"""Confidence of the cross-model recommendations: the estimated probability that a (model, k)
pick is right (the same definition as engine.confidence, over every (model, k) of a scenario).

Models are simulated from independent streams, so their estimates are independent; within a
model only the per-k standard errors survive in the stored curves (a distributed sweep's
recommendations are decided from the database). Each draw moves each model's mean curve of
each metric by one normal multiple of its standard errors, z * se(k) (k's of one model moving
together, as common random numbers make them nearly do), independently across models and
metrics, and decides the truth on the draw. Vectorised over draws x candidates, except the
knee, whose cross-model frontier is decided draw by draw on KNEE_REPLICATES draws.
"""

from __future__ import annotations

import zlib
from dataclasses import replace
from typing import Sequence

import numpy as np

from infscale.engine.confidence import right_without_frontier
from infscale.engine.selection import Choice, Decision, Method, Recommendation, Status, recommend
from infscale.engine.specs import Knee, ScenarioSpec
from infscale.engine.statistics import Curves, MetricCurve

REPLICATES = 512
KNEE_REPLICATES = 64
"""The cross-model frontier has no vectorised form here: fewer draws, confidence in 1/64."""


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
    draws = [_draw(runs, metric, rng, REPLICATES) for metric in ("cost", "time", "accuracy")]
    out = []
    for rec in recs:
        if rec.method is Method.KNEE:
            share = _knee_share(scenario, runs, rec, knee, rng)
        else:
            share = _share(scenario, rec, runs, model, k, *draws)
        out.append(replace(rec, confidence=share))
    return out


def _draw(runs, metric: str, rng: np.random.Generator, replicates: int) -> np.ndarray:
    """(R, candidates): each model's mean curve moved by z * se, one z per model and draw."""
    z = rng.standard_normal((replicates, len(runs)))
    cols = []
    for i, (_, curves, _) in enumerate(runs):
        m = getattr(curves, metric)
        cols.append(m.mean[None, :] + z[:, i, None] * np.nan_to_num(m.se)[None, :])
    return np.concatenate(cols, axis=1)


def _share(scenario, rec: Recommendation, runs, model, k, cost, time, acc) -> float:
    feasible = (cost <= scenario.max_total_cost) & (time <= scenario.max_total_time) & (acc >= scenario.min_accuracy)
    if scenario.min_probability is not None:  # the chance constraint's shares, as estimated
        meeting = np.concatenate([c.feasible_probability for _, c, _ in runs])
        feasible = np.broadcast_to(meeting >= scenario.min_probability, cost.shape)
    if rec.status is Status.INFEASIBLE:
        return float(np.mean(~feasible.any(axis=1)))
    names = [name for name, _, _ in runs]
    j = int(np.flatnonzero((model == names.index(rec.model)) & (k == rec.k))[0])
    return float(np.mean(right_without_frontier(rec.method, j, cost, time, acc, feasible, scenario)))


def _knee_share(scenario, runs, rec: Recommendation, knee: Knee, rng: np.random.Generator) -> float:
    """Share of KNEE_REPLICATES draws whose cross-model knee is `rec`'s (model, k) or status."""
    z = rng.standard_normal((KNEE_REPLICATES, len(runs), 3))
    right = 0
    for r in range(KNEE_REPLICATES):
        moved = []
        for i, (name, curves, _) in enumerate(runs):
            c = _moved(curves, z[r, i])
            feasible = (
                (c.cost.mean <= scenario.max_total_cost) & (c.time.mean <= scenario.max_total_time)
                & (c.accuracy.mean >= scenario.min_accuracy)
            ) if scenario.min_probability is None else c.feasible_probability >= scenario.min_probability
            stub = Choice(Method.MAX_ACCURACY, Status.INFEASIBLE, None, None, None, None, "infeasible")
            moved.append((name, c, Decision(feasible, np.zeros_like(feasible), (stub,))))
        (truth,) = [t for t in recommend(scenario, moved, knee) if t.method is Method.KNEE]
        right += (truth.status, truth.model, truth.k) == (rec.status, rec.model, rec.k)
    return right / KNEE_REPLICATES


def _moved(curves: Curves, z: np.ndarray) -> Curves:
    """Curves whose means moved by z[m] standard errors (metric m), standard errors 0 (the truth)."""
    metrics = []
    for m, name in enumerate(("cost", "time", "accuracy")):
        mc = getattr(curves, name)
        mean = mc.mean + z[m] * np.nan_to_num(mc.se)
        metrics.append(MetricCurve(mean, np.zeros_like(mean), mean, mean, mean))
    return Curves(curves.k, curves.trials, metrics[0], metrics[1], metrics[2], curves.feasible_probability)
