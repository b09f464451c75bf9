"""Mergeable partial statistics per k, and the curves they summarise to.

A `Partial` keeps, for each trial block it covers, the block's trial count, the sums and
centred sums of squares of total cost, total time and accuracy per k, and per scenario the
count of trials that met all three budgets. Quantiles come from fixed per-k histograms whose
bins are set by the spec alone, so they add as integers.

Merging concatenates block rows (sorted by block index) and adds histograms: it is exactly
associative and commutative, and `summarize` reduces blocks in block order, so any grouping
of blocks into shards gives bit-identical curves.

Quantile error bound: a reported p05/p50/p95 lies in the same histogram bin as the
empirical quantile, so it is within one bin width of it. Bins span the exact mean +- 8
standard deviations of that k's total (cost, time) or the 1e-9 and 1 - 1e-9 quantiles of
A(k) (accuracy; [0, 1] for the correctness models, whose A(k) is 0, 1/2 or 1, and for the
empirical model's scores), cut into 256
bins: for cost and time one bin is 1/16 of a standard deviation of the per-trial total (for
`waves` latency the span comes from distribution-free bounds on the sum of wave maxima, see
`_wave_time_span`; for the empirical model's lengths, engine.empirical.total_span). Values outside the span land in an under/overflow bin (probability
below 1e-9 per trial); a quantile falling there is reported at the span's edge.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import numpy as np

from infscale.engine.errors import MergeError
from infscale.engine.exact import (
    accuracy_quantile,
    expected_input_tokens,
    expected_output_tokens,
)
from infscale.engine.plan import N_BINS, N_METRICS, SimulationGroup
from infscale.engine.empirical import total_span
from infscale.engine.specs import AccuracyModel, Latency, Lengths, ScenarioSpec

METRICS = ("cost", "time", "accuracy")
QUANTILES = (0.05, 0.50, 0.95)


@dataclass(frozen=True)
class Bins:
    """Fixed histogram bins per metric and k: bin i of row (m, j) starts at lo + i * width."""

    lo: np.ndarray  # (3, K)
    width: np.ndarray  # (3, K)


@dataclass(frozen=True, eq=False)
class Partial:
    """Statistics of some trial blocks of one simulation group (see module docstring)."""

    blocks: np.ndarray  # (n,) int64 block indices, ascending
    trials: np.ndarray  # (n,) int64 trials per block
    sums: np.ndarray  # (n, 3, K) float64
    m2: np.ndarray  # (n, 3, K) float64, sum of squared deviations from the block mean
    feasible: np.ndarray  # (n, S, K) int64, trials meeting all budgets of scenario s
    hist: np.ndarray  # (3, K, N_BINS + 2) int64
    # Past engine.batches.MAX_BATCHES blocks a merged partial's rows are batches: row i holds
    # blocks [blocks[i], blocks[i] + 2^level) that are present, spans[i] of them.
    level: int = 0
    spans: np.ndarray | None = None  # (n,) int64 when level > 0

    @property
    def n_trials(self) -> int:
        return int(self.trials.sum())

    @property
    def n_blocks(self) -> int:
        """Trial blocks covered (rows are blocks, or batches of them)."""
        return int(self.spans.sum()) if self.spans is not None else int(self.blocks.size)

    def equals(self, other: "Partial") -> bool:
        """Bit-for-bit equality of every array."""
        return self.level == other.level and all(
            np.array_equal(getattr(self, f), getattr(other, f))
            for f in ("blocks", "trials", "sums", "m2", "feasible", "hist", "spans")
        )


@dataclass(frozen=True)
class MetricCurve:
    """One metric per k: mean, standard error of the mean, and spread quantiles of trials."""

    mean: np.ndarray
    se: np.ndarray
    p05: np.ndarray
    p50: np.ndarray
    p95: np.ndarray


@dataclass(frozen=True)
class Curves:
    """Everything measured for one model under one scenario, per k of the grid."""

    k: np.ndarray
    trials: int
    cost: MetricCurve
    time: MetricCurve
    accuracy: MetricCurve
    feasible_probability: np.ndarray  # P(all three budgets met) per k


@lru_cache(maxsize=256)
def bins_for(group: SimulationGroup) -> Bins:
    """Histogram bins from the spec alone (exact means and conservative deviations)."""
    model, k = group.model, group.grid().astype(np.float64)
    e_in, e_out = expected_input_tokens(model), expected_output_tokens(model)
    # Triangle inequality on the per-inference deviation: conservative, never too narrow.
    # Where the cap 16 L_in can bind, L_out follows L_in and varies up to 16 sigma_Lin.
    out_sd = model.sigma_Lout
    if 16.0 * (model.mu_Lin - 8.0 * model.sigma_Lin) < model.mu_Lout + 8.0 * model.sigma_Lout:
        out_sd += 16.0 * model.sigma_Lin
    # Inference 1 pays c_in per input token, the others c_in_later (input billing).
    c_in_later = model.input_price_after_first(group.billing)
    cost_mean = c_in_later * e_in + model.c_out * e_out
    cost_first = (model.c_in - c_in_later) * e_in  # 0 when every prompt is billed
    cost_sd = model.c_in * model.sigma_Lin + model.c_out * out_sd
    # Per inference (waves latency) or per inference / P (paper latency, T(k) = sum_i T_i / P).
    per = 1 if group.latency is Latency.WAVES else group.parallelism
    time_mean = (model.t_fixed + model.t_in * e_in + model.t_out * e_out) / per
    time_sd = (model.t_in * model.sigma_Lin + model.t_out * out_sd) / per
    lo = np.empty((N_METRICS, k.size))
    hi = np.empty((N_METRICS, k.size))
    for m, (mean, first, sd) in enumerate(((cost_mean, cost_first, cost_sd), (time_mean, 0.0, time_sd))):
        lo[m] = np.maximum(k * mean + first - 8.0 * np.sqrt(k) * sd, 0.0)
        hi[m] = k * mean + first + 8.0 * np.sqrt(k) * sd
    if group.latency is Latency.WAVES:
        lo[1], hi[1] = _wave_time_span(group.grid(), group.parallelism, time_mean, time_sd)
    if model.lengths is Lengths.EMPIRICAL:  # totals of the data's samples (engine.empirical)
        (lo[0], hi[0]), (lo[1], hi[1]) = total_span(model, group.billing, group.latency, group.parallelism, group.grid())
    if model.accuracy_model.is_correctness or model.accuracy_model is AccuracyModel.EMPIRICAL:
        lo[2], hi[2] = 0.0, 1.0  # A(k) is 0, 1/2 or 1, or a score
    else:
        lo[2] = accuracy_quantile(model, group.grid(), 1e-9)
        hi[2] = accuracy_quantile(model, group.grid(), 1.0 - 1e-9)
    # Degenerate (zero-spread) rows get a small span around the value so that it has a bin.
    span = hi - lo
    tiny = 1e-9 * np.maximum(np.abs(hi), 1.0)
    narrow = span < tiny
    lo = np.where(narrow, lo - tiny, lo)
    span = np.where(narrow, 2 * tiny, span)
    # Widen by a hair so the top value (accuracy 1.0) falls inside the last interior bin.
    width = span * (1.0 + 1e-9) / N_BINS
    lo.flags.writeable = False  # cached and shared by every shard of the group
    width.flags.writeable = False
    return Bins(lo=lo, width=width)


def merge(parts: Sequence[Partial]) -> Partial:
    """Merge partials of disjoint blocks; the result is the same for any order or grouping.

    Up to engine.batches.MAX_BATCHES blocks, one row per block in block order; past it, or
    when a part is already batched, the rows are engine.batches' batches.
    """
    from infscale.engine import batches  # it builds on Partial: imported here, not above

    if not parts:
        raise MergeError("nothing to merge")
    if len(parts) == 1 and (parts[0].level or parts[0].blocks.size <= batches.MAX_BATCHES):
        return parts[0]
    if any(p.level for p in parts):
        return batches.merge_in_order(sorted(parts, key=lambda p: int(p.blocks[0])))
    merged = _concatenate(parts)
    return batches.merge_in_order([merged]) if merged.blocks.size > batches.MAX_BATCHES else merged


def _concatenate(parts: Sequence[Partial]) -> Partial:
    """One row per block, in block order, histograms added."""
    blocks = np.concatenate([p.blocks for p in parts])
    order = np.argsort(blocks, kind="stable")
    if np.any(np.diff(blocks[order]) == 0):
        raise MergeError("partials overlap: a block would be counted twice")
    shapes = {p.hist.shape for p in parts}
    if len(shapes) != 1:
        raise MergeError(f"partials of different shapes: {sorted(shapes)}")
    hist = parts[0].hist.copy()
    for p in parts[1:]:
        hist += p.hist
    return Partial(
        blocks=blocks[order],
        trials=np.concatenate([p.trials for p in parts])[order],
        sums=np.concatenate([p.sums for p in parts])[order],
        m2=np.concatenate([p.m2 for p in parts])[order],
        feasible=np.concatenate([p.feasible for p in parts])[order],
        hist=hist,
    )


def summarize(partial: Partial, group: SimulationGroup, bins: Bins, ddof: int = 1) -> list[Curves]:
    """Curves per scenario of the group (same order as `group.scenarios`).

    `se` is std / sqrt(n) with the std's delta degrees of freedom `ddof`: 1 (unbiased) in
    standard mode, 0 (population std, as the notebook reports) in legacy mode.

    Means and standard errors combine block sums and centred squares in block order
    (Chan et al.'s pairwise update, vectorised): O(blocks x K).
    """
    n_b = partial.trials.astype(np.float64)[:, None, None]
    n = float(partial.trials.sum())
    mean = partial.sums.sum(axis=0) / n
    # Between-block term n_b (mean_b - mean)^2, computed in one scratch array.
    between = partial.sums / n_b
    between -= mean
    np.square(between, out=between)
    between *= n_b
    m2 = partial.m2.sum(axis=0) + between.sum(axis=0)
    del between
    with np.errstate(invalid="ignore", divide="ignore"):
        se = np.sqrt(m2 / (n - ddof) / n) if n > ddof else np.full_like(mean, np.nan)
    quantiles = _hist_quantiles(partial.hist, bins, n)
    metrics = [
        MetricCurve(mean[m], se[m], quantiles[0][m], quantiles[1][m], quantiles[2][m])
        for m in range(N_METRICS)
    ]
    feasible = partial.feasible.sum(axis=0) / n
    return [
        Curves(group.grid(), int(n), metrics[0], metrics[1], metrics[2], feasible[s])
        for s in range(len(group.scenarios))
    ]


def block_statistics(
    values: Sequence[np.ndarray], bins: Bins, rows: slice, hist: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Sums and centred squares of (G, B) metric arrays for grid rows `rows`; adds to `hist`.

    Returns (sums (3, G), m2 (3, G)); the arrays are read only. Per metric three passes: the
    sums (numpy), deviations and histogram counts (one compiled pass, engine.fused), the
    centred squares (numpy): O(3 G B).
    """
    from infscale.engine import fused  # here, not above: only simulating pays numba's start-up (~0.5 s)
    g, b = values[0].shape
    sums = np.empty((N_METRICS, g))
    m2 = np.empty((N_METRICS, g))
    dev = np.empty((g, b))
    for m, x in enumerate(values):
        x = np.ascontiguousarray(x)
        s = x.sum(axis=1)
        sums[m] = s
        mean = s / b
        inv = 1.0 / bins.width[m, rows]
        # Bin index + 1 (bin 0 is underflow): (x - lo)/w + 1 as (x - mean)/w + (mean - lo)/w + 1.
        offset = (mean - bins.lo[m, rows]) * inv + 1.0
        fused.deviations_and_histogram(x, mean, inv, offset, dev, hist[m, rows])
        m2[m] = np.einsum("ij,ij->i", dev, dev)
    return sums, m2


def budget_array(scenarios: Sequence[ScenarioSpec]) -> np.ndarray:
    """(S, 3): each scenario's (max_total_cost, max_total_time, min_accuracy), for `budget_counts`."""
    return np.array([(s.max_total_cost, s.max_total_time, s.min_accuracy) for s in scenarios], dtype=np.float64)


def budget_counts(values: Sequence[np.ndarray], budgets: np.ndarray) -> np.ndarray:
    """Per budget row (max cost, max time, min accuracy), the trials meeting all three per row.

    `values` are (G, B) arrays of cost, time and accuracy; returns (len(budgets), G) int64.
    """
    from infscale.engine import fused  # here, not above: only simulating pays numba's start-up (~0.5 s)
    out = np.empty((len(budgets), values[0].shape[0]), dtype=np.int64)
    fused.budget_counts(*(np.ascontiguousarray(v) for v in values), budgets, out)
    return out


def _wave_time_span(k: np.ndarray, parallelism: int, mean: float, sd: float) -> tuple[np.ndarray, np.ndarray]:
    """Bounds of the total latency in waves per k, for iid per-inference times of mean `mean`
    and standard deviation at most `sd`, whatever their law.

    A wave's maximum is at least one member, so the total's mean is at least ceil(k/P) mean;
    the maximum of n iid values has mean at most mean + sd (n - 1) / sqrt(2n - 1) (Hartley and
    David) and variance at most n sd^2 (Efron-Stein), so the total's variance is at most k sd^2.
    """
    k = k.astype(np.int64)
    full, rest = k // parallelism, k % parallelism
    n_waves = full + (rest > 0)

    def excess(n: np.ndarray | int) -> np.ndarray:
        n = np.asarray(n, dtype=np.float64)
        return np.where(n > 0, (n - 1.0) / np.sqrt(np.maximum(2.0 * n - 1.0, 1.0)), 0.0)

    spread = 8.0 * np.sqrt(k.astype(np.float64)) * sd
    top = full * (mean + sd * excess(parallelism)) + (rest > 0) * (mean + sd * excess(rest))
    return np.maximum(n_waves * mean - spread, 0.0), top + spread


def _hist_quantiles(hist: np.ndarray, bins: Bins, n: float) -> list[np.ndarray]:
    """p05/p50/p95 per metric and k, interpolated linearly inside the bin that holds them."""
    cum = np.cumsum(hist, axis=-1)
    out = []
    for q in QUANTILES:
        target = max(q * n, 1.0)
        b = (cum < target).sum(axis=-1)  # first bin whose cumulative count reaches the target
        b = np.minimum(b, hist.shape[-1] - 1)
        before = np.take_along_axis(cum, b[..., None], axis=-1)[..., 0] - np.take_along_axis(hist, b[..., None], axis=-1)[..., 0]
        count = np.take_along_axis(hist, b[..., None], axis=-1)[..., 0]
        frac = np.where(count > 0, (target - before) / np.maximum(count, 1), 0.0)
        pos = np.clip(b - 1 + frac, 0.0, float(N_BINS))  # under/overflow report the span's edge
        out.append(bins.lo + pos * bins.width)
    return out
