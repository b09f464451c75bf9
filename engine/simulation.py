"""One-pass Monte Carlo with common random numbers (science.md section 4, "Ours").

Each trial draws k_max inferences once; prefix sums give total cost and time and prefix
maxima give best-of-k accuracy for every k at the same time, so curves are monotone in k
by construction. With the `waves` latency model, total time is a prefix too: the waves
finished so far plus the running maximum of the current wave (`wave_prefix`). With a
correctness accuracy model (pass@k, majority vote; engine.accuracy), the prefix is the count
of correct answers, turned into A(k) for the k of the grid. Work is O(trials x k_max) and
memory is bounded by one block of BLOCK_TRIALS trials times ROW_CHUNK inferences, whatever
the trial count.

Random streams: for variable v (0 input length, 1 output length, 2 accuracy score, or the
uniform deciding whether an inference is correct, 3 the query difficulty p of a correctness
model, one per trial) of block b, `SeedSequence(seed, spawn_key=(model_stream_key(model), b,
v))`. Draws are laid out inference-major, so the first k inferences of a trial do not depend
on k_max or on which shard, worker or order computed the block.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from infscale.engine.plan import N_BINS, N_METRICS, BlockPlan, SimulationGroup, model_stream_key
from infscale.engine.accuracy import accuracy_of_counts
from infscale.engine.specs import Latency
from infscale.engine.statistics import Bins, Partial, block_statistics, merge

ROW_CHUNK = 64
"""Inferences processed at a time inside a block: keeps the working set in cache."""


def simulate_blocks(
    group: SimulationGroup, seed: int, plan: BlockPlan, blocks: Iterable[int], bins: Bins
) -> Partial:
    """Partial statistics of the given blocks of a group (standard mode).

    All blocks add into one histogram, so memory is one histogram plus O(K) per block.
    """
    hist = _empty_hist(group)
    parts = [simulate_block(group, seed, plan, b, bins, hist) for b in blocks]
    if not parts:
        return merge(parts)
    order = np.argsort([int(p.blocks[0]) for p in parts], kind="stable")
    return Partial(
        blocks=np.concatenate([parts[i].blocks for i in order]),
        trials=np.concatenate([parts[i].trials for i in order]),
        sums=np.concatenate([parts[i].sums for i in order]),
        m2=np.concatenate([parts[i].m2 for i in order]),
        feasible=np.concatenate([parts[i].feasible for i in order]),
        hist=hist,
    )


def block_streams(model_key: str, seed: int, block: int) -> list[np.random.Generator]:
    """The three independent generators of one block (input length, output length, accuracy)."""
    return [_stream(model_key, seed, block, v) for v in range(3)]


def difficulty_stream(model_key: str, seed: int, block: int) -> np.random.Generator:
    """The generator of one block's query difficulties p ~ Beta(alpha, beta), one per trial."""
    return _stream(model_key, seed, block, 3)


def simulate_block(
    group: SimulationGroup, seed: int, plan: BlockPlan, block: int, bins: Bins, hist: np.ndarray | None = None
) -> Partial:
    """Statistics of one block: O(block_trials x k_max) time, O(block_trials x ROW_CHUNK) memory.

    Histogram counts are added into `hist` when given (shared by a shard's blocks).
    """
    model, n = group.model, plan.block_size(block)
    g_in, g_out, g_acc = block_streams(model.key, seed, block)
    grid_rows = group.grid() - 1
    n_grid, n_scen = grid_rows.size, len(group.scenarios)
    sums = np.empty((1, N_METRICS, n_grid))
    m2 = np.empty((1, N_METRICS, n_grid))
    feasible = np.empty((1, n_scen, n_grid), dtype=np.int64)
    if hist is None:
        hist = _empty_hist(group)
    budgets = [(s.max_total_cost, s.max_total_time, s.min_accuracy) for s in group.scenarios]
    waves = group.latency is Latency.WAVES
    # Paper latency: time per token divided by P up front, T(k) = sum_i T_i / P.
    t_in, t_out = (model.t_in, model.t_out) if waves else (model.t_in / group.parallelism, model.t_out / group.parallelism)
    in_hi = 16.0 * model.mu_Lin

    carry_cost = np.zeros(n)
    carry_time = np.zeros(n)
    carry_waves = np.zeros(n)  # waves latency: total of the waves finished before the current one
    correctness = model.accuracy_model.is_correctness
    if correctness:
        # Accuracy rows hold prefix counts of correct answers: the prefix is a sum.
        p = difficulty_stream(model.key, seed, block).beta(model.alpha, model.beta, size=n)
        acc_prefix, carry_acc = np.add, np.zeros(n)
    else:
        acc_prefix, carry_acc = np.maximum, np.full(n, -np.inf)
    for r0 in range(0, group.k_max, ROW_CHUNK):
        r1 = min(r0 + ROW_CHUNK, group.k_max)
        shape = (r1 - r0, n)
        l_in = g_in.standard_normal(shape)
        l_in *= model.sigma_Lin
        l_in += model.mu_Lin
        np.clip(l_in, 1.0, in_hi, out=l_in)
        l_out = g_out.standard_normal(shape)
        l_out *= model.sigma_Lout
        l_out += model.mu_Lout
        np.maximum(l_out, 1.0, out=l_out)
        np.minimum(l_out, 16.0 * l_in, out=l_out)
        if correctness:
            acc = (g_acc.random(shape) < p).astype(np.float64)
        else:
            acc = g_acc.standard_normal(shape)
            acc *= model.acc_std
            acc += model.acc_mean
            np.clip(acc, 0.0, 1.0, out=acc)

        cost = l_in * model.c_in
        cost += l_out * model.c_out
        time = l_in * t_in
        time += l_out * t_out
        # Prefix sums and maxima over inferences, row by row: each row is one vectorised
        # operation over the block's trials (numpy's axis-0 accumulate is strided and 5x slower).
        cost[0] += carry_cost
        acc_prefix(acc[0], carry_acc, out=acc[0])
        if waves:
            for i in range(1, shape[0]):
                cost[i] += cost[i - 1]
                acc_prefix(acc[i], acc[i - 1], out=acc[i])
            carry_time, carry_waves = wave_prefix(time, r0, carry_time, carry_waves, group.parallelism)
        else:
            time[0] += carry_time
            for i in range(1, shape[0]):
                cost[i] += cost[i - 1]
                time[i] += time[i - 1]
                acc_prefix(acc[i], acc[i - 1], out=acc[i])
            carry_time = time[-1]
        carry_cost, carry_acc = cost[-1], acc[-1]

        j0, j1 = np.searchsorted(grid_rows, [r0, r1])
        if j0 == j1:
            continue
        local = grid_rows[j0:j1] - r0
        values = (cost, time, acc) if local.size == shape[0] else (cost[local], time[local], acc[local])
        if correctness:
            values = (values[0], values[1], accuracy_of_counts(model.accuracy_model, values[2], local + r0 + 1))
        cols = slice(j0, j1)
        sums[0, :, cols], m2[0, :, cols] = block_statistics(values, bins, cols, hist)
        for s, (c_max, t_max, a_min) in enumerate(budgets):
            ok = values[0] <= c_max
            ok &= values[1] <= t_max
            ok &= values[2] >= a_min
            feasible[0, s, cols] = np.count_nonzero(ok, axis=1)

    return Partial(
        blocks=np.array([block], dtype=np.int64),
        trials=np.array([n], dtype=np.int64),
        sums=sums,
        m2=m2,
        feasible=feasible,
        hist=hist,
    )


def wave_prefix(
    time: np.ndarray, first_row: int, before: np.ndarray, finished: np.ndarray, parallelism: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per-inference times -> total latency in waves, in place, for rows of one chunk.

    Row i of `time` (shape (rows, trials)) holds T_i of inference `first_row + i`; it becomes the
    total latency of the first `first_row + i + 1` inferences: the waves of `parallelism`
    inferences finished before it (`finished`) plus the slowest inference of its own wave so far.
    `before` is the total of the row before `first_row` (zeros at row 0). Because rounding is
    monotone, max(finished + a, finished + b) == finished + max(a, b) exactly, so the running
    maximum of a wave can be taken on totals. O(rows x trials). Returns the (before, finished)
    carries for the next chunk.
    """
    for i in range(time.shape[0]):
        if (first_row + i) % parallelism == 0:  # the first inference of a new wave
            finished = before
            time[i] += finished
        else:
            time[i] += finished
            np.maximum(time[i], before, out=time[i])
        before = time[i]
    return before, finished


def _stream(model_key: str, seed: int, block: int, variable: int) -> np.random.Generator:
    spawn_key = (model_stream_key(model_key), block, variable)
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=spawn_key)))


def _empty_hist(group: SimulationGroup) -> np.ndarray:
    return np.zeros((N_METRICS, group.grid().size, N_BINS + 2), dtype=np.int64)
