"""Exact mean latency in waves (science.md section 6): E[T(k)] for `latency: waves`.

k inferences run in ceil(k/P) waves, each as slow as its slowest member, so
E[T(k)] = floor(k/P) E[max of P] + [k mod P > 0] E[max of (k mod P)], where the maximum is over
iid per-inference times T_i = t_in L_in + t_out L_out. For T >= 0, E[max of n] =
integral_0^inf (1 - F(t)^n) dt with F the cdf of T_i:
F(t) = E over L_in of P(L_out <= (t - t_in L_in) / t_out | L_in), L_out = clip(N, 1, 16 L_in),
L_in = clip(N, 1, 16 mu_Lin) with its point masses at both bounds. Both integrals are composite
Gauss-Legendre quadrature (numpy only): O(nodes_t x nodes_in) once per model.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from infscale.engine.exact import _nodes, normal_cdf, normal_pdf
from infscale.engine.specs import ModelSpec


def expected_wave_time(model: ModelSpec, k: np.ndarray, parallelism: int) -> np.ndarray:
    """E[T(k)] in waves for each k of `k` (int array)."""
    k = np.asarray(k, dtype=np.int64)
    full, rest = k // parallelism, k % parallelism
    sizes = np.unique(np.concatenate(([parallelism], rest[rest > 0])))
    by_size = dict(zip(sizes.tolist(), expected_max_time(model, sizes).tolist()))
    rest_mean = np.array([by_size.get(int(r), 0.0) for r in rest])
    return full * by_size[parallelism] + rest_mean


def expected_max_time(model: ModelSpec, n: np.ndarray) -> np.ndarray:
    """E[max of n iid per-inference times] for each n of `n`."""
    l_in, w_in = _input_law(model)
    top_in = float(l_in.max())
    top = model.t_in * top_in + model.t_out * min(16.0 * top_in, model.mu_Lout + 12.0 * model.sigma_Lout)
    if top <= 0.0:
        return np.zeros(len(n))
    t, w_t = _nodes(0.0, top, panels=96)
    cdf = _time_cdf(model, t, l_in, w_in)
    survival = -np.expm1(np.asarray(n, dtype=np.float64)[:, None] * np.log(np.maximum(cdf, 1e-300))[None, :])
    return survival @ w_t


def _input_law(model: ModelSpec) -> tuple[np.ndarray, np.ndarray]:
    """Support points and probability weights of L_in (quadrature nodes plus the clip masses)."""
    mu, s, hi = model.mu_Lin, model.sigma_Lin, 16.0 * model.mu_Lin
    if s == 0.0:
        return np.array([min(max(mu, 1.0), hi)]), np.array([1.0])
    p_lo, p_hi = float(normal_cdf((1.0 - mu) / s)), 1.0 - float(normal_cdf((hi - mu) / s))
    a, b = max(1.0, mu - 12.0 * s), min(hi, mu + 12.0 * s)
    x, w = _nodes(a, b, panels=16)
    w = w * normal_pdf((x - mu) / s) / s
    return np.concatenate(([1.0, hi], x)), np.concatenate(([p_lo, p_hi], w))


def _time_cdf(model: ModelSpec, t: np.ndarray, l_in: np.ndarray, w_in: np.ndarray) -> np.ndarray:
    """P(t_in L_in + t_out L_out <= t) for each t, summed over the law of L_in."""
    rest = t[:, None] - model.t_in * l_in[None, :]  # what is left for the output tokens
    if model.t_out == 0.0:
        given = (rest >= 0.0).astype(np.float64)
    else:
        y = rest / model.t_out  # L_out <= y
        cap = 16.0 * l_in[None, :]
        if model.sigma_Lout == 0.0:
            inner = np.zeros_like(y)  # replaced below: L_out is the constant clip(mu_Lout, 1, 16 L_in)
        else:
            inner = _fast_normal_cdf((y - model.mu_Lout) / model.sigma_Lout)
        given = np.where(y < 1.0, 0.0, np.where(y >= cap, 1.0, inner))
        if model.sigma_Lout == 0.0:
            given = np.where(y >= np.minimum(np.maximum(model.mu_Lout, 1.0), cap), 1.0, 0.0)
    return np.clip(given @ w_in, 0.0, 1.0)


def _fast_normal_cdf(z: np.ndarray) -> np.ndarray:
    """Phi by linear interpolation in a table of step 2.5e-4 (error below 1e-8): the cdf is
    needed on a (time x input length) grid of about a million points."""
    grid, phi = _phi_table()
    return np.interp(z, grid, phi)


@lru_cache(maxsize=1)
def _phi_table() -> tuple[np.ndarray, np.ndarray]:
    grid = np.linspace(-12.0, 12.0, 96001)
    return grid, normal_cdf(grid)
