"""The reference notebook's algorithm, exactly (science.md section 4, `legacy` mode).

For each k of the grid a fresh `default_rng(seed + k)`, then per trial in order: input
lengths, output lengths, accuracy scores, each of size k. O(trials x sum of grid k) work and a
Python loop per trial: kept for reproducing the paper's figures, not for speed.
"""

from __future__ import annotations

import numpy as np

from infscale.engine.plan import N_BINS, N_METRICS, SimulationGroup
from infscale.engine.specs import ModelSpec
from infscale.engine.statistics import Bins, Partial, block_statistics, budget_array, budget_counts


def legacy_trials(model: ModelSpec, k: int, parallelism: int, trials: int, seed: int) -> np.ndarray:
    """Per-trial (total cost, total time, accuracy) for one k, shape (3, trials)."""
    rng = np.random.default_rng(seed + k)
    out = np.empty((N_METRICS, trials))
    for i in range(trials):
        l_in = np.clip(rng.normal(model.mu_Lin, model.sigma_Lin, size=k), 1, 16 * model.mu_Lin)
        l_out = np.clip(rng.normal(model.mu_Lout, model.sigma_Lout, size=k), 1, 16 * l_in)
        acc = np.clip(rng.normal(model.acc_mean, model.acc_std, size=k), 0, 1)
        cost_i = model.c_in * l_in + model.c_out * l_out
        time_i = model.t_in * l_in + model.t_out * l_out
        out[0, i] = np.sum(cost_i)
        out[1, i] = (k / parallelism) * np.mean(time_i) if parallelism > 1 else np.sum(time_i)
        out[2, i] = np.max(acc)
    return out


def simulate_legacy(group: SimulationGroup, seed: int, trials: int, bins: Bins) -> Partial:
    """All trials of a group in legacy mode as one block (block 0)."""
    grid = group.grid()
    n_grid = grid.size
    sums = np.empty((1, N_METRICS, n_grid))
    m2 = np.empty((1, N_METRICS, n_grid))
    feasible = np.empty((1, len(group.scenarios), n_grid), dtype=np.int64)
    hist = np.zeros((N_METRICS, n_grid, N_BINS + 2), dtype=np.int64)
    budgets = budget_array(group.scenarios)
    for j, k in enumerate(grid):
        values = legacy_trials(group.model, int(k), group.parallelism, trials, seed)
        rows = slice(j, j + 1)
        sums[0, :, rows], m2[0, :, rows] = block_statistics([v[None, :] for v in values], bins, rows, hist)
        feasible[0, :, j] = budget_counts([v[None, :] for v in values], budgets)[:, 0]
    return Partial(
        blocks=np.zeros(1, dtype=np.int64), trials=np.array([trials], dtype=np.int64),
        sums=sums, m2=m2, feasible=feasible, hist=hist,
    )
