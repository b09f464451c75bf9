"""Least squares with standard errors that stay right when samples come in clusters.

Eval logs hold several samples per query: samples of one query share its prompt (the same
input length) and its difficulty, so they are not independent. The covariance of the
coefficients is the cluster-robust sandwich (X'X)^-1 (sum_g X_g' u_g u_g' X_g) (X'X)^-1 with
the usual small-sample factor G/(G-1) (N-1)/(N-K) (G clusters, N rows, K columns); with one
row per cluster it is White's heteroscedasticity-robust estimator. O(N K^2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LeastSquares:
    """Coefficients, their cluster-robust covariance and the residual sum of squares."""

    coefficients: np.ndarray
    covariance: np.ndarray
    rss: float
    rows: int
    clusters: int

    @property
    def standard_errors(self) -> np.ndarray:
        return np.sqrt(np.maximum(np.diag(self.covariance), 0.0))


def least_squares(x: np.ndarray, y: np.ndarray, clusters: np.ndarray) -> LeastSquares | None:
    """Ordinary least squares of y on the columns of x, cluster-robust covariance (module
    docstring); None when x does not have full column rank or there is only one cluster."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    rows, k = x.shape
    if rows <= k or np.linalg.matrix_rank(x) < k:
        return None
    coefficients, *_ = np.linalg.lstsq(x, y, rcond=None)
    residuals = y - x @ coefficients
    bread = np.linalg.inv(x.T @ x)
    labels, index = np.unique(clusters, return_inverse=True)
    groups = labels.size
    if groups < 2:
        return None
    scores = np.zeros((groups, k))
    np.add.at(scores, index, x * residuals[:, None])
    meat = scores.T @ scores
    factor = groups / (groups - 1) * (rows - 1) / (rows - k)
    covariance = factor * bread @ meat @ bread
    return LeastSquares(coefficients, covariance, float(residuals @ residuals), rows, groups)


def clustered_mean(values: np.ndarray, clusters: np.ndarray) -> tuple[float, float]:
    """The mean of `values` and its cluster-robust standard error."""
    values = np.asarray(values, dtype=np.float64)
    fit = least_squares(np.ones((values.size, 1)), values, clusters)
    if fit is None:
        return float(values.mean()), float("nan")
    return float(fit.coefficients[0]), float(fit.standard_errors[0])
