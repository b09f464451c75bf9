"""Fitting the Beta difficulty of the correctness models to observed pass rates.

Given rows (k, pass rate), e.g. a model's pass@1, pass@4 and pass@16 on an eval set, find the
alpha and beta whose exact pass@k = 1 - B(alpha, beta + k) / B(alpha, beta) (engine.accuracy)
is closest in least squares. The search runs over the mean m = alpha / (alpha + beta) (as its
logit) and the concentration s = alpha + beta (as its log): pass@1 = m, so the long valley
of near-equal fits lies along one axis. A coarse grid picks starts, then Nelder-Mead refines
the best few (numpy only; a few thousand evaluations of a sum over the rows). A best fit on
the box's edge means the rows do not determine alpha and beta (every query equally hard: s
runs to infinity; rates all 0 or 1: m runs to an end): that is an error, never a silent answer.

Honesty about the fit (`_with_errors`): pass@k cannot fall as k grows (`check_monotone`
refuses such rows); two rows are fitted exactly and leave nothing to test. With n (the
queries each rate was measured on), the rows' sampling covariance follows from the fitted law
(`pass_at_k_covariance`), giving sandwich standard errors and a chi-square test of the
residuals against it; without n, standard errors come from the residual scatter (three rows or
more). Per-query counts (problem, n, c) are better still: engine.beta_binomial.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable, Sequence

import numpy as np

from infscale.engine.accuracy import expected_pass_at_k
from infscale.engine.errors import SpecError
from infscale.engine.beta_binomial import REJECT_AT, GoodnessOfFit
from infscale.engine.special_functions import chi2_sf, digamma

LOGIT_MEAN_BOUNDS = (-14.0, 14.0)
"""The box searched for logit(alpha / (alpha + beta)): means from 8e-7 to 1 - 8e-7."""
LOG_CONCENTRATION_BOUNDS = (math.log(1e-3), math.log(1e5))
"""The box searched for log(alpha + beta)."""

RESIDUAL_TEST = "chi-square of the residuals against their sampling covariance"
GRID_POINTS = 41
STARTS = 3


@dataclass(frozen=True)
class PassRate:
    """One observed row: the share of queries some of k samples got right."""

    k: int
    pass_rate: float
    row: int  # line number in the file, for messages
    problems: int | None = None  # n: how many queries the rate was measured on, when known


@dataclass(frozen=True)
class BetaFit:
    """The fitted difficulty p ~ Beta(alpha, beta) and how well it reproduces the rows."""

    alpha: float
    beta: float
    rows: tuple[PassRate, ...]
    fitted: tuple[float, ...]  # exact pass@k of the fit, per row
    alpha_se: float | None = None  # None: the rows cannot give one (see `notes`)
    beta_se: float | None = None
    sampling_se: tuple[float, ...] | None = None  # per row, when the rows give n
    goodness_of_fit: GoodnessOfFit | None = None  # when the rows give n and more than 2 k
    notes: tuple[str, ...] = ()  # what the rows leave untested
    warnings: tuple[str, ...] = ()

    @property
    def residuals(self) -> tuple[float, ...]:
        """Observed minus fitted, per row."""
        return tuple(r.pass_rate - f for r, f in zip(self.rows, self.fitted))

    @property
    def rms_residual(self) -> float:
        return math.sqrt(sum(r * r for r in self.residuals) / len(self.rows))


def fit_beta(rows: Sequence[PassRate], source: str = "<rows>") -> BetaFit:
    """Least-squares alpha, beta of the exact pass@k formula (module docstring)."""
    ks = [r.k for r in rows]
    observed = np.array([r.pass_rate for r in rows])

    def loss(x: np.ndarray) -> float:
        alpha, beta = _alpha_beta(x)
        fitted = np.array([expected_pass_at_k(alpha, beta, k) for k in ks])
        return float(np.sum((fitted - observed) ** 2))

    bounds = np.array([LOGIT_MEAN_BOUNDS, LOG_CONCENTRATION_BOUNDS])
    axes = [np.linspace(lo, hi, GRID_POINTS) for lo, hi in bounds]
    grid = sorted(((loss(np.array(p)), p) for p in np.array(np.meshgrid(*axes)).reshape(2, -1).T), key=lambda t: t[0])
    steps = np.array([a[1] - a[0] for a in axes])
    ends = [nelder_mead(loss, np.array(p), steps, bounds) for _, p in grid[:STARTS]]
    best = min(ends, key=loss)
    alpha, beta = _alpha_beta(best)
    edge = np.minimum(best - bounds[:, 0], bounds[:, 1] - best) < 1e-3
    if edge.any():
        what = "the concentration alpha + beta" if edge[1] else "the mean alpha / (alpha + beta)"
        raise SpecError(
            source, "", f"the rows do not determine alpha and beta: {what} runs to the edge of the search "
            f"(alpha {alpha:.3g}, beta {beta:.3g}); are the pass rates those of queries of varying difficulty, "
            "rising with k?",
        )
    fitted = tuple(expected_pass_at_k(alpha, beta, k) for k in ks)
    return _with_errors(BetaFit(alpha, beta, tuple(rows), fitted))


def check_monotone(rows: Sequence[PassRate], source: str) -> None:
    """pass@k cannot fall as k grows (more samples never lose a correct one): refuse rows
    that say it does, naming the row."""
    ordered = sorted(rows, key=lambda r: (r.k, r.row))
    for before, after in zip(ordered, ordered[1:]):
        if after.pass_rate < before.pass_rate and after.k > before.k:
            raise SpecError(
                source, f"row {after.row}",
                f"pass_rate {after.pass_rate:g} at k={after.k} is below {before.pass_rate:g} at k={before.k} "
                f"(row {before.row}): pass@k cannot fall as k grows",
            )
        if after.k == before.k and after.pass_rate != before.pass_rate:
            raise SpecError(
                source, f"row {after.row}",
                f"k={after.k} appears again with another pass_rate ({after.pass_rate:g} vs {before.pass_rate:g} at row {before.row})",
            )


def nelder_mead(
    f: Callable[[np.ndarray], float], x0: np.ndarray, steps: np.ndarray, bounds: np.ndarray,
    xtol: float = 1e-10, ftol: float = 1e-16, max_iter: int = 5000,
) -> np.ndarray:
    """Minimise f from x0 with the Nelder-Mead simplex (standard coefficients), every point
    clipped into the box `bounds` (rows (lo, hi) per coordinate); the first simplex steps
    `steps` along each axis. Stops when the simplex is smaller than `xtol` in every coordinate
    and its values differ by less than `ftol`, or after `max_iter` steps."""
    n = x0.size
    lo, hi = bounds[:, 0], bounds[:, 1]
    simplex = np.vstack([x0] + [x0 + steps[i] * np.eye(n)[i] for i in range(n)])
    # Steps that would leave the box go the other way.
    for i in range(n):
        if simplex[i + 1, i] > hi[i]:
            simplex[i + 1, i] = x0[i] - steps[i]
    simplex = np.clip(simplex, lo, hi)
    values = np.array([f(p) for p in simplex])
    for _ in range(max_iter):
        order = np.argsort(values, kind="stable")
        simplex, values = simplex[order], values[order]
        if np.max(np.abs(simplex[1:] - simplex[0])) < xtol and values[-1] - values[0] < ftol:
            break
        centroid = simplex[:-1].mean(axis=0)

        def towards(t: float) -> tuple[np.ndarray, float]:
            point = np.clip(centroid + t * (simplex[-1] - centroid), lo, hi)
            return point, f(point)

        reflected, fr = towards(-1.0)
        if fr < values[0]:
            expanded, fe = towards(-2.0)
            simplex[-1], values[-1] = (expanded, fe) if fe < fr else (reflected, fr)
        elif fr < values[-2]:
            simplex[-1], values[-1] = reflected, fr
        else:
            contracted, fc = towards(0.5 if fr >= values[-1] else -0.5)
            if fc < min(fr, values[-1]):
                simplex[-1], values[-1] = contracted, fc
            else:  # shrink towards the best point
                simplex[1:] = simplex[0] + 0.5 * (simplex[1:] - simplex[0])
                values[1:] = [f(p) for p in simplex[1:]]
    return simplex[int(np.argmin(values))]


def pass_at_k_gradient(alpha: float, beta: float, k: int) -> np.ndarray:
    """d pass@k / d(alpha, beta) of pass@k = 1 - B(alpha, beta + k) / B(alpha, beta)."""
    survive = 1.0 - expected_pass_at_k(alpha, beta, k)
    d_total = float(digamma(alpha + beta + k)[0] - digamma(alpha + beta)[0])
    d_beta = float(digamma(beta + k)[0] - digamma(beta)[0])
    return np.array([survive * d_total, survive * (d_total - d_beta)])


def pass_at_k_covariance(alpha: float, beta: float, ks: Sequence[int]) -> np.ndarray:
    """Covariance, across queries p ~ Beta(alpha, beta), of their pass@k for the given k:
    E[(1-p)^(j+k)] - E[(1-p)^j] E[(1-p)^k], with E[(1-p)^k] = B(alpha, beta + k) / B(alpha, beta)."""

    def moment(k: int) -> float:
        return 1.0 - expected_pass_at_k(alpha, beta, k)

    return np.array([[moment(j + k) - moment(j) * moment(k) for k in ks] for j in ks])


def _with_errors(fit: BetaFit) -> BetaFit:
    """Standard errors, sampling errors and notes of a least-squares fit (module docstring).

    With n per row (the rows measured on the same n queries), the rows' sampling covariance is
    the fitted law's covariance of per-query pass@k over n (the noise of a query's own samples
    is left out, as when each query has many samples); the estimate's covariance is the
    sandwich (J'J)^-1 J' S J (J'J)^-1. Without n, and with more rows than parameters, the
    classical s^2 (J'J)^-1 with s^2 = RSS / (rows - 2). Two rows fit exactly: nothing to test.
    """
    ks = [r.k for r in fit.rows]
    jac = np.array([pass_at_k_gradient(fit.alpha, fit.beta, k) for k in ks])
    notes: list[str] = []
    warnings: list[str] = []
    distinct = len(set(ks))
    if distinct == 2:
        notes.append("two rows leave nothing to test: the fit passes through both exactly")
    bread = np.linalg.pinv(jac.T @ jac)
    counts = [r.problems for r in fit.rows]
    sampling: tuple[float, ...] | None = None
    gof: GoodnessOfFit | None = None
    if all(n is not None for n in counts):
        shared = pass_at_k_covariance(fit.alpha, fit.beta, ks)
        # Rows on different n share min(n_i, n_j) queries at most; assume the smaller set is shared.
        n = np.array(counts, dtype=np.float64)
        covariance = shared * np.minimum.outer(n, n) / np.outer(n, n)
        cov = bread @ jac.T @ covariance @ jac @ bread
        sampling = tuple(float(math.sqrt(covariance[i, i])) for i in range(len(ks)))
        if distinct > 2:
            gof = _residual_test(fit, jac, bread, covariance, distinct - 2)
            if gof.p_value is not None and gof.p_value < REJECT_AT:
                warnings.append(
                    f"the Beta difficulty is rejected at {REJECT_AT:.0%} ({gof.test}: statistic {gof.statistic:.4g}, "
                    f"df {gof.df}, p-value {gof.p_value:.2g}): the rows are not pass@k of one difficulty law "
                    "(were they measured at different temperatures?)"
                )
        for row, residual, se in zip(fit.rows, fit.residuals, sampling):
            if se > 0 and abs(residual) > 2.0 * se:
                warnings.append(
                    f"row {row.row} (k={row.k}): residual {residual:+.4f} is {abs(residual) / se:.1f} sampling "
                    f"errors ({se:.4f} with n={row.problems}): the Beta difficulty does not reproduce this row"
                )
    elif distinct > 2:
        s2 = sum(r * r for r in fit.residuals) / (len(ks) - 2)
        cov = s2 * bread
        notes.append("standard errors from the residual scatter (give n, the queries per row, for sampling errors)")
    else:
        cov = None
        notes.append("no standard errors: give n, the queries per row, to get them")
    alpha_se = beta_se = None
    if cov is not None:
        alpha_se, beta_se = (float(math.sqrt(max(cov[i, i], 0.0))) for i in range(2))
    return replace(
        fit, alpha_se=alpha_se, beta_se=beta_se, sampling_se=sampling, goodness_of_fit=gof,
        notes=tuple(notes), warnings=tuple(warnings),
    )


def _residual_test(fit: BetaFit, jac: np.ndarray, bread: np.ndarray, covariance: np.ndarray, df: int) -> GoodnessOfFit:
    """r' C^+ r for the residuals r of the least-squares fit, C = (I - H) S (I - H)' their
    sampling covariance (H the fit's hat matrix, S the rows'); chi-square with rows - 2 degrees
    of freedom when the Beta law holds."""
    residuals = np.array(fit.residuals)
    projector = np.eye(len(residuals)) - jac @ bread @ jac.T
    c = projector @ covariance @ projector.T
    statistic = float(residuals @ np.linalg.pinv(c, rcond=1e-10) @ residuals)
    return GoodnessOfFit(RESIDUAL_TEST, statistic=statistic, df=df, p_value=float(chi2_sf(statistic, df)))


def _alpha_beta(x: np.ndarray) -> tuple[float, float]:
    """(logit mean, log concentration) -> (alpha, beta)."""
    mean = 1.0 / (1.0 + math.exp(-x[0]))
    concentration = math.exp(x[1])
    return mean * concentration, (1.0 - mean) * concentration
