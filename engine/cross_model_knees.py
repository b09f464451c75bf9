"""The cross-model knee of `engine.selection.recommend` in many draws of the true means at once.

A draw gives every (model, k) candidate of a scenario a cost, time and accuracy; `recommend`
pools the feasible ones, takes their 3-D Pareto frontier (least cost and time, most accuracy)
and finds the knee on it, which done draw by draw costs about a millisecond of Python each.
Here it is numpy over draws x candidates, from what one model's curves satisfy in a draw: cost
strictly rising and time not falling in k. Then the candidates of a model m at most as costly
and slow as a point p form a prefix of m's grid, of length min(#{m's costs below p's},
#{m's times below p's}) (both counted from one sort of the draw's costs and one of its times),
and p is dominated exactly when m's best feasible accuracy on that prefix reaches p's (for p's
own model: on the smaller k). O(R N (log N + M)) for R draws, N candidates, M models; N is
first cut to the candidates that no single other one dominates in every draw (most of them, as
the draws move the curves by a few standard errors), checked against two per candidate, O(R N).
The knee on each draw's frontier is engine.selection's own (its batched chord and curvature
knees, on the draws grouped by the frontier's length): the same bits as `recommend`.

Draws outside those assumptions, where a model's cost or time is not monotone in k or two
models tie exactly in cost or time (`recommend`'s tie rules decide there), are decided by
`recommend` itself, one by one.
"""

from __future__ import annotations

import numpy as np

from infscale.engine.frontier import pareto_mask
from infscale.engine.selection import (
    Choice, Decision, Method, Status, chord_knee_positions, curvature_knee_positions, recommend,
)
from infscale.engine.specs import Knee, ScenarioSpec
from infscale.engine.statistics import Curves, MetricCurve

NONE = -1
"""The column `knee_columns` gives a draw without a knee (or with nothing feasible)."""


def knee_columns(
    scenario: ScenarioSpec, knee: Knee, model: np.ndarray, k: np.ndarray,
    cost: np.ndarray, time: np.ndarray, accuracy: np.ndarray, feasible: np.ndarray,
) -> np.ndarray:
    """Per draw (row of the (R, N) arrays), the column of the candidate that `recommend`'s knee
    picks among the feasible ones, or NONE. Column n is model index `model[n]` at `k[n]`; each
    model's columns ascend in k."""
    out = np.full(cost.shape[0], NONE)
    # Candidates feasible in no draw are never on a frontier nor dominate one: drop them; order
    # the rest as `recommend` prefers (k, then the model listed first) for its argmax ties.
    kept = np.flatnonzero(feasible.any(axis=0))
    if kept.size == 0:
        return out
    kept = kept[np.lexsort((model[kept], k[kept]))]
    c, t, a, f = cost[:, kept], time[:, kept], accuracy[:, kept], feasible[:, kept]
    pick = _max_accuracy_pick(c, a, f, scenario)  # among all candidates, as `recommend` picks
    # A candidate that one other dominates in every draw where it is feasible is on no frontier,
    # and whatever it dominates the other does too: the frontier of the rest is the frontier.
    live = np.flatnonzero(~_always_dominated(c, t, a, f))
    pool = _Pool(model[kept[live]], k[kept[live]], c[:, live], t[:, live], a[:, live], f[:, live])
    front, ties = pool.frontier()
    fast = pool.monotone() & ~ties
    if knee is Knee.CHORD:
        at = np.full(kept.size, NONE)
        at[live] = np.arange(live.size)
        pos = _chord(pool, front, at[pick], scenario)
    else:
        pos = _curvature(pool, front, scenario, knee)
    out[fast] = np.where(pos[fast] >= 0, kept[live[np.maximum(pos[fast], 0)]], NONE)
    for r in np.flatnonzero(~fast):
        out[r] = _by_recommend(scenario, knee, model, k, cost[r], time[r], accuracy[r], feasible[r])
    return out


def _max_accuracy_pick(cost: np.ndarray, accuracy: np.ndarray, feasible: np.ndarray, scenario: ScenarioSpec) -> np.ndarray:
    """Per draw, `max_accuracy_pick` with exact means among candidates in preference order: the
    first most accurate (tolerance 0), else the cheapest within the tolerance of the best."""
    best = np.where(feasible, accuracy, -np.inf)
    if scenario.accuracy_tolerance == 0.0:
        return np.argmax(best, axis=1)
    within = feasible & (accuracy >= best.max(axis=1, keepdims=True) - scenario.accuracy_tolerance)
    return np.argmin(np.where(within, cost, np.inf), axis=1)


def _always_dominated(cost: np.ndarray, time: np.ndarray, accuracy: np.ndarray, feasible: np.ndarray) -> np.ndarray:
    """(N,): candidates that one other candidate dominates in every draw where they are feasible.
    Each is tried against the frontier point of the means over the draws whose dominance over it
    is clearest in the spread of the draws (the most standard deviations in its weakest metric)
    and the runner-up: O(N F) for F frontier points, and O(R N) in the draws."""
    centres = [v.mean(axis=0) for v in (cost, time, accuracy)]
    front = np.flatnonzero(pareto_mask(*centres))
    margin = np.full((cost.shape[1], front.size), np.inf)  # [n, f]: f's dominance over n, in spreads
    for values, centre, sign, strict in ((cost, centres[0], 1.0, True), (time, centres[1], 1.0, False),
                                         (accuracy, centres[2], -1.0, False)):
        spread = values.std(axis=0)
        gap = sign * (centre[:, None] - centre[None, front])
        scale = np.hypot(spread[:, None], spread[None, front])
        sure = np.where((gap > 0) | (~strict & (gap == 0)), np.inf, -np.inf)
        margin = np.minimum(margin, np.where(scale > 0, gap / np.where(scale > 0, scale, 1.0), sure))
    dominated = ~feasible
    if front.size > 1:
        ranked = np.argsort(-margin, axis=1, kind="stable")[:, :2]
    else:
        ranked = np.zeros((cost.shape[1], 1), dtype=np.intp)
    for rank in ranked.T:
        other = front[rank]
        dominated = dominated | (
            (margin[np.arange(other.size), rank] > 0) & feasible[:, other]
            & (cost[:, other] < cost) & (time[:, other] <= time) & (accuracy[:, other] >= accuracy)
        )
    return dominated.all(axis=0)


class _Pool:
    """The kept candidates in preference order, (R, N) per metric, with per-model bookkeeping."""

    def __init__(self, model, k, cost, time, accuracy, feasible) -> None:
        self.model, self.k = model, k
        self.cost, self.time, self.accuracy, self.feasible = cost, time, accuracy, feasible
        self.models = int(model.max()) + 1
        self.columns = [np.flatnonzero(model == m) for m in range(self.models)]  # each in k order
        self.best_feasible = np.where(feasible, accuracy, -np.inf)

    def monotone(self) -> np.ndarray:
        """Per draw: every model's cost strictly rising and time not falling in k."""
        ok = np.ones(self.cost.shape[0], dtype=bool)
        for cols in self.columns:
            ok &= np.all(np.diff(self.cost[:, cols], axis=1) > 0, axis=1)
            ok &= np.all(np.diff(self.time[:, cols], axis=1) >= 0, axis=1)
        return ok

    def frontier(self) -> tuple[np.ndarray, np.ndarray]:
        """(R, N) frontier of the feasible candidates, and per draw whether two models tie in
        cost or time (the mask assumes they do not)."""
        draws = self.cost.shape[0]
        below_cost, cost_ties = self._counts_below(self.cost)
        below_time, time_ties = self._counts_below(self.time)
        prefix = np.minimum(below_cost, below_time)  # (R, N, M); own model: exactly the smaller k
        width = max(cols.size for cols in self.columns) + 1
        best = np.full((draws, self.models, width), -np.inf)  # best[:, m, j]: max over m's first j
        for m, cols in enumerate(self.columns):
            if cols.size:
                best[:, m, 1: cols.size + 1] = np.maximum.accumulate(self.best_feasible[:, cols], axis=1)
        flat = prefix + (np.arange(self.models) * width)[None, None, :]
        reach = np.take_along_axis(best.reshape(draws, -1), flat.reshape(draws, -1), axis=1).reshape(flat.shape)
        dominated = (reach >= self.accuracy[:, :, None]).any(axis=2)
        return self.feasible & ~dominated, cost_ties | time_ties

    def _counts_below(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(R, N, M): how many of each model's candidates come before each candidate in order of
        `values` (a stable sort of candidates in k order: a model's equal values at smaller k
        count as before, as they dominate there); and per draw whether equal values of two
        models make the count ambiguous."""
        order = np.argsort(values, axis=1, kind="stable")
        sorted_model = self.model[order]
        onehot = (sorted_model[:, :, None] == np.arange(self.models)).astype(np.int32)
        before = np.cumsum(onehot, axis=1, dtype=np.int32) - onehot
        counts = np.empty_like(before)
        np.put_along_axis(counts, order[:, :, None], before, axis=1)
        ordered = np.take_along_axis(values, order, axis=1)
        ties = ((np.diff(ordered, axis=1) == 0) & (sorted_model[:, 1:] != sorted_model[:, :-1])).any(axis=1)
        return counts, ties

    def points(self, scenario: ScenarioSpec) -> np.ndarray:
        """(R, N, 3): budget-normalised (C / Cmax, T / Tmax, A), as `recommend` computes them."""
        return np.stack((self.cost / scenario.max_total_cost, self.time / scenario.max_total_time, self.accuracy), axis=2)


def _chord(pool: _Pool, front: np.ndarray, pick: np.ndarray, scenario: ScenarioSpec) -> np.ndarray:
    """Per draw the chord knee's position (-1: none), as `selection._chord_knee`: on the frontier
    in order of cost up to the maximal-accuracy pick (its position, -1 when not in the pool),
    or all of it when the pick is dominated, as it can be among equal accuracies."""
    draws = np.arange(front.shape[0])
    costliest = np.argmax(np.where(front, pool.cost, -np.inf), axis=1)
    end = np.where((pick >= 0) & front[draws, np.maximum(pick, 0)], pick, costliest)
    segment = front & (pool.cost <= pool.cost[draws, end][:, None])
    anchor = np.array([0.0, 0.0, scenario.min_accuracy])
    return _per_curve(pool, segment, scenario, lambda points: chord_knee_positions(
        points, np.broadcast_to(anchor, (points.shape[0], 3))))


def _curvature(pool: _Pool, front: np.ndarray, scenario: ScenarioSpec, knee: Knee) -> np.ndarray:
    """Per draw the curvature knee's position (-1: none), as `selection._pick`: on the whole
    frontier in order of cost."""
    return _per_curve(pool, front, scenario, lambda points: curvature_knee_positions(points, knee))


def _per_curve(pool: _Pool, curve: np.ndarray, scenario: ScenarioSpec, positions) -> np.ndarray:
    """Per draw, the position in the pool that `positions` (engine.selection's knee of equal-length
    curves (m, n, 3), -1 for none) finds on the draw's `curve` points in order of cost: the draws
    grouped by the curve's length, so each gets the same bits as `recommend` computes alone."""
    out = np.full(curve.shape[0], NONE)
    order = np.argsort(np.where(curve, pool.cost, np.inf), axis=1, kind="stable")  # the curve first
    points = pool.points(scenario)
    size = curve.sum(axis=1)
    for n in np.unique(size[size > 0]):
        rows = np.flatnonzero(size == n)
        members = order[rows, :n]
        pos = positions(np.take_along_axis(points[rows], members[:, :, None], axis=1))
        out[rows] = np.where(pos >= 0, members[np.arange(rows.size), np.maximum(pos, 0)], NONE)
    return out


def _by_recommend(
    scenario: ScenarioSpec, knee: Knee, model: np.ndarray, k: np.ndarray,
    cost: np.ndarray, time: np.ndarray, accuracy: np.ndarray, feasible: np.ndarray,
) -> int:
    """One draw (length-N rows) decided by `recommend` itself: its knee's column, or NONE."""
    runs = []
    for m in range(int(model.max()) + 1):
        cols = np.flatnonzero(model == m)
        metrics = [MetricCurve(v[cols], np.zeros(cols.size), v[cols], v[cols], v[cols]) for v in (cost, time, accuracy)]
        curves = Curves(k[cols], 0, metrics[0], metrics[1], metrics[2], feasible[cols].astype(np.float64))
        stub = Choice(Method.MAX_ACCURACY, Status.INFEASIBLE, None, None, None, None, "infeasible")
        runs.append((str(m), curves, Decision(feasible[cols], np.zeros(cols.size, dtype=bool), (stub,))))
    (truth,) = [r for r in recommend(scenario, runs, knee) if r.method is Method.KNEE]
    if truth.status is not Status.OK:
        return NONE
    return int(np.flatnonzero((model == int(truth.model)) & (k == truth.k))[0])
