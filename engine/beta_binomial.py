"""The difficulty Beta(alpha, beta) of the correctness models, by maximum likelihood on
per-query counts (science.md section 7).

An eval harness reports per query q its number of samples n_q and of correct ones c_q. With
difficulty p_q ~ Beta(alpha, beta) and each sample correct with probability p_q, c_q is
beta-binomial: log L = sum_q [ln C(n_q, c_q) + ln B(c_q + alpha, n_q - c_q + beta) - ln B(alpha, beta)].
Scores in [0, 1] give fractional c_q (the sum of the scores); the same formula is then a
quasi-likelihood and the count-based goodness-of-fit test does not apply.

Maximisation: damped Newton (Levenberg-Marquardt) on (ln alpha, ln beta) from the method of
moments, with the exact gradient and Hessian (digamma, trigamma); each step costs O(distinct
(n, c) pairs). Standard errors: the inverse observed information -H at the maximum.
Goodness of fit: Pearson's chi-square on the counts of c per sample size n (expected counts
from the fitted law, adjacent classes pooled until each expects at least 5), with
df = classes - sizes - 2. The parameters are fitted to the ungrouped counts, so the statistic's
law lies between chi-square(df) and chi-square(df + 2) (Chernoff and Lehmann 1954): the test
rejects slightly more often than its nominal level.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from infscale.engine.accuracy import correct_count_pmf
from infscale.engine.errors import SpecError
from infscale.engine.special_functions import chi2_sf, digamma, log_gamma, trigamma

MIN_EXPECTED = 5.0
"""Pooled classes of the chi-square test expect at least this many queries."""
MAX_CONCENTRATION = 1e7
"""alpha + beta beyond this: the counts show no spread of difficulty (the maximum is at infinity)."""
MIN_PARAMETER = 1e-6
REJECT_AT = 0.01
"""A goodness-of-fit p-value below this is reported as a warning."""
PEARSON = "pearson chi-square of correct counts per query"


@dataclass(frozen=True)
class GoodnessOfFit:
    """A goodness-of-fit test: its statistic, degrees of freedom and p-value, or why it was not run."""

    test: str
    statistic: float | None = None
    df: int | None = None
    p_value: float | None = None
    not_tested: str | None = None

    def as_dict(self) -> dict[str, object]:
        if self.not_tested is not None:
            return {"test": self.test, "not_tested": self.not_tested}
        return {"test": self.test, "statistic": self.statistic, "df": self.df, "p_value": self.p_value}


@dataclass(frozen=True)
class BetaBinomialFit:
    """The maximum-likelihood difficulty Beta(alpha, beta) of a set of per-query counts."""

    alpha: float
    beta: float
    alpha_se: float
    beta_se: float
    covariance: tuple[tuple[float, float], tuple[float, float]]
    log_likelihood: float
    queries: int
    samples: int
    goodness_of_fit: GoodnessOfFit

    @property
    def mean(self) -> float:
        """E[p]: the pass@1 of the fitted law."""
        return self.alpha / (self.alpha + self.beta)

    def warnings(self) -> list[str]:
        """What a user should know before trusting the fit, one sentence each."""
        out = []
        gof = self.goodness_of_fit
        if gof.p_value is not None and gof.p_value < REJECT_AT:
            out.append(
                f"the beta-binomial is rejected at {REJECT_AT:.0%} ({gof.test}: statistic {gof.statistic:.4g}, "
                f"df {gof.df}, p-value {gof.p_value:.2g}): query difficulty is not Beta-distributed, so pass@k "
                "far beyond the sampled n is an extrapolation"
            )
        for name, value, se in (("alpha", self.alpha, self.alpha_se), ("beta", self.beta, self.beta_se)):
            if se > value:
                out.append(f"{name} is poorly determined ({value:.3g} +- {se:.2g}): more queries or samples would help")
        return out


def fit_beta_binomial(n: np.ndarray, c: np.ndarray, source: str, field: str = "") -> BetaBinomialFit:
    """Maximum-likelihood alpha, beta of counts c (correct, possibly fractional) of n samples
    per query (module docstring). Raises SpecError naming `source` and `field` when the counts
    do not determine them."""
    n = np.asarray(n, dtype=np.float64)
    c = np.asarray(c, dtype=np.float64)
    if n.shape != c.shape or n.ndim != 1 or n.size == 0 or np.any(n < 1) or np.any(c < 0) or np.any(c > n):
        raise ValueError("counts must be 1-D, non-empty, n >= 1 and 0 <= c <= n")
    if np.all(n == 1):
        raise SpecError(
            source, field, "every query has 1 sample: the spread of difficulty between queries needs "
            "at least 2 samples of some queries",
        )
    if np.all(c == 0) or np.all(c == n):
        which = "wrong" if np.all(c == 0) else "right"
        raise SpecError(source, field, f"every sample is {which}: the difficulty cannot be fitted (mean at an end of [0, 1])")
    pairs, weights = np.unique(np.stack([n, c], axis=1), axis=0, return_counts=True)
    counts = _Counts(pairs[:, 0], pairs[:, 1], weights.astype(np.float64))
    alpha, beta = _maximise(counts, _moments_start(n, c), source, field)
    information = -counts.hessian(alpha, beta)
    try:
        covariance = np.linalg.inv(information)
    except np.linalg.LinAlgError:
        covariance = np.full((2, 2), np.inf)
    if not np.all(np.isfinite(covariance)) or covariance[0, 0] <= 0 or covariance[1, 1] <= 0:
        raise SpecError(source, field, f"the counts do not determine alpha and beta (alpha {alpha:.3g}, beta {beta:.3g})")
    integral = bool(np.all(c == np.round(c)))
    return BetaBinomialFit(
        alpha=alpha,
        beta=beta,
        alpha_se=math.sqrt(covariance[0, 0]),
        beta_se=math.sqrt(covariance[1, 1]),
        covariance=((float(covariance[0, 0]), float(covariance[0, 1])), (float(covariance[1, 0]), float(covariance[1, 1]))),
        log_likelihood=counts.log_likelihood(alpha, beta),
        queries=int(n.size),
        samples=int(n.sum()),
        goodness_of_fit=(
            pearson_test(n.astype(np.int64), c.astype(np.int64), alpha, beta) if integral
            else GoodnessOfFit(PEARSON, not_tested="the scores are fractional, not counts of correct samples")
        ),
    )


def pearson_test(n: np.ndarray, c: np.ndarray, alpha: float, beta: float, fitted_parameters: int = 2) -> GoodnessOfFit:
    """Pearson's chi-square of the observed counts of c per sample size n against the
    beta-binomial (alpha, beta), classes pooled to expect >= MIN_EXPECTED (module docstring)."""
    statistic, classes, sizes = 0.0, 0, 0
    for size in np.unique(n):
        in_group = n == size
        observed = np.bincount(c[in_group], minlength=size + 1).astype(np.float64)
        expected = in_group.sum() * correct_count_pmf(alpha, beta, int(size))
        bins = _pool(expected)
        sizes += 1
        classes += len(bins)
        for lo, hi in bins:
            o, e = observed[lo:hi].sum(), expected[lo:hi].sum()
            statistic += (o - e) ** 2 / e
    df = classes - sizes - fitted_parameters
    if df < 1:
        return GoodnessOfFit(
            PEARSON, not_tested=f"too few queries to test: {classes} pooled class(es) for {sizes} sample size(s) "
            f"leave {df} degrees of freedom",
        )
    return GoodnessOfFit(PEARSON, statistic=float(statistic), df=int(df), p_value=float(chi2_sf(statistic, df)))


# --- private helpers -------------------------------------------------------------------------


class _Counts:
    """Distinct (n, c) pairs with their multiplicities: the likelihood and its derivatives."""

    def __init__(self, n: np.ndarray, c: np.ndarray, w: np.ndarray) -> None:
        self.n, self.c, self.w = n, c, w
        self.constant = float(np.dot(w, log_gamma(n + 1) - log_gamma(c + 1) - log_gamma(n - c + 1)))

    def log_likelihood(self, a: float, b: float) -> float:
        n, c, w = self.n, self.c, self.w
        terms = log_gamma(c + a) + log_gamma(n - c + b) - log_gamma(n + a + b)
        per_query = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
        return self.constant + float(np.dot(w, terms)) + per_query * float(w.sum())

    def gradient(self, a: float, b: float) -> np.ndarray:
        n, c, w = self.n, self.c, self.w
        common = float(digamma(a + b)[0]) * w.sum() - float(np.dot(w, digamma(n + a + b)))
        ga = float(np.dot(w, digamma(c + a))) - float(digamma(a)[0]) * w.sum() + common
        gb = float(np.dot(w, digamma(n - c + b))) - float(digamma(b)[0]) * w.sum() + common
        return np.array([ga, gb])

    def hessian(self, a: float, b: float) -> np.ndarray:
        n, c, w = self.n, self.c, self.w
        common = float(trigamma(a + b)[0]) * w.sum() - float(np.dot(w, trigamma(n + a + b)))
        haa = float(np.dot(w, trigamma(c + a))) - float(trigamma(a)[0]) * w.sum() + common
        hbb = float(np.dot(w, trigamma(n - c + b))) - float(trigamma(b)[0]) * w.sum() + common
        return np.array([[haa, common], [common, hbb]])


def _moments_start(n: np.ndarray, c: np.ndarray) -> tuple[float, float]:
    """alpha, beta of the method of moments, kept inside a sane box."""
    rates = c / n
    mean = float(np.clip(c.sum() / n.sum(), 0.02, 0.98))
    inv_n = float(np.mean(1.0 / n))
    ratio = float(np.var(rates)) / (mean * (1.0 - mean))
    # var(c/n) = m (1 - m) (1/n + (1 - 1/n) rho), rho = 1 / (alpha + beta + 1)
    rho = (ratio - inv_n) / (1.0 - inv_n) if inv_n < 1.0 else 0.5
    rho = min(max(rho, 0.02), 0.9)
    total = 1.0 / rho - 1.0
    return mean * total, (1.0 - mean) * total


def _maximise(counts: _Counts, start: tuple[float, float], source: str, field: str) -> tuple[float, float]:
    """Damped Newton on theta = (ln alpha, ln beta) (module docstring)."""
    theta = np.log(np.array(start))
    value = counts.log_likelihood(*np.exp(theta))
    damping = 1e-3
    scale = max(1.0, float(counts.w.sum()))
    for _ in range(500):
        a, b = np.exp(theta)
        if a + b > MAX_CONCENTRATION:
            raise SpecError(
                source, field, "the counts show no spread of difficulty between queries beyond sampling noise "
                f"(the likelihood grows as alpha + beta -> infinity, mean {a / (a + b):.4g}): every query is "
                "about equally hard, which the Beta difficulty cannot express",
            )
        if min(a, b) < MIN_PARAMETER:
            raise SpecError(source, field, f"the counts do not determine alpha and beta (alpha {a:.3g}, beta {b:.3g} run to 0)")
        g = counts.gradient(a, b)
        h = counts.hessian(a, b)
        jac = np.array([a, b])
        g_theta = g * jac
        h_theta = h * np.outer(jac, jac) + np.diag(g_theta)
        if np.max(np.abs(g_theta)) < 1e-10 * scale:
            return float(a), float(b)
        while True:
            step = _damped_step(h_theta, g_theta, damping)
            if step is not None:
                norm = float(np.max(np.abs(step)))
                if norm > 2.0:  # never jump more than a factor e^2 in one step
                    step *= 2.0 / norm
                candidate = theta + step
                new_value = counts.log_likelihood(*np.exp(candidate))
                if new_value >= value - 1e-12 * abs(value):
                    theta, value = candidate, new_value
                    damping = max(damping / 10.0, 1e-12)
                    break
            damping *= 10.0
            if damping > 1e12:
                a, b = np.exp(theta)
                return float(a), float(b)
        if norm < 1e-12:
            break
    a, b = np.exp(theta)
    return float(a), float(b)


def _damped_step(h: np.ndarray, g: np.ndarray, damping: float) -> np.ndarray | None:
    """Solve (-h + damping * scale I) step = g; None when that matrix is not positive definite."""
    matrix = -h + damping * max(1.0, float(np.max(np.abs(np.diag(h))))) * np.eye(2)
    try:
        np.linalg.cholesky(matrix)
    except np.linalg.LinAlgError:
        return None
    return np.linalg.solve(matrix, g)


def _pool(expected: np.ndarray) -> list[tuple[int, int]]:
    """Adjacent classes [lo, hi) merged left to right until each expects >= MIN_EXPECTED; a
    short remainder joins the last class."""
    bins: list[tuple[int, int]] = []
    lo, total = 0, 0.0
    for j, e in enumerate(expected):
        total += e
        if total >= MIN_EXPECTED:
            bins.append((lo, j + 1))
            lo, total = j + 1, 0.0
    if lo < expected.size:
        if bins:
            bins[-1] = (bins[-1][0], expected.size)
        else:
            bins.append((0, expected.size))
    return bins
