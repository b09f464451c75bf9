"""Decision stability (the confidence reported before issue 11): how often a chosen k would
survive more Monte Carlo noise. Not a probability of being right (engine.confidence is); kept
so that the calibration test can compare the two on the same cases, and stored nowhere.

For a run's merged partial statistics (one row of sums per trial block), a bootstrap
replicate draws the run's blocks with replacement, recomputes the means of cost, time and
accuracy and the share of trials meeting the budgets from the drawn blocks' sums, and decides
again with the same methods. A method's confidence is the share of replicates that pick the
same thing it picked on all trials (the same k, or the same "infeasible" / "no knee").

Blocks hold the same number of trials (the last may be short) and are independent, so
resampling blocks is resampling trials in fixed-size groups. The replicates' random stream
is derived from the sweep's seed and the model, like the simulation's, so the confidence of
a run is reproducible and identical however its blocks were sharded. Work is
O(replicates x (blocks x K + the cost of one decision)) per simulation group.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Sequence

import numpy as np

from infscale.engine.plan import N_METRICS, SimulationGroup, model_stream_key
from infscale.engine.selection import Decision, decide
from infscale.engine.specs import Knee
from infscale.engine.statistics import Curves, MetricCurve, Partial

REPLICATES = 200
"""Bootstrap replicates per simulation group: the confidence is a multiple of 1/200."""

MIN_BLOCKS = 2
"""Fewer blocks than this give no confidence (None): one block resampled is itself."""

_STREAM_TAG = 0xC0F1DE
"""Part of the replicates' seed: keeps their stream apart from every block's."""


def with_stability(
    partial: Partial, group: SimulationGroup, decisions: Sequence[Decision], seed: int, knee: Knee,
    replicates: int = REPLICATES, accuracy_se: np.ndarray | None = None,
) -> list[Decision]:
    """The group's decisions (in scenario order) with each choice's confidence filled in."""
    shares = stability(partial, group, decisions, seed, knee, replicates, accuracy_se)
    return [
        replace(d, choices=tuple(replace(c, confidence=share) for c, share in zip(d.choices, row)))
        for d, row in zip(decisions, shares)
    ]


def stability(
    partial: Partial, group: SimulationGroup, decisions: Sequence[Decision], seed: int, knee: Knee,
    replicates: int = REPLICATES, accuracy_se: np.ndarray | None = None,
) -> list[tuple[float | None, ...]]:
    """Per scenario of the group, per method: the share of replicates picking the same."""
    n_blocks = partial.blocks.size
    if n_blocks < MIN_BLOCKS:
        return [tuple(None for _ in d.choices) for d in decisions]
    weights = resample_weights(n_blocks, replicates, seed, group.model.key)
    trials = _weighted(weights, partial.trials.astype(np.float64)[:, None])[:, 0]
    means = _weighted(weights, partial.sums.reshape(n_blocks, -1)).reshape(replicates, N_METRICS, -1)
    means /= trials[:, None, None]
    meeting = _weighted(weights, partial.feasible.reshape(n_blocks, -1).astype(np.float64))
    meeting = meeting.reshape(replicates, len(group.scenarios), -1) / trials[:, None, None]
    k = group.grid()
    out = []
    for s, (scenario, decision) in enumerate(zip(group.scenarios, decisions)):
        picked = [(c.status, c.k) for c in decision.choices]
        same = np.zeros(len(picked))
        for r in range(replicates):
            again = decide(_means_only(k, means[r], meeting[r, s], accuracy_se), scenario, knee)
            same += [(c.status, c.k) == p for c, p in zip(again.choices, picked)]
        out.append(tuple(float(x) / replicates for x in same))
    return out


def resample_weights(n_blocks: int, replicates: int, seed: int, model_key: str) -> np.ndarray:
    """(replicates, n_blocks) counts: how often each block is drawn in each replicate."""
    sequence = np.random.SeedSequence(seed, spawn_key=(model_stream_key(model_key), _STREAM_TAG, n_blocks, 0))
    draws = np.random.Generator(np.random.PCG64(sequence)).integers(0, n_blocks, size=(replicates, n_blocks))
    flat = draws + (np.arange(replicates) * n_blocks)[:, None]
    return np.bincount(flat.ravel(), minlength=replicates * n_blocks).reshape(replicates, n_blocks)


def _weighted(weights: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """sum_b weights[r, b] rows[b] for every replicate r, block by block in block order.

    Elementwise, not a matrix product: BLAS may round differently from one process to the
    next, and a run's confidence must be the same wherever it is computed.
    """
    out = np.zeros((weights.shape[0], rows.shape[1]))
    for b in range(rows.shape[0]):
        out += weights[:, b, None] * rows[b]
    return out


def _means_only(k: np.ndarray, means: np.ndarray, meeting: np.ndarray, accuracy_se: np.ndarray | None) -> Curves:
    """Curves carrying only what `decide` reads: the means, the share meeting the budgets and
    the accuracy's standard errors (those of all trials: the tolerance's screen)."""
    zero = np.zeros_like(means[0])
    ses = (zero, zero, zero if accuracy_se is None else accuracy_se)
    metrics = [MetricCurve(m, se, m, m, m) for m, se in zip(means, ses)]
    return Curves(k, 0, metrics[0], metrics[1], metrics[2], meeting)
