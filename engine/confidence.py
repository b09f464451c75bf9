"""Decision confidence: the estimated probability that a chosen k is right (science.md section 7).

Right means: truly feasible and, for the method's objective, within its indifference zone of
the truly best feasible k (within the accuracy tolerance of the best accuracy for maximal
accuracy; the true argmax for the cube, the utopia distance and the knee). "Infeasible" is
right when no k is truly feasible, "no knee" when the true frontier has none.

How: the true means are unknown; given a run's trial blocks they are approximately normal
around the estimates, with the covariance of the block means. Common random numbers make the
blocks' sums of neighbouring k move together, so this joint law holds the paired differences
between k (far more precise than the marginal means) and the margins of the binding budgets
in standard errors. We draw REPLICATES vectors of plausible true means from it,

    mu* = mu_hat + tau sqrt(n / (n - 1)) sum_b g_b (S_b - n_b mu_hat) / N,  g_b ~ N(0, 1),

(S_b the block sums, n blocks, N trials; tau = sqrt(nu / chi2_nu), nu = n - 1, widens the
draws to a multivariate t for few blocks), decide the truth on each draw and report the share
of draws in which the chosen k is right: the probability that it is the best, jointly over all
candidates (multiple comparisons with the best), under that law. Proportions (the share of
trials meeting all budgets, for chance constraints) are drawn the same way from their block
counts.

Vectorised over replicates x k (numpy); the draws loop over blocks so the result is the same
bits in every process (no BLAS). O(REPLICATES x (blocks + K) x metrics) per simulation group.
The draws' stream comes from the sweep's seed and the model, apart from every block's.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Sequence

import numpy as np

from infscale.engine.plan import N_METRICS, SimulationGroup, model_stream_key
from infscale.engine.selection import Choice, Decision, Method, Status, decide
from infscale.engine.specs import Knee, ScenarioSpec
from infscale.engine.statistics import Curves, MetricCurve, Partial

REPLICATES = 512
"""Draws of the true means per simulation group: the confidence is a multiple of 1/512."""

MIN_BLOCKS = 2
"""Fewer blocks than this give no confidence (None): one block says nothing about its noise."""

_STREAM_TAG = 0xC0F1DF
"""Part of the draws' seed: keeps their stream apart from every block's."""


def with_confidence(
    partial: Partial, group: SimulationGroup, decisions: Sequence[Decision], seed: int, knee: Knee,
    replicates: int = REPLICATES,
) -> list[Decision]:
    """The group's decisions (in scenario order) with each choice's confidence filled in."""
    shares = confidence(partial, group, decisions, seed, knee, replicates)
    return [
        replace(d, choices=tuple(replace(c, confidence=share) for c, share in zip(d.choices, row)))
        for d, row in zip(decisions, shares)
    ]


def confidence(
    partial: Partial, group: SimulationGroup, decisions: Sequence[Decision], seed: int, knee: Knee,
    replicates: int = REPLICATES,
) -> list[tuple[float | None, ...]]:
    """Per scenario of the group, per method: the estimated probability that its choice is right."""
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
    """Plausible true means (R, 3, K) and shares meeting each scenario's budgets (R, S, K)."""
    n_blocks = partial.blocks.size
    trials = partial.trials.astype(np.float64)
    total = trials.sum()
    g = rng.standard_normal((replicates, n_blocks))
    nu = n_blocks - 1
    tau = np.sqrt(nu / rng.chisquare(nu, size=replicates)) * np.sqrt(n_blocks / nu)
    sums = partial.sums.reshape(n_blocks, -1)
    counts = partial.feasible.reshape(n_blocks, -1).astype(np.float64)
    out = []
    for rows in (sums, counts):
        mean = rows.sum(axis=0) / total
        noise = np.zeros((replicates, rows.shape[1]))
        for b in range(n_blocks):  # block by block: the same bits in every process
            noise += g[:, b, None] * ((rows[b] - trials[b] * mean) / total)
        noise *= tau[:, None]
        out.append(mean + noise)
    k_count = partial.sums.shape[-1]
    return out[0].reshape(replicates, N_METRICS, k_count), out[1].reshape(replicates, -1, k_count)


def choice_confidence(
    k: np.ndarray, means: np.ndarray, meeting: np.ndarray, scenario: ScenarioSpec, choice: Choice, knee: Knee,
) -> float:
    """Share of the draws (means (R, 3, K), meeting (R, K)) in which `choice` is right."""
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
    """Per draw (rows), whether candidate column j is right for maximal accuracy, the cube or the
    utopia distance: feasible, and within the tolerance of the best accuracy / the best."""
    ok = feasible[:, j]
    cn, tn = cost / scenario.max_total_cost, time / scenario.max_total_time
    if method is Method.MAX_ACCURACY:
        best = np.where(feasible, acc, -np.inf).max(axis=1)
        return ok & (acc[:, j] >= best - scenario.accuracy_tolerance)
    if method is Method.MAX_CUBE:
        cube = (1.0 - cn) * (1.0 - tn) * acc
        return ok & (cube[:, j] >= np.where(feasible, cube, -np.inf).max(axis=1))
    # The feasible point nearest the utopia is always on the frontier (dominating is nearer).
    dist = cn * cn + tn * tn + (1.0 - acc) ** 2
    return ok & (dist[:, j] <= np.where(feasible, dist, np.inf).min(axis=1))


def _feasible(cost, time, acc, meeting, scenario: ScenarioSpec) -> np.ndarray:
    if scenario.min_probability is not None:
        return meeting >= scenario.min_probability
    return (cost <= scenario.max_total_cost) & (time <= scenario.max_total_time) & (acc >= scenario.min_accuracy)


def _knee_truth(k, cost, time, acc, meeting, feasible, scenario: ScenarioSpec, knee: Knee) -> np.ndarray:
    """The knee's grid index in each draw (-1: none, or nothing feasible)."""
    monotone = np.all(np.diff(cost, axis=1) > 0, axis=1) & np.all(np.diff(time, axis=1) >= 0, axis=1)
    if knee is Knee.CHORD and monotone.all():
        return _chord_knees(cost / scenario.max_total_cost, time / scenario.max_total_time, acc, feasible, scenario)
    # The paper's curvature, or draws whose cost or time is not increasing in k: decide each draw.
    out = np.full(cost.shape[0], -1)
    for r in range(cost.shape[0]):
        c = decide(_means_only(k, cost[r], time[r], acc[r], meeting[r]), scenario, knee).choice(Method.KNEE)
        if c.status is Status.OK:
            out[r] = int(np.searchsorted(k, c.k))
    return out


def _chord_knees(cn: np.ndarray, tn: np.ndarray, acc: np.ndarray, feasible: np.ndarray, scenario: ScenarioSpec) -> np.ndarray:
    """engine.selection's chord knee in every draw at once, for cost and time increasing in k.

    Then a feasible k is on the frontier exactly when it is more accurate than every smaller
    feasible k (a strict prefix maximum), and the maximal-accuracy pick is the first feasible k
    within the tolerance of the best (exact means: no screen).
    """
    a = np.where(feasible, acc, -np.inf)
    before = np.maximum.accumulate(np.concatenate((np.full((a.shape[0], 1), -np.inf), a[:, :-1]), axis=1), axis=1)
    front = feasible & (a > before)
    best = a.max(axis=1)
    end = np.argmax(feasible & (a >= best[:, None] - scenario.accuracy_tolerance), axis=1)
    rows = np.arange(a.shape[0])
    front &= np.arange(a.shape[1])[None, :] <= end[:, None]
    points = np.stack((cn, tn, acc), axis=2)  # (R, K, 3)
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


def _means_only(k: np.ndarray, cost: np.ndarray, time: np.ndarray, acc: np.ndarray, meeting: np.ndarray) -> Curves:
    """Curves carrying only what `decide` reads: the means (standard errors 0: the truth)."""
    metrics = [MetricCurve(m, np.zeros_like(m), m, m, m) for m in (cost, time, acc)]
    return Curves(k, 0, metrics[0], metrics[1], metrics[2], meeting)


def _stream(seed: int, model_key: str, n_blocks: int) -> np.random.Generator:
    sequence = np.random.SeedSequence(seed, spawn_key=(model_stream_key(model_key), _STREAM_TAG, n_blocks, 1))
    return np.random.Generator(np.random.PCG64(sequence))
