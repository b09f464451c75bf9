"""The empirical model: simulate from an eval log itself (catalog keys `lengths: empirical`,
`accuracy_model: empirical`, `data: FILE`; the samples are engine.empirical_data's).

A trial is one query drawn uniformly from the log's queries; each of its k inferences is one
of that query's samples, drawn uniformly with replacement, whole: its token lengths, its score
(0/1 for wrong/correct) and its latency stay together, so their correlation within a sample
and within a query is kept. Best-of-k accuracy is the largest score among the k samples: for
0/1 correctness that is pass@k (some sample is correct, as `pass_at_k` counts it), for scores
the best of k, as the Gaussian model takes the best of k scores. With `lengths: empirical` an
inference costs c_in L_in + c_out L_out (inferences 2..k pay the input billing's price) and
takes its sample's latency_s, or t_fixed + t_in L_in + t_out L_out when the log has none;
k of them add up as the scenario's latency model says (sum / P, or waves). Either key alone
takes only that part from the data, the other from the normal or Beta model.

Exact means over the data, with a uniform query and iid samples of it: E[A(k)] = mean over
queries of E[max of k draws of its scores] (for 0/1 scores 1 - (1 - p_q)^k, p_q the query's
share correct); E[C(k)] = E[C_first] + (k - 1) E[C_later]; E[T(k)] = k E[T_i] / P (paper), or
floor(k/P) E[max of P] + E[max of k mod P] (waves, the max over one query's samples). For a
query with sorted values v_1 <= ... <= v_c, E[max of n] = v_1 + sum_j (v_(j+1) - v_j)(1 - (j/c)^n):
O(samples) per n, or per distinct (j, c) once the steps are summed by them.
"""

from __future__ import annotations

import math

import numpy as np

from infscale.engine.empirical_data import EmpiricalData
from infscale.engine.specs import InputBilling, Latency, Lengths, ModelSpec

HOEFFDING = math.sqrt(math.log(2e9) / 2.0)
"""A sum of k draws from values in a range of width r lies further than HOEFFDING sqrt(k) r
from its mean with probability below 1e-9 (Hoeffding's inequality): the histogram's margin."""


def inference_costs(model: ModelSpec, billing: InputBilling | None = None) -> tuple[np.ndarray, np.ndarray]:
    """$ of each sample as the first inference of a trial and as a later one (input billing)."""
    data, out = model.data, model.c_out * model.data.output_tokens
    first = model.c_in * data.input_tokens + out
    later = model.input_price_after_first(billing) * data.input_tokens + out
    return first, later


def inference_times(model: ModelSpec) -> np.ndarray:
    """Seconds of each sample as one inference: its latency_s, else t_fixed + t_in L_in + t_out L_out."""
    data = model.data
    if model.times_from_data:
        return data.latency_s
    return model.t_in * data.input_tokens + model.t_out * data.output_tokens + model.t_fixed


def expected_accuracy(data: EmpiricalData, k: np.ndarray) -> np.ndarray:
    """E[A(k)], the best score of k samples of a uniform query, for each k of `k`."""
    return expected_max(data, data.score, k)


def expected_cost_time(
    model: ModelSpec, latency: Latency, parallelism: int, k: np.ndarray, billing: InputBilling | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """E[C(k)] and E[T(k)] of `lengths: empirical` for each k of `k` (module docstring)."""
    data, kf = model.data, np.asarray(k, dtype=np.float64)
    first, later = inference_costs(model, billing)
    cost = data.mean_over_queries(first) + (kf - 1.0) * data.mean_over_queries(later)
    times = inference_times(model)
    if latency is Latency.WAVES:
        k = np.asarray(k, dtype=np.int64)
        full, rest = k // parallelism, k % parallelism
        return cost, full * expected_max(data, times, [parallelism])[0] + expected_max(data, times, rest)
    return cost, kf * data.mean_over_queries(times) / parallelism


def expected_max(data: EmpiricalData, values: np.ndarray, n: np.ndarray) -> np.ndarray:
    """E[max of n draws, with replacement, of one uniform query's `values`] for each n of `n`
    (module docstring; 0 for n = 0). The steps v_(j+1) - v_j are summed per distinct (j, c)
    first, so the work is O(samples + len(n) x distinct (j, c)): a few per n for a log with the
    same number of samples per query."""
    query = np.repeat(np.arange(data.n_queries), data.counts)
    order = np.lexsort((values, query))
    v, count = values[order], data.counts[query]
    rank = np.arange(v.size) - data.starts[query] + 1  # j: the position within the query, from 1
    step = np.where(rank == count, 0.0, np.diff(v, append=0.0))  # v_(j+1) - v_j within the query
    pairs, where = np.unique(count * (int(count.max()) + 1) + rank, return_inverse=True)
    steps = np.bincount(where.ravel(), weights=step) / data.n_queries
    pair_count = pairs // (int(count.max()) + 1)
    log_share = np.log((pairs - pair_count * (int(count.max()) + 1)) / pair_count)  # log(j / c)
    lowest = float(np.mean(v[rank == 1]))
    n = np.asarray(n, dtype=np.float64)
    out = np.zeros(n.size)
    for chunk in _chunks(n.size, log_share.size):
        # 1 - (j/c)^m as -expm1(m log(j/c)): exact where (j/c)^m is near 1.
        out[chunk] = lowest + -np.expm1(n[chunk, None] * log_share[None, :]) @ steps
    out[n == 0] = 0.0
    return out


def total_span(model: ModelSpec, billing: InputBilling, latency: Latency, parallelism: int, k: np.ndarray) -> np.ndarray:
    """Histogram spans (lo and hi per k) of total cost and total time, shape (2, 2, len(k)):
    a trial's total lies outside with probability below 1e-9 (`sum_span`; waves: ceil(k/P)
    waves, each between the smallest and the largest time of the data)."""
    data = model.data
    first, later = inference_costs(model, billing)
    extra = first - later  # what the first inference pays more (0 when every prompt is billed)
    cost_lo, cost_hi = sum_span(data, later, k)
    times = inference_times(model)
    if latency is Latency.WAVES:
        waves = -(-np.asarray(k, dtype=np.int64) // parallelism)
        time_lo, time_hi = waves * float(times.min()), waves * float(times.max())
    else:
        time_lo, time_hi = sum_span(data, times / parallelism, k)
    return np.array([[cost_lo + extra.min(), cost_hi + extra.max()], [time_lo, time_hi]])


def sum_span(data: EmpiricalData, values: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bounds of the sum of k draws of one query's `values`, for each k: within [k min_q, k max_q]
    and within HOEFFDING sqrt(k) (max_q - min_q) of k mean_q, over every query q. O(len(k) x queries)."""
    starts = data.starts
    lo_q, hi_q = np.minimum.reduceat(values, starts), np.maximum.reduceat(values, starts)
    mean_q, width = data.query_means(values), hi_q - lo_q
    k = np.asarray(k, dtype=np.float64)
    lo, hi = np.empty(k.size), np.empty(k.size)
    for chunk in _chunks(k.size, data.n_queries):
        kf = k[chunk, None]
        margin = HOEFFDING * np.sqrt(kf) * width[None, :]
        lo[chunk] = np.maximum(kf * lo_q[None, :], kf * mean_q[None, :] - margin).min(axis=1)
        hi[chunk] = np.minimum(kf * hi_q[None, :], kf * mean_q[None, :] + margin).max(axis=1)
    return lo, hi


class Sampler:
    """One block's empirical draws: each trial's query (stream `queries`, one integer per
    trial), then per inference a uniform sample of it (stream `samples`, one uniform per
    inference, inference-major), and the prefix totals they give."""

    def __init__(self, model: ModelSpec, billing: InputBilling, parallelism: int, waves: bool,
                 queries: np.random.Generator, samples: np.random.Generator, trials: int) -> None:
        data = model.data
        query = queries.integers(0, data.n_queries, size=trials)
        self.first, self.count = data.starts[query], data.counts[query]
        self.samples = samples
        self.score = data.score
        if model.lengths is Lengths.EMPIRICAL:
            self.cost_first, self.cost_later = inference_costs(model, billing)
            times = inference_times(model)
            # Paper latency: each time divided by P up front, T(k) = sum_i T_i / P, as the normal model does.
            self.time, self.sum_time = (times, False) if waves else (times / parallelism, True)

    def draw(self, index: np.ndarray, scratch: np.ndarray) -> None:
        """`index[i, j]`: the sample of inference i of trial j, first + floor(u count) for a
        uniform u in [0, 1) (below count in floating point; the minimum only guards that)."""
        self.samples.random(out=scratch)
        scratch *= self.count
        np.floor(scratch, out=scratch)
        index[...] = scratch
        np.minimum(index, self.count - 1, out=index)
        index += self.first

    def prefix_totals(self, index: np.ndarray, first_row: int, cost: np.ndarray, time: np.ndarray,
                      carry_cost: np.ndarray, carry_time: np.ndarray, scratch: np.ndarray) -> None:
        """Total cost of the first i + 1 inferences (row i; the block's row 0 pays the first
        inference's price), and their total time (paper) or inference i's time alone (waves,
        for `fused.wave_prefix`); `carry_*` hold the totals before the chunk and are advanced."""
        np.take(self.cost_later, index, out=scratch)
        if first_row == 0:
            scratch[0] = self.cost_first[index[0]]
        _prefix_sum(scratch, carry_cost, cost)
        np.take(self.time, index, out=scratch)
        if self.sum_time:
            _prefix_sum(scratch, carry_time, time)
        else:
            time[...] = scratch

    def prefix_best_scores(self, index: np.ndarray, acc: np.ndarray, carry: np.ndarray) -> None:
        """Best score among the first i + 1 inferences (row i), from `carry` (advanced)."""
        np.take(self.score, index, out=acc)
        np.maximum(acc[0], carry, out=acc[0])
        np.maximum.accumulate(acc, axis=0, out=acc)
        carry[...] = acc[-1]


def _chunks(rows: int, columns: int, cells: int = 1 << 20) -> list[slice]:
    """Slices of `rows` so that a (rows, columns) temporary holds at most about `cells` values."""
    step = max(1, cells // max(columns, 1))
    return [slice(i, min(i + step, rows)) for i in range(0, rows, step)]


def _prefix_sum(values: np.ndarray, carry: np.ndarray, out: np.ndarray) -> None:
    """out[i] = carry + values[0] + ... + values[i], added in that order; carry advanced."""
    values[0] += carry
    np.add.accumulate(values, axis=0, out=out)
    carry[...] = out[-1]
