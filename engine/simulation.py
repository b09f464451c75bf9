"""One-pass Monte Carlo with common random numbers (science.md section 4, "Ours").

Each trial draws k_max inferences once; prefix sums give total cost and time and prefix
maxima give best-of-k accuracy for every k at the same time, so curves are monotone in k
by construction. With the `waves` latency model, total time is a prefix too: the waves
finished so far plus the running maximum of the current wave (`fused.wave_prefix`). With a
correctness accuracy model (pass@k, majority vote; engine.accuracy), the prefix is the count
of correct answers, turned into A(k) for the k of the grid. Work is O(trials x k_max) and
memory is bounded by one block of BLOCK_TRIALS trials times ROW_CHUNK inferences, whatever
the trial count. numpy draws the normals (the bound on speed); everything else per inference
is one compiled pass per chunk (engine.fused), bit for bit what numpy's operations computed.

The empirical model (engine.empirical) takes the same path: each trial's query is drawn once
and each inference a sample of it, whose lengths (`lengths: empirical`) and score
(`accuracy_model: empirical`) replace the normal draws; prefix sums and maxima are numpy's.

Random streams: for variable v (0 input length, 1 output length, 2 accuracy score, or the
uniform deciding whether an inference is correct, 3 the query difficulty p of a correctness
model, one per trial, 4 the empirical model's query, one per trial, 5 the uniform choosing
its sample per inference) of block b, `SeedSequence(seed, spawn_key=(model_stream_key(model),
b, v))`. Draws are laid out inference-major, so the first k inferences of a trial do not
depend on k_max or on which shard, worker or order computed the block. A variable's stream
is drawn from only when the model uses it, so models without data draw what they always did.
"""

from __future__ import annotations

from typing import Iterable, Iterator

import numpy as np

from infscale.engine.plan import N_BINS, N_METRICS, ROW_CHUNK, BlockPlan, SimulationGroup, model_stream_key
from infscale.engine.accuracy import accuracy_of_counts
from infscale.engine.empirical import Sampler
from infscale.engine.specs import AccuracyModel, Latency, Lengths
from infscale.engine.statistics import Bins, Partial, block_statistics, budget_array, budget_counts, merge

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
    grid_rows = group.grid() - 1
    n_grid = grid_rows.size
    sums = np.empty((1, N_METRICS, n_grid))
    m2 = np.empty((1, N_METRICS, n_grid))
    feasible = np.empty((1, len(group.scenarios), n_grid), dtype=np.int64)
    if hist is None:
        hist = _empty_hist(group)
    budgets = budget_array(group.scenarios)
    correctness = model.accuracy_model.is_correctness
    for r0, r1, cost, time, acc in _chunks(group, seed, block, n):
        j0, j1 = np.searchsorted(grid_rows, [r0, r1])
        if j0 == j1:
            continue
        local = grid_rows[j0:j1] - r0
        values = (cost, time, acc) if local.size == r1 - r0 else (cost[local], time[local], acc[local])
        if correctness:
            values = (values[0], values[1], accuracy_of_counts(model.accuracy_model, values[2], local + r0 + 1))
        cols = slice(j0, j1)
        sums[0, :, cols], m2[0, :, cols] = block_statistics(values, bins, cols, hist)
        feasible[0, :, cols] = budget_counts(values, budgets)

    return Partial(
        blocks=np.array([block], dtype=np.int64),
        trials=np.array([n], dtype=np.int64),
        sums=sums,
        m2=m2,
        feasible=feasible,
        hist=hist,
    )


def _chunks(group: SimulationGroup, seed: int, block: int, n: int) -> Iterator[tuple[int, int, np.ndarray, np.ndarray, np.ndarray]]:
    """Rows [r0, r1) of one block's prefix totals, ROW_CHUNK inferences at a time: (r0, r1,
    total cost, total time, best accuracy or correct count) of the first r0 + 1 .. r1
    inferences of each trial (columns). The draws are turned into prefix totals in place, in
    buffers allocated once per block and reused by the next chunk."""
    from infscale.engine import fused  # here, not above: only simulating pays numba's start-up (~0.5 s)
    model = group.model
    g_in, g_out, g_acc = block_streams(model.key, seed, block)
    waves = group.latency is Latency.WAVES
    # Paper latency: time per token divided by P up front, T(k) = sum_i T_i / P.
    t_in, t_out = (model.t_in, model.t_out) if waves else (model.t_in / group.parallelism, model.t_out / group.parallelism)
    t_fixed = model.t_fixed if waves else model.t_fixed / group.parallelism
    # Input billing: inference 1 pays c_in per input token, inferences 2..k c_in_later (c_in
    # when every prompt is billed, so the old path is taken bit for bit).
    per_inference = (
        model.mu_Lin, model.sigma_Lin, 16.0 * model.mu_Lin, model.mu_Lout, model.sigma_Lout,
        model.c_in, model.c_out, t_in, t_out, t_fixed, model.input_price_after_first(group.billing),
    )

    rows = min(ROW_CHUNK, group.k_max)
    draws = np.empty((3, rows, n))  # input length, output length, accuracy, inference-major
    totals = np.empty((2, rows, n))  # total cost and total time of the first i + 1 inferences
    carry_cost, carry_time = np.zeros(n), np.zeros(n)  # totals before the chunk's first row
    finished = np.zeros(n)  # waves latency: total of the waves finished before the current one
    correctness = model.accuracy_model.is_correctness
    if correctness:
        # Accuracy rows hold prefix counts of correct answers: the prefix is a sum.
        p = difficulty_stream(model.key, seed, block).beta(model.alpha, model.beta, size=n)
        carry_acc = np.zeros(n)
    else:
        carry_acc = np.full(n, -np.inf)
    # The empirical model: each trial's query, then a sample of it per inference (variables 4, 5).
    sampler = Sampler(model, group.billing, group.parallelism, waves, _stream(model.key, seed, block, 4),
                      _stream(model.key, seed, block, 5), n) if model.is_empirical else None
    index = np.empty((rows, n), dtype=np.int64)
    for r0 in range(0, group.k_max, ROW_CHUNK):
        r1 = min(r0 + ROW_CHUNK, group.k_max)
        m = r1 - r0
        l_in, l_out, acc = draws[0, :m], draws[1, :m], draws[2, :m]
        cost, time = totals[0, :m], totals[1, :m]
        if sampler is not None:
            sampler.draw(index[:m], l_in)
        if model.lengths is Lengths.EMPIRICAL:
            sampler.prefix_totals(index[:m], r0, cost, time, carry_cost, carry_time, l_in)
        else:
            g_in.standard_normal(out=l_in)
            g_out.standard_normal(out=l_out)
            fused.prefix_totals(l_in, l_out, per_inference, cost, time, carry_cost, carry_time, not waves, r0)
        if waves:
            fused.wave_prefix(time, r0, carry_time, finished, group.parallelism)
        if model.accuracy_model is AccuracyModel.EMPIRICAL:
            sampler.prefix_best_scores(index[:m], acc, carry_acc)
        elif correctness:
            g_acc.random(out=acc)
            fused.prefix_correct_counts(acc, p, carry_acc)
        else:
            g_acc.standard_normal(out=acc)
            fused.prefix_best_scores(acc, model.acc_mean, model.acc_std, carry_acc)
        yield r0, r1, cost, time, acc


def _stream(model_key: str, seed: int, block: int, variable: int) -> np.random.Generator:
    spawn_key = (model_stream_key(model_key), block, variable)
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=spawn_key)))


def _empty_hist(group: SimulationGroup) -> np.ndarray:
    return np.zeros((N_METRICS, group.grid().size, N_BINS + 2), dtype=np.int64)
