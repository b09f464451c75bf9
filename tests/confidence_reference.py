"""The decision confidence as engine/confidence.py computed it before it was vectorised across
scenarios (issue 14): scenario by scenario, choice by choice, the knee decided by calling
`decide` on every draw unless the knee is the chord and cost and time rise in every draw.

Slow (hundreds of `decide` calls per scenario) and kept only so that tests/test_confidence.py
can check that the vectorised engine computes the same confidences, bit for bit.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from infscale.engine.confidence import MIN_BLOCKS, REPLICATES, _stream
from infscale.engine.plan import N_METRICS, SimulationGroup
from infscale.engine.selection import Choice, Decision, Method, Status, decide
from infscale.engine.specs import Knee, ScenarioSpec
from infscale.engine.statistics import Curves, MetricCurve, Partial


def confidence(
    partial: Partial, group: SimulationGroup, decisions: Sequence[Decision], seed: int, knee: Knee,
    replicates: int = REPLICATES,
) -> list[tuple[float | None, ...]]:
    n_blocks = partial.blocks.size
    if n_blocks < MIN_BLOCKS:
        return [tuple(None for _ in d.choices) for d in decisions]
    rng = _stream(seed, group.model.key, n_blocks)
    means, meeting = posterior_draws(partial, replicates, rng)
    k = group.grid()
    return [
        tuple(choice_confidence(k, means, meeting[:, s], scenario, c, knee) for c in decision.choices)
        for s, (scenario, decision) in enumerate(zip(group.scenarios, decisions))
    ]


def posterior_draws(partial: Partial, replicates: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Means (R, 3, K) and shares meeting every scenario's budgets (R, S, K), all at once."""
    n_blocks = partial.blocks.size
    trials = partial.trials.astype(np.float64)
    total = trials.sum()
    g = rng.standard_normal((replicates, n_blocks))
    nu = n_blocks - 1
    tau = np.sqrt(nu / rng.chisquare(nu, size=replicates)) * np.sqrt(n_blocks / nu)
    out = []
    for rows in (partial.sums.reshape(n_blocks, -1), partial.feasible.reshape(n_blocks, -1).astype(np.float64)):
        mean = rows.sum(axis=0) / total
        noise = np.zeros((replicates, rows.shape[1]))
        for b in range(n_blocks):
            noise += g[:, b, None] * ((rows[b] - trials[b] * mean) / total)
        noise *= tau[:, None]
        out.append(mean + noise)
    k_count = partial.sums.shape[-1]
    return out[0].reshape(replicates, N_METRICS, k_count), out[1].reshape(replicates, -1, k_count)


def choice_confidence(
    k: np.ndarray, means: np.ndarray, meeting: np.ndarray, scenario: ScenarioSpec, choice: Choice, knee: Knee,
) -> float:
    cost, time, acc = means[:, 0], means[:, 1], means[:, 2]
    feasible = _feasible(cost, time, acc, meeting, scenario)
    any_feasible = feasible.any(axis=1)
    if choice.status is Status.INFEASIBLE:
        return float(np.mean(~any_feasible))
    if choice.status is Status.NO_KNEE:
        truth = _knee_truth(k, cost, time, acc, meeting, feasible, scenario, knee)
        return float(np.mean(any_feasible & (truth < 0)))
    j = int(np.searchsorted(k, choice.k))
    if choice.method is not Method.KNEE:
        return float(np.mean(right_without_frontier(choice.method, j, cost, time, acc, feasible, scenario)))
    truth = _knee_truth(k, cost, time, acc, meeting, feasible, scenario, knee)
    return float(np.mean(feasible[:, j] & (truth == j)))


def right_without_frontier(
    method: Method, j: int, cost: np.ndarray, time: np.ndarray, acc: np.ndarray, feasible: np.ndarray,
    scenario: ScenarioSpec,
) -> np.ndarray:
    ok = feasible[:, j]
    cn, tn = cost / scenario.max_total_cost, time / scenario.max_total_time
    if method is Method.MAX_ACCURACY:
        best = np.where(feasible, acc, -np.inf).max(axis=1)
        return ok & (acc[:, j] >= best - scenario.accuracy_tolerance)
    if method is Method.MAX_CUBE:
        cube = (1.0 - cn) * (1.0 - tn) * acc
        return ok & (cube[:, j] >= np.where(feasible, cube, -np.inf).max(axis=1))
    dist = cn * cn + tn * tn + (1.0 - acc) ** 2
    return ok & (dist[:, j] <= np.where(feasible, dist, np.inf).min(axis=1))


def _feasible(cost, time, acc, meeting, scenario: ScenarioSpec) -> np.ndarray:
    if scenario.min_probability is not None:
        return meeting >= scenario.min_probability
    return (cost <= scenario.max_total_cost) & (time <= scenario.max_total_time) & (acc >= scenario.min_accuracy)


def _knee_truth(k, cost, time, acc, meeting, feasible, scenario: ScenarioSpec, knee: Knee) -> np.ndarray:
    monotone = np.all(np.diff(cost, axis=1) > 0, axis=1) & np.all(np.diff(time, axis=1) >= 0, axis=1)
    if knee is Knee.CHORD and monotone.all():
        return _chord_knees(cost / scenario.max_total_cost, time / scenario.max_total_time, acc, feasible, scenario)
    out = np.full(cost.shape[0], -1)
    for r in range(cost.shape[0]):
        metrics = [MetricCurve(m, np.zeros_like(m), m, m, m) for m in (cost[r], time[r], acc[r])]
        curves = Curves(k, 0, metrics[0], metrics[1], metrics[2], meeting[r])
        c = decide(curves, scenario, knee).choice(Method.KNEE)
        if c.status is Status.OK:
            out[r] = int(np.searchsorted(k, c.k))
    return out


def _chord_knees(cn, tn, acc, feasible, scenario: ScenarioSpec) -> np.ndarray:
    a = np.where(feasible, acc, -np.inf)
    before = np.maximum.accumulate(np.concatenate((np.full((a.shape[0], 1), -np.inf), a[:, :-1]), axis=1), axis=1)
    front = feasible & (a > before)
    best = a.max(axis=1)
    end = np.argmax(feasible & (a >= best[:, None] - scenario.accuracy_tolerance), axis=1)
    rows = np.arange(a.shape[0])
    front &= np.arange(a.shape[1])[None, :] <= end[:, None]
    points = np.stack((cn, tn, acc), axis=2)
    anchor = np.array([0.0, 0.0, scenario.min_accuracy])
    chord = points[rows, end] - anchor
    length = np.linalg.norm(chord, axis=1)
    unit = chord / np.where(length > 0, length, 1.0)[:, None]
    offset = points - anchor
    along = np.einsum("rkc,rc->rk", offset, unit)
    perpendicular = offset - along[:, :, None] * unit[:, None, :]
    distance = np.where(front & (perpendicular[:, :, 2] > 0.0), np.linalg.norm(perpendicular, axis=2), 0.0)
    pos = np.argmax(distance, axis=1)
    found = (distance[rows, pos] > 0.0) & feasible.any(axis=1) & (length > 0)
    return np.where(found, pos, -1)
