"""Compiled passes of the simulation kernel: every per-inference operation that is not a draw.

numpy spends a full pass over memory on each operation (scale, shift, clip, products, prefix,
bin index, clip, truncate, count), and the kernel's chunk does not stay in cache between
them; these loops do each in one pass. Bit for bit they compute what the numpy operations of
engine.simulation did before them (pinned by tests/test_kernel_pin.py): the same IEEE
operations in the same order, each rounded on its own (numba contracts no multiply-add
without fastmath, which is never set here). Sums and centred squares per k stay numpy
reductions (their summation order is numpy's own), and so do the draws.

All arrays are C-contiguous float64 of shape (rows, trials) unless said; a row is an
inference (or a k of the grid), a column a trial.
"""

from __future__ import annotations

import numba
import numpy as np

_JIT = dict(nogil=True, cache=True, error_model="numpy", boundscheck=False)


def load() -> None:
    """Compile (or load from the cache) every pass for the argument types the kernel uses.

    A process that forks workers calls this first, so that its children inherit the compiled
    code instead of each paying for it (0.5-2 s) inside its first shard.
    """
    a, v, h = np.zeros((1, 1)), np.zeros(1), np.zeros((1, 2), dtype=np.int64)
    prefix_totals(a, a, (1.0,) * 11, a, a, v, v, True, 0)
    wave_prefix(a, 0, v, v, 1)
    prefix_best_scores(a, 0.5, 0.1, v)
    prefix_correct_counts(a, v, v)
    deviations_and_histogram(a, v, v, v, a, h)
    budget_counts(a, a, a, np.zeros((1, 3)), h[:, :1].copy())


@numba.njit(**_JIT)
def prefix_totals(z_in: np.ndarray, z_out: np.ndarray, model: tuple, cost: np.ndarray, time: np.ndarray,
                  carry_cost: np.ndarray, carry_time: np.ndarray, sum_time: bool, first_row: int) -> None:
    """Standard normals of token lengths -> total cost of the first i + 1 inferences, and their
    total time (`sum_time`, paper latency: times already divided by P) or, without
    `sum_time`, the time of inference i alone (for `wave_prefix`).

    `model` is (mu_Lin, sigma_Lin, 16 mu_Lin, mu_Lout, sigma_Lout, c_in, c_out, t_in, t_out,
    t_fixed, c_in_later); L_in = clip(z sigma + mu, 1, 16 mu_Lin), L_out = clip(z sigma + mu, 1,
    16 L_in) (science.md section 2); inference 0 (row `first_row` + i == 0) pays c_in per input
    token, later ones c_in_later (input billing); t_fixed is added to every inference's time
    (0.0 leaves it unchanged: times are >= 0). `carry_*` hold the totals before the chunk's first
    row and are advanced to its last.
    """
    mu_in, sd_in, in_hi, mu_out, sd_out, c_in, c_out, t_in, t_out, t_fixed, c_in_later = model
    rows, n = z_in.shape
    for i in range(rows):
        price_in = c_in if first_row + i == 0 else c_in_later
        for j in range(n):
            l_in = _clip(z_in[i, j] * sd_in + mu_in, 1.0, in_hi)
            l_out = _clip(z_out[i, j] * sd_out + mu_out, 1.0, 16.0 * l_in)
            c = l_in * price_in + l_out * c_out
            t = l_in * t_in + l_out * t_out + t_fixed
            c += carry_cost[j]
            cost[i, j] = c
            carry_cost[j] = c
            if sum_time:
                t += carry_time[j]
                carry_time[j] = t
            time[i, j] = t


@numba.njit(**_JIT)
def wave_prefix(time: np.ndarray, first_row: int, before: np.ndarray, finished: np.ndarray, parallelism: int) -> None:
    """Per-inference times -> total latency in waves, in place, for the rows of one chunk.

    Row i of `time` holds T_i of inference `first_row + i`; it becomes the total latency of
    the first `first_row + i + 1` inferences: the waves of `parallelism` inferences finished
    before its own (`finished`) plus the slowest inference of its wave so far. `before` is the
    total of the row before `first_row` (zeros at row 0); both carries are advanced to the
    chunk's last row. Rounding is monotone, so max(f + a, f + b) == f + max(a, b) exactly and
    the running maximum of a wave can be taken on totals. O(rows x trials).
    """
    rows, n = time.shape
    for i in range(rows):
        starts_wave = (first_row + i) % parallelism == 0
        for j in range(n):
            if starts_wave:
                finished[j] = before[j]
            t = time[i, j] + finished[j]
            if not starts_wave and before[j] > t:
                t = before[j]
            time[i, j] = t
            before[j] = t


@numba.njit(**_JIT)
def prefix_best_scores(z: np.ndarray, mean: float, sd: float, carry: np.ndarray) -> None:
    """Standard normals -> best-of-(i + 1) accuracy: running maximum of clip(z sd + mean, 0, 1)
    over rows, in place, starting from `carry` (advanced to the last row)."""
    rows, n = z.shape
    for i in range(rows):
        for j in range(n):
            x = _clip(z[i, j] * sd + mean, 0.0, 1.0)
            if carry[j] > x:
                x = carry[j]
            z[i, j] = x
            carry[j] = x


@numba.njit(**_JIT)
def prefix_correct_counts(u: np.ndarray, p: np.ndarray, carry: np.ndarray) -> None:
    """Uniforms -> correct answers among the first i + 1 inferences (inference correct when
    u < the trial's difficulty p), in place, starting from `carry` (advanced to the last row)."""
    rows, n = u.shape
    for i in range(rows):
        for j in range(n):
            x = (1.0 if u[i, j] < p[j] else 0.0) + carry[j]
            u[i, j] = x
            carry[j] = x


@numba.njit(**_JIT)
def deviations_and_histogram(x: np.ndarray, mean: np.ndarray, inv: np.ndarray, offset: np.ndarray,
                             dev: np.ndarray, hist: np.ndarray) -> None:
    """dev = x - mean per row, and each value counted into its row of `hist` (rows, n_bins).

    Bin = trunc(clip(dev * inv + offset, 0, n_bins - 1)), offset = (mean - lo) inv + 1: the
    interior bins are 1..n_bins - 2, 0 and the last are under- and overflow. Same bins as
    numpy's multiply, add, clip and cast to int would give, without their four passes.
    """
    rows, n = x.shape
    top = float(hist.shape[1] - 1)
    for i in range(rows):
        m, v, o = mean[i], inv[i], offset[i]
        for j in range(n):
            d = x[i, j] - m
            dev[i, j] = d
            t = d * v + o
            if not t >= 0.0:  # also NaN: an index must never leave the row
                t = 0.0
            if t > top:
                t = top
            hist[i, int(t)] += 1


@numba.njit(**_JIT)
def budget_counts(cost: np.ndarray, time: np.ndarray, acc: np.ndarray, budgets: np.ndarray, out: np.ndarray) -> None:
    """out[s, i]: trials of row i with cost <= budgets[s, 0], time <= [s, 1], accuracy >= [s, 2].

    Per row one pass finds each metric's range; a scenario whose budget that range settles for
    every trial (all meet it, or one metric meets it for none) is counted at once, and the
    trials are compared only for the rest. The same counts as comparing every trial (a row
    holding a NaN is compared trial by trial); many scenarios sharing a simulation then cost
    little more than one.
    """
    rows, n = cost.shape
    if n == 0:
        out[:, :] = 0
        return
    for i in range(rows):
        c_lo, c_hi, nan = _range(cost[i])
        t_lo, t_hi, nan_t = _range(time[i])
        a_lo, a_hi, nan_a = _range(acc[i])
        nan = nan or nan_t or nan_a
        for s in range(budgets.shape[0]):
            c_max, t_max, a_min = budgets[s, 0], budgets[s, 1], budgets[s, 2]
            if not nan:
                if c_lo > c_max or t_lo > t_max or a_hi < a_min:
                    out[s, i] = 0
                    continue
                if c_hi <= c_max and t_hi <= t_max and a_lo >= a_min:
                    out[s, i] = n
                    continue
            count = 0
            for j in range(n):
                count += (cost[i, j] <= c_max) & (time[i, j] <= t_max) & (acc[i, j] >= a_min)
            out[s, i] = count


@numba.njit(inline="always")
def _range(x: np.ndarray) -> tuple[float, float, bool]:
    """Smallest and largest value of a non-empty row, and whether it holds a NaN."""
    lo = hi = x[0]
    nan = False
    for v in x:
        if v < lo:
            lo = v
        if v > hi:
            hi = v
        nan |= v != v
    return lo, hi, nan


@numba.njit(inline="always")
def _clip(x: float, lo: float, hi: float) -> float:
    # numpy's clip for floats: min(max(x, lo), hi), NaN passing through.
    if x < lo:
        x = lo
    if x > hi:
        x = hi
    return x
