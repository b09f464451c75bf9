"""The cross-model recommendations' confidence (engine/recommendation_confidence.py) is, exactly,
its definition: the share of the module's draws of the true means in which the pick is right,
with the truth of each draw decided by `engine.selection.recommend` itself, draw by draw (for
maximal accuracy: truly feasible and within the tolerance of the truly best accuracy). Checked
on random pools of models with standard errors, budgets that leave most candidates out (which
the module skips without drawing them), both tolerances, and a chance constraint.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from infscale.engine.recommendation_confidence import REPLICATES, with_recommendation_confidence
from infscale.engine.selection import Method, Status, decide, recommend
from infscale.engine.specs import Knee
from infscale.engine.statistics import Curves, MetricCurve
from tests.engine_fixtures import make_scenario

METRICS = ("cost", "time", "accuracy")


def random_runs(rng: np.random.Generator, models: int) -> list[Curves]:
    """Curves of `models` models: cost and time rising in k, saturating accuracy, and standard
    errors of about a percent (accuracy's shrinking as it saturates)."""
    out = []
    for m in range(models):
        k = np.arange(1, int(rng.integers(6, 16)))
        cost, time = rng.uniform(0.5, 2.0) * 0.01 * k, rng.uniform(0.5, 2.0) * k
        accuracy = 1.0 - rng.uniform(0.2, 0.5) * np.exp(-k / rng.uniform(2.0, 6.0))
        se = [0.01 * cost, 0.01 * time, (1.0 - accuracy) * rng.uniform(0.01, 0.03)]
        metrics = [MetricCurve(v, s, v, v, v) for v, s in zip((cost, time, accuracy), se)]
        out.append(Curves(k, 4096, *metrics, rng.uniform(0.0, 1.0, size=k.size)))
    return out


def shares_by_definition(scenario, runs, recs, knee: Knee, seed: int) -> list[float]:
    """Per recommendation, the share of the draws in which `recommend` on the drawn means (all
    candidates drawn) makes it right; the draws are the module's (its stream, one normal
    multiple of the standard errors per model, metric and draw)."""
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(
        seed, spawn_key=(zlib.crc32(scenario.name.encode()), 0xC0F1E0))))
    z = {metric: rng.standard_normal((REPLICATES, len(runs))) for metric in METRICS}
    right = np.zeros(len(recs))
    for r in range(REPLICATES):
        drawn = []
        for i, (name, curves, _) in enumerate(runs):
            means = [getattr(curves, m).mean + z[m][r, i] * getattr(curves, m).se for m in METRICS]
            moved = Curves(curves.k, 0, *[MetricCurve(v, np.zeros_like(v), v, v, v) for v in means],
                           curves.feasible_probability)
            drawn.append((name, moved, decide(moved, scenario, knee)))
        truths = recommend(scenario, drawn, knee)
        for i, (rec, truth) in enumerate(zip(recs, truths)):
            if rec.method is Method.MAX_ACCURACY and rec.status is Status.OK:
                best = [c.accuracy.mean[d.feasible] for _, c, d in drawn if d.feasible.any()]
                _, c, d = next(x for x in drawn if x[0] == rec.model)
                j = int(np.searchsorted(c.k, rec.k))
                right[i] += bool(d.feasible[j]) and c.accuracy.mean[j] >= max(b.max() for b in best) - scenario.accuracy_tolerance
            else:
                right[i] += (truth.status, truth.model, truth.k) == (rec.status, rec.model, rec.k)
    return list(right / REPLICATES)


@pytest.mark.parametrize("case", range(6))
def test_the_confidence_is_the_share_of_draws_where_recommend_agrees(case: int) -> None:
    rng = np.random.default_rng(70 + case)
    curves = random_runs(rng, int(rng.integers(2, 5)))
    every = np.sort(np.concatenate([c.cost.mean for c in curves]))
    scenario = make_scenario(  # the cost budget exactly on a candidate's mean cost: a near tie
        f"s{case}", max_total_cost=float(every[every.size // 3]), max_total_time=1e9,
        min_accuracy=float(np.quantile(np.concatenate([c.accuracy.mean for c in curves]), 0.3)),
        accuracy_tolerance=(0.0, 0.002)[case % 2],
        min_probability=0.5 if case == 5 else None,
    )
    knee = (Knee.CHORD, Knee.CURVATURE)[case % 2]
    runs = [(f"m{i}", c, decide(c, scenario, knee)) for i, c in enumerate(curves)]
    recs = recommend(scenario, runs, knee)
    got = [r.confidence for r in with_recommendation_confidence(scenario, runs, recs, knee, seed=case)]
    assert got == shares_by_definition(scenario, runs, recs, knee, seed=case)
    assert any(0.0 < share < 1.0 for share in got) or case == 5  # not only sure picks
