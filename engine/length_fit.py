"""Token lengths of an eval log as the catalog's normal parameters, with the data's quantiles.

mu is the mean length over samples and sigma their standard deviation (ddof 1); both carry
cluster-robust standard errors (samples of one query share its prompt; engine.regression):
se(sigma) = se(mean squared deviation) / (2 sigma), by the delta method. The simulation draws
clip(N(mu, sigma), 1, cap), so the fit also reports how far that law's mean and tails are from
the data's (a skewed length distribution is common; its quantiles are kept for the reader).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from infscale.engine.exact import clipped_normal_mean, normal_cdf
from infscale.engine.regression import clustered_mean

QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
SKEWNESS_WARNING = 1.0
"""|skewness| above this: the normal law misstates the tails."""
CLIP_WARNING = 0.01
"""The clipped normal's mean further than this (relative) from the data's mean: say so."""


@dataclass(frozen=True)
class LengthFit:
    """Normal parameters of one length column, their standard errors and the data's shape."""

    column: str
    mu: float
    mu_se: float
    sigma: float
    sigma_se: float
    quantiles: tuple[tuple[float, float], ...]  # (q, value)
    skewness: float
    samples: int
    simulated_mean: float  # E[clip(N(mu, sigma), 1, cap)]: what the simulation will average

    def warnings(self) -> list[str]:
        out = []
        if abs(self.skewness) > SKEWNESS_WARNING:
            p95 = dict(self.quantiles)[0.95]
            normal_p95 = self.mu + 1.6448536269514722 * self.sigma
            out.append(
                f"{self.column} are skewed (skewness {self.skewness:.2f}): the normal law misstates the tails "
                f"(data p95 {p95:.4g}, normal p95 {normal_p95:.4g})"
            )
        if abs(self.simulated_mean - self.mu) > CLIP_WARNING * self.mu:
            below = float(normal_cdf((1.0 - self.mu) / self.sigma)) if self.sigma > 0 else 0.0
            out.append(
                f"{self.column}: N({self.mu:.4g}, {self.sigma:.4g}) puts {below:.1%} below 1 token, where the "
                f"simulation clips it: its mean length is {self.simulated_mean:.4g}, the data's {self.mu:.4g}"
            )
        return out


def fit_lengths(column: str, values: np.ndarray, clusters: np.ndarray, cap_in_means: float | None = None) -> LengthFit:
    """The fit of one length column (values >= 0, at least 2, NaN-free), clustered by query;
    the simulation clips it from above at `cap_in_means` times mu (16 for input lengths; output
    lengths are capped at 16 L_in, ignored here)."""
    values = np.asarray(values, dtype=np.float64)
    mu, mu_se = clustered_mean(values, clusters)
    deviations = (values - mu) ** 2
    variance = float(deviations.sum() / (values.size - 1))
    _, variance_se = clustered_mean(deviations, clusters)
    sigma = math.sqrt(variance)
    sigma_se = variance_se * values.size / (values.size - 1) / (2.0 * sigma) if sigma > 0 else 0.0
    centred = values - values.mean()
    m2 = float(np.mean(centred**2))
    skewness = float(np.mean(centred**3)) / m2**1.5 if m2 > 0 else 0.0
    return LengthFit(
        column=column,
        mu=mu,
        mu_se=mu_se,
        sigma=sigma,
        sigma_se=sigma_se,
        quantiles=tuple((q, float(v)) for q, v in zip(QUANTILES, np.quantile(values, QUANTILES))),
        skewness=skewness,
        samples=int(values.size),
        simulated_mean=clipped_normal_mean(
            mu, sigma, 1.0, mu + 40.0 * sigma + 1.0 if cap_in_means is None else max(cap_in_means * mu, 1.0)
        ),
    )
