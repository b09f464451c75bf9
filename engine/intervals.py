"""Confidence intervals that stay honest for rare events (science.md section 7).

A proportion estimated from n trials with all or none of them "in" has a sample standard
error of 0, though its variance is positive. The Wilson score interval (Wilson 1927) never
collapses: for x of n it is centred at (x + z^2/2) / (n + z^2) with half-width
z sqrt(p(1-p)/n + z^2/(4n^2)) / (1 + z^2/n), and at x = n its lower end is n / (n + z^2)
(about 1 - 3.84/n at 95%). Means of [0, 1]-valued trials (accuracy) use mean +- z SE, except
where every trial sat at a bound (SE 0): there the Wilson interval of the mean as a proportion
(the variance of a [0, 1] variable of mean p is at most p(1-p)) bounds it.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from infscale.engine.statistics import Curves

Z_95 = 1.959963984540054


def wilson_interval(p: np.ndarray, n: np.ndarray | int, z: float = Z_95) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper ends of the Wilson score interval of proportions `p` from `n` trials."""
    p = np.asarray(p, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    z2 = z * z
    with np.errstate(invalid="ignore", divide="ignore"):
        centre = (p + z2 / (2 * n)) / (1 + z2 / n)
        half = z * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)


def bounded_mean_interval(mean: np.ndarray, se: np.ndarray, n: int, z: float = Z_95) -> tuple[np.ndarray, np.ndarray]:
    """Interval of means of [0, 1]-valued trials: mean +- z SE, or Wilson's where SE is 0."""
    mean, se = np.asarray(mean, dtype=np.float64), np.asarray(se, dtype=np.float64)
    lo, hi = np.clip(mean - z * se, 0.0, 1.0), np.clip(mean + z * se, 0.0, 1.0)
    w_lo, w_hi = wilson_interval(np.clip(mean, 0.0, 1.0), n, z)
    degenerate = (se == 0) & (n > 0)
    return np.where(degenerate, w_lo, lo), np.where(degenerate, w_hi, hi)


def bounded_mean_se(mean: np.ndarray, se: np.ndarray, n: int, z: float = Z_95) -> np.ndarray:
    """The standard error of a mean of [0, 1]-valued trials, never 0 where the variance may be
    positive: where every trial sat at the same bound, the Wilson half-width divided by z."""
    se = np.asarray(se, dtype=np.float64)
    if n <= 1:
        return se
    lo, hi = wilson_interval(np.clip(mean, 0.0, 1.0), n, z)
    return np.where(se == 0, (hi - lo) / (2 * z), se)


def with_bounded_accuracy_se(curves: Curves) -> Curves:
    """`curves` whose accuracy standard errors are never 0 where every trial sat at a bound."""
    se = bounded_mean_se(curves.accuracy.mean, curves.accuracy.se, curves.trials)
    return replace(curves, accuracy=replace(curves.accuracy, se=se))
