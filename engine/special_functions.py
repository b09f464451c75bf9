"""Special functions the fits need, in numpy only: log-gamma, digamma, trigamma and the
chi-square survival function.

digamma and trigamma shift the argument above 10 with their recurrences and then sum their
asymptotic series (absolute error below 1e-13 for x > 0). The chi-square survival function is
the regularised upper incomplete gamma function Q(df/2, x/2), by its power series below
a + 1 and by its continued fraction (modified Lentz) above, to about 1e-14 relative.
"""

from __future__ import annotations

import math

import numpy as np

_lgamma = np.frompyfunc(math.lgamma, 1, 1)
_SHIFT_TO = 10.0
# Asymptotic series coefficients (Bernoulli numbers B_2k / 2k and B_2k) of digamma and trigamma.
_DIGAMMA_SERIES = (1.0 / 12, -1.0 / 120, 1.0 / 252, -1.0 / 240, 1.0 / 132, -691.0 / 32760)
_TRIGAMMA_SERIES = (1.0 / 6, -1.0 / 30, 1.0 / 42, -1.0 / 30, 5.0 / 66, -691.0 / 2730)


def log_gamma(x: np.ndarray | float) -> np.ndarray:
    """ln Gamma(x) elementwise, x > 0."""
    return np.asarray(_lgamma(np.asarray(x, dtype=np.float64)), dtype=np.float64)


def digamma(x: np.ndarray | float) -> np.ndarray:
    """psi(x) = d/dx ln Gamma(x) elementwise, x > 0."""
    x = np.array(x, dtype=np.float64, ndmin=1)
    out = np.zeros_like(x)
    # psi(x) = psi(x + 1) - 1/x: shift every argument above _SHIFT_TO.
    while True:
        low = x < _SHIFT_TO
        if not low.any():
            break
        out[low] -= 1.0 / x[low]
        x = np.where(low, x + 1.0, x)
    inv2 = 1.0 / (x * x)
    series = np.zeros_like(x)
    for c in reversed(_DIGAMMA_SERIES):
        series = (series + c) * inv2
    return out + np.log(x) - 0.5 / x - series


def trigamma(x: np.ndarray | float) -> np.ndarray:
    """psi'(x) elementwise, x > 0."""
    x = np.array(x, dtype=np.float64, ndmin=1)
    out = np.zeros_like(x)
    while True:  # psi'(x) = psi'(x + 1) + 1/x^2
        low = x < _SHIFT_TO
        if not low.any():
            break
        out[low] += 1.0 / (x[low] * x[low])
        x = np.where(low, x + 1.0, x)
    inv2 = 1.0 / (x * x)
    series = np.zeros_like(x)
    for c in reversed(_TRIGAMMA_SERIES):
        series = (series + c) * inv2
    return out + 1.0 / x + 0.5 * inv2 + series / x


def chi2_sf(x: float, df: float) -> float:
    """P(X > x) for X ~ chi-square with df degrees of freedom (df > 0)."""
    if df <= 0:
        raise ValueError(f"degrees of freedom must be > 0, got {df}")
    if x <= 0.0:
        return 1.0
    return _upper_regularised_gamma(0.5 * df, 0.5 * x)


def _upper_regularised_gamma(a: float, x: float) -> float:
    log_prefix = a * math.log(x) - x - math.lgamma(a)
    if x < a + 1.0:
        # P(a, x) = x^a e^-x / Gamma(a + 1) * sum_n x^n / ((a+1)...(a+n))
        term = total = 1.0 / a
        n = a
        for _ in range(10_000):
            n += 1.0
            term *= x / n
            total += term
            if abs(term) < abs(total) * 1e-16:
                break
        return max(0.0, 1.0 - math.exp(log_prefix) * total)
    # Q(a, x) = x^a e^-x / Gamma(a) * 1 / (x + 1 - a - 1(1-a)/(x + 3 - a - ...)), modified Lentz.
    tiny = 1e-300
    b = x + 1.0 - a
    c = 1.0 / tiny
    d = 1.0 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-16:
            break
    return math.exp(log_prefix) * h
