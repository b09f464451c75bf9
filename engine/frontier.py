"""Exact 3-D Pareto frontier: minimise cost and time, maximise accuracy.

Under common random numbers mean cost and time rise strictly with k, so along the feasible k
in increasing order a point can only be dominated by an earlier one, and an earlier one has
lower cost and time already: the frontier is where accuracy beats every earlier accuracy, a
prefix maximum, O(n) and vectorised (`prefix_max_mask`). Any input without that order (the
cross-model frontier, hand-made curves) takes the general method (`general_pareto_mask`).
"""

from __future__ import annotations

import numpy as np


def pareto_mask(cost: np.ndarray, time: np.ndarray, accuracy: np.ndarray) -> np.ndarray:
    """True where no other point is at least as good in all three and better in one.

    The prefix maximum when cost and time strictly increase in the given order (and no
    accuracy is NaN); otherwise the general method. Both give the same mask there.
    """
    cost, time, accuracy = (np.asarray(a, dtype=np.float64) for a in (cost, time, accuracy))
    if _rising(cost) and _rising(time) and not np.isnan(accuracy).any():
        return prefix_max_mask(accuracy)
    return general_pareto_mask(cost, time, accuracy)


def prefix_max_mask(accuracy: np.ndarray) -> np.ndarray:
    """The frontier of points whose cost and time strictly increase in the given order: the
    points more accurate than every earlier one. O(n)."""
    accuracy = np.asarray(accuracy, dtype=np.float64)
    mask = np.ones(accuracy.size, dtype=bool)
    if accuracy.size > 1:
        mask[1:] = accuracy[1:] > np.maximum.accumulate(accuracy)[:-1]
    return mask


def general_pareto_mask(cost: np.ndarray, time: np.ndarray, accuracy: np.ndarray) -> np.ndarray:
    """True where no other point is at least as good in all three and better in one, for
    points in any order.

    Sort by (cost asc, time asc, accuracy desc); a point can only be dominated by one
    earlier in that order, so a Fenwick tree over time ranks holding the best accuracy
    seen answers "is there an earlier point with time <= t and accuracy >= a?".
    Identical points do not dominate each other. O(n log n).
    """
    cost, time, accuracy = (np.asarray(a, dtype=np.float64) for a in (cost, time, accuracy))
    n = cost.size
    mask = np.zeros(n, dtype=bool)
    if n == 0:
        return mask
    order = np.lexsort((-accuracy, time, cost))
    time_rank = np.searchsorted(np.unique(time), time) + 1  # 1-based for the tree
    tree = np.full(time_rank.max() + 1, -np.inf)
    i = 0
    while i < n:
        # A run of identical points: judge all against strictly earlier points, then insert.
        j = i + 1
        p = order[i]
        while j < n and cost[order[j]] == cost[p] and time[order[j]] == time[p] and accuracy[order[j]] == accuracy[p]:
            j += 1
        best = _prefix_max(tree, int(time_rank[p]))
        if best < accuracy[p]:
            mask[order[i:j]] = True
        _update(tree, int(time_rank[p]), float(accuracy[p]))
        i = j
    return mask


def _rising(values: np.ndarray) -> bool:
    return bool(np.all(values[1:] > values[:-1]))


def _prefix_max(tree: np.ndarray, index: int) -> float:
    best = -np.inf
    while index > 0:
        best = max(best, tree[index])
        index -= index & -index
    return best


def _update(tree: np.ndarray, index: int, value: float) -> None:
    while index < tree.size:
        if tree[index] < value:
            tree[index] = value
        index += index & -index
