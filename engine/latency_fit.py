"""Seconds per token from an eval log: latency = t_fixed + t_in L_in + t_out L_out + noise.

Non-negative least squares: every subset of the three terms is fitted by ordinary least
squares and the best one with no negative coefficient wins (for three terms this is the exact
non-negative solution: the optimum is the unconstrained fit on its own support). A term left
out is 0 in the catalog, with a warning saying why (a negative estimate, or a column that does
not vary). Standard errors are cluster-robust by query (engine.regression). O(8 N).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np

from infscale.engine.regression import LeastSquares, least_squares

TERMS = ("t_fixed", "t_in", "t_out")
POOR_R2 = 0.5
"""An R^2 below this is reported: latency is then mostly not explained by tokens."""


@dataclass(frozen=True)
class LatencyFit:
    """The fitted seconds per token (and per inference), standard errors (None: fixed at 0)."""

    values: dict[str, float]
    standard_errors: dict[str, float | None]
    r_squared: float
    residual_sd: float
    samples: int
    notes: tuple[str, ...]  # why a term is fixed at 0

    def warnings(self) -> list[str]:
        out = list(self.notes)
        if self.r_squared < POOR_R2:
            out.append(
                f"latency is poorly explained by token counts (R^2 {self.r_squared:.2f}, residual sd "
                f"{self.residual_sd:.3g} s): t_in and t_out describe an average only"
            )
        return out


def fit_latency(latency: np.ndarray, l_in: np.ndarray, l_out: np.ndarray, clusters: np.ndarray) -> LatencyFit | None:
    """The non-negative least-squares fit (module docstring); None if no subset of the terms
    can be fitted (fewer rows than terms, or a single query)."""
    y = np.asarray(latency, dtype=np.float64)
    columns = np.column_stack([np.ones_like(y), l_in, l_out])
    best: tuple[float, tuple[int, ...], LeastSquares] | None = None
    full = least_squares(columns, y, clusters)
    for size in (3, 2, 1):
        for support in combinations(range(3), size):
            fit = least_squares(columns[:, support], y, clusters)
            if fit is None or np.any(fit.coefficients < 0):
                continue
            # Ties (a column that duplicates another) keep the larger support first seen.
            if best is None or fit.rss < best[0] - 1e-12 * max(best[0], 1e-300):
                best = (fit.rss, support, fit)
    if best is None:
        return None
    _, support, fit = best
    values = {name: 0.0 for name in TERMS}
    errors: dict[str, float | None] = {name: None for name in TERMS}
    for i, column in enumerate(support):
        values[TERMS[column]] = float(fit.coefficients[i])
        errors[TERMS[column]] = float(fit.standard_errors[i])
    notes = []
    for column, name in enumerate(TERMS):
        if column in support:
            continue
        if full is not None and full.coefficients[column] < 0:
            notes.append(
                f"{name}: its least-squares estimate is negative ({full.coefficients[column]:.3g} +- "
                f"{full.standard_errors[column]:.2g}); fixed at 0"
            )
        else:
            what = "the overhead per inference" if column == 0 else ("input_tokens" if column == 1 else "output_tokens")
            notes.append(f"{name}: not separable from the other terms ({what} cannot be told apart); fixed at 0")
    total = float(np.sum((y - y.mean()) ** 2))
    r_squared = 1.0 - fit.rss / total if total > 0 else 1.0
    residual_sd = float(np.sqrt(fit.rss / max(fit.rows - len(support), 1)))
    return LatencyFit(values, errors, r_squared, residual_sd, int(y.size), tuple(notes))
