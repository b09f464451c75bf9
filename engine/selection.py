"""Choosing k (and, across models, the model) four ways (science.md section 3).

Points are normalised by the scenario's budgets: p = (C / Cmax, T / Tmax, A). Candidates are
given in preference order (ascending k), so every argmax/argmin takes the first of equals and
ties go to the smallest k.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Sequence

import numpy as np

from infscale.engine.frontier import pareto_mask
from infscale.engine.specs import Knee, ScenarioSpec
from infscale.engine.statistics import Curves


class Method(str, Enum):
    MAX_ACCURACY = "max_accuracy"
    MAX_CUBE = "max_cube"
    UTOPIA = "utopia"
    KNEE = "knee"


class Status(str, Enum):
    OK = "ok"
    INFEASIBLE = "infeasible"
    NO_KNEE = "no_knee"


@dataclass(frozen=True)
class Choice:
    """The k one method picks for one model under one scenario."""

    method: Method
    status: Status
    k: int | None
    total_cost: float | None
    total_time: float | None
    accuracy: float | None
    reason: str
    # Estimated probability that this choice is right (engine.confidence); None until computed,
    # with fewer than two blocks, in legacy and in exact mode.
    confidence: float | None = None


@dataclass(frozen=True)
class Decision:
    """Feasible set, frontier and the four choices for one model under one scenario."""

    feasible: np.ndarray  # bool per k of the grid
    frontier: np.ndarray  # bool per k of the grid
    choices: tuple[Choice, ...]  # in Method order

    def choice(self, method: Method) -> Choice:
        return next(c for c in self.choices if c.method is method)


@dataclass(frozen=True)
class Recommendation:
    """The (model, k) one method picks across all models of a sweep under one scenario."""

    scenario: str
    method: Method
    status: Status
    model: str | None
    k: int | None
    total_cost: float | None
    total_time: float | None
    accuracy: float | None
    reason: str
    # Estimated probability that the pick is right (engine.recommendation_confidence); None
    # without standard errors (legacy and exact mode, a single block).
    confidence: float | None = None


def feasible_mask(curves: Curves, scenario: ScenarioSpec) -> np.ndarray:
    """Budgets on the Monte Carlo means, or the chance constraint when min_probability is set."""
    if scenario.min_probability is not None:
        return curves.feasible_probability >= scenario.min_probability
    return (
        (curves.cost.mean <= scenario.max_total_cost)
        & (curves.time.mean <= scenario.max_total_time)
        & (curves.accuracy.mean >= scenario.min_accuracy)
    )


def decide(curves: Curves, scenario: ScenarioSpec, knee: Knee = Knee.CHORD) -> Decision:
    """Feasible set, Pareto frontier and the four choices for one model's curves."""
    feasible = feasible_mask(curves, scenario)
    frontier = np.zeros_like(feasible)
    k, c, t, a = curves.k, curves.cost.mean, curves.time.mean, curves.accuracy.mean
    if not feasible.any():
        reason = infeasible_reason(curves, scenario)
        return Decision(feasible, frontier, tuple(
            Choice(m, Status.INFEASIBLE, None, None, None, None, reason) for m in Method
        ))
    idx = np.flatnonzero(feasible)
    on_front = pareto_mask(c[idx], t[idx], a[idx])
    frontier[idx[on_front]] = True
    order = np.arange(idx.size)
    picks = _pick(c[idx], t[idx], a[idx], curves.accuracy.se[idx], on_front, scenario, knee, curve_order=order, cheapest_first=order)
    choices = []
    for method in Method:
        pos, status, reason = picks[method]
        if pos is None:
            choices.append(Choice(method, status, None, None, None, None, reason))
        else:
            j = idx[pos]
            choices.append(Choice(method, status, int(k[j]), float(c[j]), float(t[j]), float(a[j]), reason))
    return Decision(feasible, frontier, tuple(choices))


def recommend(
    scenario: ScenarioSpec,
    runs: Sequence[tuple[str, Curves, Decision]],
    knee: Knee = Knee.CHORD,
) -> tuple[Recommendation, ...]:
    """Across models: every feasible (model, k) of the scenario forms one frontier.

    `runs` are (model key, curves, decision) in sweep order. Ties go to the smallest k,
    then the model listed first. The knee follows the frontier in order of cost.
    """
    feasible = [np.flatnonzero(decision.feasible) for _, _, decision in runs]
    if not sum(j.size for j in feasible):
        reason = "no model has a feasible k: " + "; ".join(
            f"{m}: {d.choices[0].reason}" for m, _, d in runs
        )
        return tuple(
            Recommendation(scenario.name, m, Status.INFEASIBLE, None, None, None, None, None, reason)
            for m in Method
        )
    # Every feasible (model, k), model by model in sweep order.
    run_of = np.concatenate([np.full(j.size, i) for i, j in enumerate(feasible)])
    ks, c, t, a, se = (
        np.concatenate([get(curves)[j] for (_, curves, _), j in zip(runs, feasible)])
        for get in (
            lambda v: v.k, lambda v: v.cost.mean, lambda v: v.time.mean, lambda v: v.accuracy.mean,
            lambda v: v.accuracy.se,
        )
    )
    order = np.lexsort((np.arange(ks.size), ks))  # by k, then sweep order
    models = [runs[i][0] for i in run_of[order]]
    ks_arr, c_arr, t_arr, a_arr, se_arr = (np.asarray(v, dtype=np.float64)[order] for v in (ks, c, t, a, se))
    on_front = pareto_mask(c_arr, t_arr, a_arr)
    curve_order = np.lexsort((ks_arr, t_arr, c_arr))
    # Stable: among equal cost and time, the order above (k, then sweep order) decides.
    cheapest_first = np.lexsort((t_arr, c_arr))
    picks = _pick(c_arr, t_arr, a_arr, se_arr, on_front, scenario, knee, curve_order, cheapest_first)
    out = []
    for method in Method:
        pos, status, reason = picks[method]
        if pos is None:
            out.append(Recommendation(scenario.name, method, status, None, None, None, None, None, reason))
        else:
            out.append(Recommendation(
                scenario.name, method, status, models[pos], int(ks_arr[pos]),
                float(c_arr[pos]), float(t_arr[pos]), float(a_arr[pos]), reason,
            ))
    return tuple(out)


SCREEN_Z = 3.0
"""How many standard errors of its gap to the best a k's mean accuracy may fall below
best - tolerance and still count as within the tolerance (see `max_accuracy_pick`)."""


def max_accuracy_pick(
    accuracy: np.ndarray, accuracy_se: np.ndarray, tolerance: float, cheapest_first: np.ndarray
) -> tuple[int, Status, str]:
    """The first candidate in `cheapest_first` whose mean accuracy is within `tolerance` of the
    best feasible mean accuracy; tolerance 0 is the paper's plain argmax (ties to the first).

    With tolerance > 0, a candidate counts as within it unless its mean lies more than SCREEN_Z
    standard errors of its gap to the best below best - tolerance: the indifference-zone screen
    of subset selection (Gupta 1965; Nelson et al. 2001), so that Monte Carlo noise alone never
    moves the pick to a costlier k. The gap's standard error combines both means' as if
    independent, which overstates it under common random numbers (a conservative screen). With
    exact means (standard errors 0) it is the plain tolerance rule.
    """
    best_pos = int(np.argmax(accuracy))
    best = accuracy[best_pos]
    if tolerance == 0.0:
        return best_pos, Status.OK, "highest mean accuracy among feasible k"
    se = np.nan_to_num(accuracy_se, nan=0.0)
    gap_se = np.sqrt(se * se + se[best_pos] ** 2)
    within = (accuracy + SCREEN_Z * gap_se)[cheapest_first] >= best - tolerance
    pos = int(cheapest_first[np.argmax(within)])
    return pos, Status.OK, f"cheapest feasible k within {tolerance:g} of the highest feasible mean accuracy ({best:.6f})"


def knee_position(points: np.ndarray, variant: Knee) -> int | None:
    """The knee of a frontier curve (n, 3) of normalised points in curve order, or None.

    `chord` needs the scenario's anchor: see `chord_knee_position`; here the curvature variants.
    """
    return curvature_knee_position(points, variant)


def curvature_knee_position(points: np.ndarray, variant: Knee) -> int | None:
    """Interior point of maximum curvature |p' x p''| / |p'|^3 of a curve (n, 3), or None.

    p' and p'' are central differences in the curve's index. The legacy variant takes the
    cross product of the first two components (C, T) only, as the reference notebook does.
    """
    pos = int(curvature_knee_positions(points[None], variant)[0])
    return pos if pos >= 0 else None


def curvature_knee_positions(points: np.ndarray, variant: Knee) -> np.ndarray:
    """`curvature_knee_position` of each of m curves of equal length (m, n, 3) at once; -1 for
    none. Every operation is elementwise or along a curve, so each curve gets the same bits as
    alone. O(m n)."""
    if points.shape[1] < 3:
        return np.full(points.shape[0], -1)
    d1 = (points[:, 2:] - points[:, :-2]) / 2.0
    d2 = points[:, 2:] - 2.0 * points[:, 1:-1] + points[:, :-2]
    if variant is Knee.CURVATURE_2D:
        num = np.abs(d1[..., 0] * d2[..., 1] - d1[..., 1] * d2[..., 0])
    else:
        num = np.linalg.norm(np.cross(d1, d2), axis=-1)
    den = np.linalg.norm(d1, axis=-1) ** 3
    kappa = np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)
    return 1 + np.argmax(kappa, axis=-1)


def chord_knee_position(points: np.ndarray, anchor: np.ndarray) -> int | None:
    """The point of a curve (n, 3) farthest above the chord from `anchor` to its last point.

    "Above": on the side of higher accuracy (the perpendicular offset's third component is
    positive), where a concave trade-off bulges. None when no point is strictly above. The
    distance is Euclidean in the normalised coordinates (C/Cmax, T/Tmax, A), so it depends on
    the budgets and on the curve, never on which k the grid holds. O(n).
    """
    pos = int(chord_knee_positions(points[None], anchor[None])[0])
    return pos if pos >= 0 else None


def chord_knee_positions(points: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """`chord_knee_position` of each of m curves of equal length (m, n, 3) with anchors (m, 3)
    at once; -1 for none. The dot products are stacked matrix products, which numpy computes
    curve by curve with the same BLAS calls as one curve alone: the same bits. O(m n)."""
    m, n = points.shape[:2]
    if n < 2:
        return np.full(m, -1)
    chord = points[:, -1] - anchors
    length = np.sqrt(np.matmul(chord[:, None, :], chord[:, :, None])[:, 0, 0])
    unit = chord / np.where(length > 0.0, length, 1.0)[:, None]
    offset = points - anchors[:, None, :]
    along = np.matmul(offset, unit[:, :, None])
    perpendicular = offset - along * unit[:, None, :]
    distance = np.where(perpendicular[..., 2] > 0.0, np.linalg.norm(perpendicular, axis=-1), 0.0)
    pos = np.argmax(distance, axis=-1)
    found = (distance[np.arange(m), pos] > 0.0) & (length > 0.0)
    return np.where(found, pos, -1)


def infeasible_reason(curves: Curves, scenario: ScenarioSpec) -> str:
    """Which budget binds when no k is feasible, in one sentence."""
    k = curves.k
    if scenario.min_probability is not None:
        j = int(np.argmax(curves.feasible_probability))
        return (
            f"no k meets all budgets with probability >= {scenario.min_probability:g}: "
            f"best is {curves.feasible_probability[j]:.3f} at k={k[j]}"
        )
    acc_ok = curves.accuracy.mean >= scenario.min_accuracy
    cost_ok = curves.cost.mean <= scenario.max_total_cost
    time_ok = curves.time.mean <= scenario.max_total_time
    problems = []
    if not acc_ok.any():
        problems.append(
            f"min_accuracy {scenario.min_accuracy:g} is not reached by k <= {k[-1]} "
            f"(best {curves.accuracy.mean.max():.4f})"
        )
    if not cost_ok.any():
        problems.append(f"max_total_cost {scenario.max_total_cost:g} is exceeded already at k={k[0]} "
                        f"({curves.cost.mean[0]:.4g})")
    if not time_ok.any():
        problems.append(f"max_total_time {scenario.max_total_time:g} is exceeded already at k={k[0]} "
                        f"({curves.time.mean[0]:.4g})")
    if problems:
        return "; ".join(problems)
    k_acc = int(k[np.argmax(acc_ok)])
    limits = []
    for name, ok, value in (
        ("max_total_cost", cost_ok, scenario.max_total_cost),
        ("max_total_time", time_ok, scenario.max_total_time),
    ):
        if not ok[k >= k_acc].any():
            limits.append(f"{name} {value:g} allows only k <= {int(k[ok].max())}")
    return f"min_accuracy {scenario.min_accuracy:g} needs k >= {k_acc}, but " + (" and ".join(limits) or "every k that reaches it exceeds max_total_cost or max_total_time")


def _pick(
    c: np.ndarray, t: np.ndarray, a: np.ndarray, a_se: np.ndarray, on_front: np.ndarray,
    scenario: ScenarioSpec, knee: Knee, curve_order: np.ndarray, cheapest_first: np.ndarray,
) -> dict[Method, tuple[int | None, Status, str]]:
    """Positions picked among feasible candidates given in preference order.

    `cheapest_first` orders the candidates by cost, then time, then preference: maximal accuracy
    takes the first of them within the scenario's accuracy tolerance of the best.
    """
    cn, tn = c / scenario.max_total_cost, t / scenario.max_total_time
    picks: dict[Method, tuple[int | None, Status, str]] = {
        Method.MAX_ACCURACY: max_accuracy_pick(a, a_se, scenario.accuracy_tolerance, cheapest_first),
        Method.MAX_CUBE: (
            int(np.argmax((1.0 - cn) * (1.0 - tn) * a)), Status.OK,
            "largest (1 - C/Cmax)(1 - T/Tmax)A among feasible k",
        ),
    }
    front = np.flatnonzero(on_front)
    dist = np.sqrt(cn[front] ** 2 + tn[front] ** 2 + (1.0 - a[front]) ** 2)
    picks[Method.UTOPIA] = (int(front[np.argmin(dist)]), Status.OK, "frontier point nearest the utopia (0, 0, 1)")
    curve = [i for i in curve_order if on_front[i]]
    if knee is Knee.CHORD:
        picks[Method.KNEE] = _chord_knee(cn, tn, a, curve, picks[Method.MAX_ACCURACY][0], scenario.min_accuracy)
        return picks
    points = np.column_stack((cn[curve], tn[curve], a[curve]))
    pos = curvature_knee_position(points, knee)
    if pos is None:
        picks[Method.KNEE] = (None, Status.NO_KNEE, f"the frontier has {len(curve)} point(s); a knee needs 3")
    else:
        picks[Method.KNEE] = (int(curve[pos]), Status.OK, "frontier point of maximum curvature")
    return picks


def _chord_knee(
    cn: np.ndarray, tn: np.ndarray, a: np.ndarray, curve: list[int], best: int, min_accuracy: float
) -> tuple[int | None, Status, str]:
    """The chord knee on the frontier up to the maximal-accuracy pick `best` (points past it buy
    less than the accuracy tolerance: the curve is flat there)."""
    end = curve.index(best) if best in curve else len(curve) - 1
    curve = curve[: end + 1]
    points = np.column_stack((cn[curve], tn[curve], a[curve]))
    pos = chord_knee_position(points, np.array([0.0, 0.0, min_accuracy]))
    if pos is None:
        return None, Status.NO_KNEE, (
            f"no frontier point up to the maximal-accuracy pick lies above the chord from "
            f"(0, 0, min_accuracy) to it ({len(curve)} frontier point(s))"
        )
    reason = "frontier point farthest above the chord from (0, 0, min_accuracy) to the maximal-accuracy pick"
    if pos == 0 and len(curve) > 1:
        reason += " (the frontier's first point: the knee may lie at or below it)"
    return int(curve[pos]), Status.OK, reason
