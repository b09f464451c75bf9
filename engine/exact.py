"""Exact expectations of the stochastic model (science.md section 2).

Used to test the Monte Carlo estimates and to place the fixed histogram bins of the
quantile sketch. Integrals use composite Gauss-Legendre quadrature (numpy only).
"""

from __future__ import annotations

import math

import numpy as np

from infscale.engine.accuracy import expected_correctness
from infscale.engine.specs import InputBilling, ModelSpec

_SQRT2 = math.sqrt(2.0)
_erf = np.frompyfunc(math.erf, 1, 1)
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(32)


def normal_cdf(z: np.ndarray | float) -> np.ndarray:
    """Standard normal cdf, elementwise."""
    return 0.5 * (1.0 + np.asarray(_erf(np.asarray(z, dtype=np.float64) / _SQRT2), dtype=np.float64))


def normal_pdf(z: np.ndarray | float) -> np.ndarray:
    z = np.asarray(z, dtype=np.float64)
    return np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)


def clipped_normal_mean(mu: float, sigma: float, lo: float, hi: float) -> float:
    """E[clip(X, lo, hi)] for X ~ N(mu, sigma), in closed form."""
    if sigma == 0.0:
        return float(min(max(mu, lo), hi))
    a, b = (lo - mu) / sigma, (hi - mu) / sigma
    pa, pb = float(normal_cdf(a)), float(normal_cdf(b))
    return float(lo * pa + hi * (1.0 - pb) + mu * (pb - pa) + sigma * (normal_pdf(a) - normal_pdf(b)))


def expected_input_tokens(model: ModelSpec) -> float:
    """E[L_in] with L_in = clip(N(mu_Lin, sigma_Lin), 1, 16 mu_Lin)."""
    return clipped_normal_mean(model.mu_Lin, model.sigma_Lin, 1.0, 16.0 * model.mu_Lin)


def expected_output_tokens(model: ModelSpec) -> float:
    """E[L_out] with L_out = clip(N(mu_Lout, sigma_Lout), 1, 16 L_in), integrated over L_in."""
    mu, s, hi = model.mu_Lin, model.sigma_Lin, 16.0 * model.mu_Lin

    def given(l_in: np.ndarray | float) -> np.ndarray:
        l_in = np.atleast_1d(np.asarray(l_in, dtype=np.float64))
        return np.array([clipped_normal_mean(model.mu_Lout, model.sigma_Lout, 1.0, 16.0 * x) for x in l_in])

    if s == 0.0:
        return float(given(min(max(mu, 1.0), hi))[0])
    # L_in has point masses at both clip bounds and a normal density between them.
    p_lo, p_hi = float(normal_cdf((1.0 - mu) / s)), 1.0 - float(normal_cdf((hi - mu) / s))
    a, b = max(1.0, mu - 12.0 * s), min(hi, mu + 12.0 * s)
    # Split where the cap 16 L_in crosses mu_Lout: the integrand has a kink there.
    kink = min(max(model.mu_Lout / 16.0, a), b)
    density = lambda x: given(x) * normal_pdf((x - mu) / s) / s  # noqa: E731
    inner = _integrate(density, a, kink, panels=16) + _integrate(density, kink, b, panels=16)
    return float(p_lo * given(1.0)[0] + p_hi * given(hi)[0] + inner)


def expected_cost(model: ModelSpec, k: int, billing: InputBilling | None = None) -> float:
    """E[C(k)] = k (c_in E[L_in] + c_out E[L_out]) when every prompt is billed; with
    `input_billing` once or cached (`billing` overrides the model's), inferences 2..k pay
    c' = 0 or c_in_cached per input token: c_in E[L_in] + (k - 1) c' E[L_in] + k c_out E[L_out]."""
    e_in = expected_input_tokens(model)
    later = model.input_price_after_first(billing)
    return model.c_in * e_in + (k - 1) * later * e_in + k * model.c_out * expected_output_tokens(model)


def expected_time(model: ModelSpec, k: int, parallelism: int) -> float:
    """E[T(k)] = k (t_fixed + t_in E[L_in] + t_out E[L_out]) / P."""
    per = model.t_in * expected_input_tokens(model) + model.t_out * expected_output_tokens(model)
    return k * (model.t_fixed + per) / parallelism


def expected_accuracy(model: ModelSpec, k: int) -> float:
    """E[A(k)] = integral_0^1 (1 - Phi((x - acc_mean)/acc_std)^k) dx (best of k clipped scores);
    for pass@k and majority voting, their exact means (engine.accuracy)."""
    if model.accuracy_model.is_correctness:
        return expected_correctness(model, k)
    if model.acc_std == 0.0:
        return float(min(max(model.acc_mean, 0.0), 1.0))

    def survival(x: np.ndarray) -> np.ndarray:
        return 1.0 - normal_cdf((x - model.acc_mean) / model.acc_std) ** k

    return _integrate(survival, 0.0, 1.0, panels=400)


def expected_accuracy_curve(model: ModelSpec, k: np.ndarray) -> np.ndarray:
    """`expected_accuracy` for every k at once: one quadrature grid, Phi evaluated once."""
    k = np.asarray(k, dtype=np.int64)
    if model.accuracy_model.is_correctness or model.acc_std == 0.0:
        return np.array([expected_accuracy(model, int(j)) for j in k])
    x, w = _nodes(0.0, 1.0, panels=400)
    log_phi = np.log(np.maximum(normal_cdf((x - model.acc_mean) / model.acc_std), 1e-300))
    # 1 - Phi^k, as -expm1(k log Phi): exact where Phi^k is near 1.
    return -np.expm1(k.astype(np.float64)[:, None] * log_phi[None, :]) @ w


def accuracy_quantile(model: ModelSpec, k: np.ndarray | int, q: float) -> np.ndarray:
    """The q-quantile of A(k) per k; its cdf is Phi((x - mean)/std)^k on [0, 1)."""
    k = np.atleast_1d(np.asarray(k, dtype=np.float64))
    if model.acc_std == 0.0:
        return np.full(k.shape, min(max(model.acc_mean, 0.0), 1.0))
    target = q ** (1.0 / k)  # Phi(z) = q^(1/k)
    lo, hi = np.full(k.shape, -40.0), np.full(k.shape, 40.0)
    for _ in range(64):  # vectorised bisection on z; Phi is monotone
        mid = 0.5 * (lo + hi)
        below = normal_cdf(mid) < target
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
    return np.clip(model.acc_mean + model.acc_std * hi, 0.0, 1.0)


def _integrate(f, a: float, b: float, panels: int) -> float:
    """Composite 32-point Gauss-Legendre quadrature of f on [a, b]."""
    if b <= a:
        return 0.0
    x, w = _nodes(a, b, panels)
    return float(np.dot(w, f(x)))


def _nodes(a: float, b: float, panels: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of composite 32-point Gauss-Legendre quadrature on [a, b]."""
    edges = np.linspace(a, b, panels + 1)
    half = 0.5 * np.diff(edges)
    mids = 0.5 * (edges[:-1] + edges[1:])
    x = (mids[:, None] + half[:, None] * _NODES[None, :]).ravel()
    w = (half[:, None] * _WEIGHTS[None, :]).ravel()
    return x, w
