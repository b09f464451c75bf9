"""Decision confidence: the estimated probability that a chosen k is right (science.md section 7).

Right means: truly feasible and, for the method's objective, within its indifference zone of
the truly best feasible k (within the accuracy tolerance of the best accuracy for maximal
accuracy; the true argmax for the cube, the utopia distance and the knee). "Infeasible" is
right when no k is truly feasible, "no knee" when the true frontier has none.

How: the true means are unknown; given a run's trial blocks they are approximately normal
around the estimates, with the covariance of the block means. Common random numbers make the
blocks' sums of neighbouring k move together, so this joint law holds the paired differences
between k (far more precise than the marginal means) and the margins of the binding budgets
in standard errors. We draw REPLICATES vectors of plausible true means from it,

    mu* = mu_hat + tau sqrt(n / (n - 1)) sum_b g_b (S_b - n_b mu_hat) / N,  g_b ~ N(0, 1),

(S_b the block sums, n blocks, N trials; tau = sqrt(nu / chi2_nu), nu = n - 1, widens the
draws to a multivariate t for few blocks), decide the truth on each draw and report the share
of draws in which the chosen k is right: the probability that it is the best, jointly over all
candidates (multiple comparisons with the best), under that law. Proportions (the share of
trials meeting all budgets, for chance constraints) are drawn the same way from their block
counts.

Vectorised over scenarios x replicates x k (numpy): the scenarios of a group share the draws,
and each chunk of them is a few array operations, so the cost per scenario is O(REPLICATES x K)
and the working memory is bounded by CHUNK_CELLS whatever the number of scenarios. The knee
is decided on every draw as `decide` would: where cost rises and time does not fall with k
(always, but for a few draws of very few blocks) its frontier is the running maximum of
accuracy and the knees of all such draws are computed together, curves of equal length
stacked; the other draws call `decide` one by one. The draws loop over blocks so the result
is the same bits in every process (no BLAS). O(REPLICATES x (blocks + K) x metrics) per
simulation group, plus O(REPLICATES x K) per scenario.
The draws' stream comes from the sweep's seed and the model, apart from every block's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np

from infscale.engine.plan import N_METRICS, SimulationGroup, model_stream_key
from infscale.engine.selection import (
    Choice,
    Decision,
    Method,
    Status,
    chord_knee_positions,
    curvature_knee_positions,
    decide,
)
from infscale.engine.specs import Knee, ScenarioSpec
from infscale.engine.statistics import Curves, MetricCurve, Partial

REPLICATES = 512
"""Draws of the true means per simulation group: the confidence is a multiple of 1/512."""

MIN_BLOCKS = 2
"""Fewer blocks than this give no confidence (None): one block says nothing about its noise."""

CHUNK_CELLS = 1 << 15
"""Scenario x draw x k cells decided at once (at least one scenario's): 256 KB per float array,
so a chunk's arrays stay in cache (measured fastest: benchmarks/engine_speed.py), and the
working memory does not grow with the number of scenarios."""

MEETING_CELLS = 1 << 20
"""Scenario x draw x k cells of shares meeting the budgets drawn at once (8 MB): the draws loop
over blocks, so fewer, larger batches than the chunks cost less; one batch is held at a time."""

_STREAM_TAG = 0xC0F1DF
"""Part of the draws' seed: keeps their stream apart from every block's."""


def with_confidence(
    partial: Partial, group: SimulationGroup, decisions: Sequence[Decision], seed: int, knee: Knee,
    replicates: int = REPLICATES,
) -> list[Decision]:
    """The group's decisions (in scenario order) with each choice's confidence filled in."""
    shares = confidence(partial, group, decisions, seed, knee, replicates)
    return [
        replace(d, choices=tuple(replace(c, confidence=share) for c, share in zip(d.choices, row)))
        for d, row in zip(decisions, shares)
    ]


def confidence(
    partial: Partial, group: SimulationGroup, decisions: Sequence[Decision], seed: int, knee: Knee,
    replicates: int = REPLICATES,
) -> list[tuple[float | None, ...]]:
    """Per scenario of the group, per method: the estimated probability that its choice is right."""
    n_blocks = partial.blocks.size
    if n_blocks < MIN_BLOCKS:
        return [tuple(None for _ in d.choices) for d in decisions]
    draws = posterior_draws(partial, replicates, _stream(seed, group.model.key, n_blocks))
    k = group.grid()
    chance = [s for s, scenario in enumerate(group.scenarios) if scenario.min_probability is not None]
    meeting = _MeetingBatches(draws, chance, max(1, MEETING_CELLS // (replicates * k.size)))
    per_chunk = max(1, CHUNK_CELLS // (replicates * k.size))
    out: list[tuple[float | None, ...]] = []
    for start in range(0, len(decisions), per_chunk):
        chunk = range(start, min(start + per_chunk, len(decisions)))
        out += _chunk_confidence(k, draws, meeting, chunk, [group.scenarios[s] for s in chunk], decisions[start:chunk.stop], knee)
    return out


@dataclass(frozen=True, eq=False)
class PosteriorDraws:
    """Draws of a group's true means, and what drawing its scenarios' shares meeting the budgets
    takes: the same normal weights g_b and widening tau, so every column follows one law."""

    means: np.ndarray  # (R, 3, K): cost, time, accuracy
    rising: np.ndarray  # (R,): cost rises strictly and time does not fall with k (a prefix-maximum frontier)
    partial: Partial
    weights: np.ndarray  # (R, blocks): g_b
    tau: np.ndarray  # (R,)

    def meeting(self, scenarios: Sequence[int]) -> np.ndarray:
        """Shares of trials meeting all budgets (R, len(scenarios), K), for these scenarios only.

        Each column is drawn on its own, so a chunk of scenarios gets the bits all of them
        would: the counts' sums are integers below 2**53, exact in any order.
        """
        counts = self.partial.feasible[:, list(scenarios)]
        n, s, k = counts.shape
        trials = self.partial.trials.astype(np.float64)
        mean = counts.sum(axis=0).reshape(-1) / trials.sum()
        drawn = _drawn(counts.reshape(n, -1).astype(np.float64), mean, trials, self.weights, self.tau)
        return drawn.reshape(self.tau.size, s, k)


def posterior_draws(partial: Partial, replicates: int, rng: np.random.Generator) -> PosteriorDraws:
    """Plausible true means (R, 3, K), and the weights for the shares meeting each scenario's budgets."""
    n_blocks = partial.blocks.size
    g = rng.standard_normal((replicates, n_blocks))
    nu = n_blocks - 1
    tau = np.sqrt(nu / rng.chisquare(nu, size=replicates)) * np.sqrt(n_blocks / nu)
    trials = partial.trials.astype(np.float64)
    sums = partial.sums.reshape(n_blocks, -1)
    means = _drawn(sums, sums.sum(axis=0) / trials.sum(), trials, g, tau).reshape(replicates, N_METRICS, -1)
    cost, time = means[:, 0], means[:, 1]
    rising = np.all(np.diff(cost, axis=1) > 0, axis=1) & np.all(np.diff(time, axis=1) >= 0, axis=1)
    return PosteriorDraws(means, rising, partial, g, tau)


def right_without_frontier(
    method: Method, j: int, cost: np.ndarray, time: np.ndarray, acc: np.ndarray, feasible: np.ndarray,
    scenario: ScenarioSpec,
) -> np.ndarray:
    """Per draw (rows), whether candidate column j is right for maximal accuracy, the cube or the
    utopia distance: feasible, and within the tolerance of the best accuracy / the best."""
    budgets = _Budgets.of([scenario])
    a = np.where(feasible, acc, -np.inf)[None]
    cn, tn = cost / budgets.cost, time / budgets.time
    return _right(method, np.array([j]), acc, a, feasible[None], cn, tn, budgets.tolerance)[0]


@dataclass(frozen=True)
class _Budgets:
    """A chunk's scenarios' budgets, shaped (S, 1, 1) to broadcast over draws x k."""

    cost: np.ndarray
    time: np.ndarray
    accuracy: np.ndarray
    tolerance: np.ndarray
    probability: np.ndarray  # NaN without a chance constraint

    @staticmethod
    def of(scenarios: Sequence[ScenarioSpec]) -> "_Budgets":
        def column(values: list[float]) -> np.ndarray:
            return np.array(values, dtype=np.float64)[:, None, None]

        return _Budgets(
            column([s.max_total_cost for s in scenarios]), column([s.max_total_time for s in scenarios]),
            column([s.min_accuracy for s in scenarios]), column([s.accuracy_tolerance for s in scenarios]),
            column([np.nan if s.min_probability is None else s.min_probability for s in scenarios]),
        )

    def take(self, rows: np.ndarray) -> "_Budgets":
        return _Budgets(self.cost[rows], self.time[rows], self.accuracy[rows], self.tolerance[rows], self.probability[rows])


class _MeetingBatches:
    """Shares meeting the budgets of a group's chance-constrained scenarios (`chance`, in
    scenario order), drawn `per_batch` scenarios at a time as the chunks ask for them."""

    def __init__(self, draws: PosteriorDraws, chance: list[int], per_batch: int) -> None:
        self._draws, self._chance, self._per_batch = draws, chance, per_batch
        self._held: dict[int, np.ndarray] = {}

    def of(self, scenario: int) -> np.ndarray:
        """(R, K) for one chance-constrained scenario of the group."""
        if scenario not in self._held:
            start = self._chance.index(scenario)
            batch = self._chance[start : start + self._per_batch]
            drawn = self._draws.meeting(batch)
            self._held = {s: drawn[:, i] for i, s in enumerate(batch)}
        return self._held[scenario]


def _chunk_confidence(
    k: np.ndarray, draws: PosteriorDraws, meeting: _MeetingBatches, indices: range,
    scenarios: Sequence[ScenarioSpec], decisions: Sequence[Decision], knee: Knee,
) -> list[tuple[float | None, ...]]:
    """The confidences of some scenarios of the group (`indices` in it), all at once."""
    cost, time, acc = draws.means[:, 0], draws.means[:, 1], draws.means[:, 2]
    budgets = _Budgets.of(scenarios)
    chance = np.flatnonzero(~np.isnan(budgets.probability[:, 0, 0]))
    feasible = (cost <= budgets.cost) & (time <= budgets.time) & (acc >= budgets.accuracy)  # (S, R, K)
    meeting_of = {int(i): meeting.of(indices[i]) for i in chance}  # (R, K) each
    for i, shares in meeting_of.items():
        feasible[i] = shares >= budgets.probability[i]
    any_feasible = feasible.any(axis=-1)
    right = {m: np.zeros(any_feasible.shape, dtype=bool) for m in Method if m is not Method.KNEE}
    truth = np.full(any_feasible.shape, -1)
    decided = np.flatnonzero([d.choices[0].status is not Status.INFEASIBLE for d in decisions])
    if decided.size:
        rights, truth[decided] = _decided_truths(
            k, draws, feasible[decided], budgets.take(decided), [scenarios[i] for i in decided],
            [decisions[i] for i in decided], [meeting_of.get(i) for i in decided], knee,
        )
        for method, hits in rights.items():
            right[method][decided] = hits
    out = []
    for i, decision in enumerate(decisions):
        row = []
        for c in decision.choices:
            if c.status is Status.INFEASIBLE:
                hit = ~any_feasible[i]
            elif c.status is Status.NO_KNEE:
                hit = any_feasible[i] & (truth[i] < 0)
            elif c.method is Method.KNEE:
                j = _column(k, c)
                hit = feasible[i, :, j] & (truth[i] == j)
            else:
                hit = right[c.method][i]
            row.append(float(np.mean(hit)))
        out.append(tuple(row))
    return out


def _decided_truths(
    k: np.ndarray, draws: PosteriorDraws, feasible: np.ndarray, budgets: _Budgets, scenarios: Sequence[ScenarioSpec],
    decisions: Sequence[Decision], meeting: Sequence[np.ndarray | None], knee: Knee,
) -> tuple[dict[Method, np.ndarray], np.ndarray]:
    """For scenarios with a feasible pick: per method without the frontier, whether its choice
    is right in each draw (S, R), and the knee's grid index in each draw (S, R; -1 none).

    Only the columns between the first and the last k feasible in some draw of these scenarios
    are computed on: the others are -inf / inf to every best, never on a frontier, and every
    operation is elementwise or along k, so the answer and its bits are those of all columns.
    """
    shape = feasible.shape[:2]
    columns = np.flatnonzero(feasible.any(axis=(0, 1)))
    if not columns.size:
        return {m: np.zeros(shape, dtype=bool) for m in Method if m is not Method.KNEE}, np.full(shape, -1)
    w = slice(int(columns[0]), int(columns[-1]) + 1)
    feasible = feasible[..., w]
    acc = draws.means[:, 2, w]
    cn, tn = draws.means[:, 0, w] / budgets.cost, draws.means[:, 1, w] / budgets.time
    a = np.where(feasible, acc, -np.inf)  # accuracy where feasible: the best of each draw is its max
    rights = {}
    for method in Method:
        if method is not Method.KNEE:
            j = np.array([_column(k, d.choice(method)) for d in decisions])
            inside = (j >= w.start) & (j < w.stop)  # a column outside is feasible in no draw
            hits = _right(method, np.where(inside, j - w.start, 0), acc, a, feasible, cn, tn, budgets.tolerance)
            rights[method] = hits & inside[:, None]
    return rights, _knee_truth(k, draws, w, a, feasible, cn, tn, budgets, scenarios, meeting, knee)


def _column(k: np.ndarray, choice: Choice) -> int:
    """The grid column of a choice's k (0 for a choice without one: its share is not read)."""
    return 0 if choice.k is None else int(np.searchsorted(k, choice.k))


def _right(
    method: Method, j: np.ndarray, acc: np.ndarray, a: np.ndarray, feasible: np.ndarray, cn: np.ndarray,
    tn: np.ndarray, tolerance: np.ndarray,
) -> np.ndarray:
    """(S, R): per scenario and draw, whether column j[s] is right for a method without the
    frontier. acc (R, K) is the accuracy, `a` (S, R, K) the same where feasible and -inf
    elsewhere, cn and tn (S, R, K) the normalised cost and time."""
    rows = np.arange(j.size)
    ok = feasible[rows, :, j]
    if method is Method.MAX_ACCURACY:
        return ok & (acc[:, j].T >= a.max(axis=-1) - tolerance[:, :, 0])
    if method is Method.MAX_CUBE:
        cube = (1.0 - cn) * (1.0 - tn) * acc
        return ok & (cube[rows, :, j] >= np.where(feasible, cube, -np.inf).max(axis=-1))
    # The feasible point nearest the utopia is always on the frontier (dominating is nearer).
    dist = cn * cn + tn * tn + (1.0 - acc) ** 2
    return ok & (dist[rows, :, j] <= np.where(feasible, dist, np.inf).min(axis=-1))


def _knee_truth(
    k: np.ndarray, draws: PosteriorDraws, w: slice, a: np.ndarray, feasible: np.ndarray, cn: np.ndarray,
    tn: np.ndarray, budgets: _Budgets, scenarios: Sequence[ScenarioSpec], meeting: Sequence[np.ndarray | None],
    knee: Knee,
) -> np.ndarray:
    """(S, R): the knee's grid index in each draw of each scenario (-1: none, or nothing
    feasible), from the columns `w` (a, feasible, cn, tn hold those)."""
    rising = draws.rising
    acc = draws.means[:, 2, w]
    if knee is Knee.CHORD and rising.all():
        out = _chord_knees(cn, tn, acc, a, feasible, budgets)
    else:
        out = np.full(feasible.shape[:2], -1)
        steady = np.flatnonzero(rising)
        if steady.size:
            out[:, steady] = _frontier_knees(
                cn[:, steady], tn[:, steady], acc[steady], a[:, steady], feasible[:, steady], budgets, knee
            )
    out = np.where(out >= 0, out + w.start, -1)
    # Cost or time not increasing in k: the frontier needs the general method, draw by draw.
    cost, time, acc = draws.means[:, 0], draws.means[:, 1], draws.means[:, 2]
    for r in np.flatnonzero(~rising):
        for s, scenario in enumerate(scenarios):
            # Without a chance constraint `decide` does not read the shares meeting the budgets.
            shares = meeting[s][r] if meeting[s] is not None else np.zeros(k.size)
            c = decide(_means_only(k, cost[r], time[r], acc[r], shares), scenario, knee).choice(Method.KNEE)
            out[s, r] = int(np.searchsorted(k, c.k)) if c.status is Status.OK else -1
    return out


def _frontier_knees(
    cn: np.ndarray, tn: np.ndarray, acc: np.ndarray, a: np.ndarray, feasible: np.ndarray, budgets: _Budgets,
    knee: Knee,
) -> np.ndarray:
    """`decide`'s knee in draws (S, R, K) whose cost rises and time does not fall with k, where
    its frontier is the feasible running maximum of accuracy; the draws' frontier curves of
    equal length are stacked and go through engine.selection's knee together."""
    shape = feasible.shape
    front = _front(a, feasible, budgets, cut=knee is Knee.CHORD).reshape(-1, shape[-1])
    count = front.sum(axis=1)
    first = np.argsort(~front, axis=1, kind="stable")  # each row's frontier columns first, in k order
    anchors = np.zeros((front.shape[0], 3))
    anchors[:, 2] = np.repeat(budgets.accuracy[:, 0, 0], shape[1])
    flat = [np.broadcast_to(x, shape).reshape(-1, shape[-1]) for x in (cn, tn, acc)]
    out = np.full(front.shape[0], -1)
    for n in np.unique(count[count > 0]):
        rows = np.flatnonzero(count == n)
        cols = first[rows, :n]
        points = np.stack([x[rows[:, None], cols] for x in flat], axis=-1)
        if knee is Knee.CHORD:
            pos = chord_knee_positions(points, anchors[rows])
        else:
            pos = curvature_knee_positions(points, knee)
        out[rows] = np.where(pos >= 0, cols[np.arange(rows.size), np.maximum(pos, 0)], -1)
    return out.reshape(shape[:2])


def _front(a: np.ndarray, feasible: np.ndarray, budgets: _Budgets, cut: bool) -> np.ndarray:
    """Frontier of draws (S, R, K) whose cost and time rise with k, from their accuracy where
    feasible (`a`, -inf elsewhere): a feasible k more accurate than every smaller feasible k (a
    strict prefix maximum); with `cut`, only up to the maximal-accuracy pick, the first feasible
    k within the tolerance of the best (exact means: no screen), where the chord knee's curve ends."""
    start = np.full(a.shape[:-1] + (1,), -np.inf)
    before = np.maximum.accumulate(np.concatenate((start, a[..., :-1]), axis=-1), axis=-1)
    front = feasible & (a > before)
    if cut:
        front &= np.arange(a.shape[-1]) <= _max_accuracy_end(a, feasible, budgets)[..., None]
    return front


def _max_accuracy_end(a: np.ndarray, feasible: np.ndarray, budgets: _Budgets) -> np.ndarray:
    best = a.max(axis=-1)
    return np.argmax(feasible & (a >= best[..., None] - budgets.tolerance), axis=-1)


def _chord_knees(
    cn: np.ndarray, tn: np.ndarray, acc: np.ndarray, a: np.ndarray, feasible: np.ndarray, budgets: _Budgets,
) -> np.ndarray:
    """engine.selection's chord knee in every draw (S, R, K) at once, when cost and time rise
    with k in every draw.

    The arithmetic is the one the confidences stored since were computed with, written out per
    coordinate (planar arrays are several times faster than (..., 3) ones): a norm of (x, y, z)
    is sqrt((x^2 + y^2) + z^2) as numpy's sums it, and the projection on the chord's direction
    (x ux + z uz) + y uy, the order in which numpy's einsum summed it (its two-lane loop); the
    test against tests/confidence_reference.py holds both to those bits.
    """
    acc = np.broadcast_to(acc, feasible.shape)
    front = _front(a, feasible, budgets, cut=True)
    end = _max_accuracy_end(a, feasible, budgets)
    s, r = np.ogrid[: feasible.shape[0], : feasible.shape[1]]
    floor = budgets.accuracy[:, :, 0]  # the chord's anchor is (0, 0, min_accuracy)
    cx, cy, cz = cn[s, r, end], tn[s, r, end], acc[s, r, end] - floor
    length = np.sqrt((cx * cx + cy * cy) + cz * cz)
    safe = np.where(length > 0, length, 1.0)
    ux, uy, uz = (c[..., None] / safe[..., None] for c in (cx, cy, cz))
    oz = acc - budgets.accuracy  # the offsets in cost and time are cn and tn themselves (x - 0 == x)
    along = (cn * ux + oz * uz) + tn * uy
    px, py, pz = cn - along * ux, tn - along * uy, oz - along * uz
    distance = np.where(front & (pz > 0.0), np.sqrt((px * px + py * py) + pz * pz), 0.0)
    pos = np.argmax(distance, axis=-1)
    found = (distance[s, r, pos] > 0.0) & feasible.any(axis=-1) & (length > 0)
    return np.where(found, pos, -1)


def _drawn(rows: np.ndarray, mean: np.ndarray, trials: np.ndarray, g: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """mean + tau sqrt(n / (n - 1)) sum_b g_b (S_b - n_b mean) / N per column of `rows` (blocks, m)."""
    total = trials.sum()
    noise = np.zeros((g.shape[0], rows.shape[1]))
    for b in range(rows.shape[0]):  # block by block: the same bits in every process
        noise += g[:, b, None] * ((rows[b] - trials[b] * mean) / total)
    noise *= tau[:, None]
    return mean + noise


def _means_only(k: np.ndarray, cost: np.ndarray, time: np.ndarray, acc: np.ndarray, meeting: np.ndarray) -> Curves:
    """Curves carrying only what `decide` reads: the means (standard errors 0: the truth)."""
    metrics = [MetricCurve(m, np.zeros_like(m), m, m, m) for m in (cost, time, acc)]
    return Curves(k, 0, metrics[0], metrics[1], metrics[2], meeting)


def _stream(seed: int, model_key: str, n_blocks: int) -> np.random.Generator:
    sequence = np.random.SeedSequence(seed, spawn_key=(model_stream_key(model_key), _STREAM_TAG, n_blocks, 1))
    return np.random.Generator(np.random.PCG64(sequence))
