"""The cross-model knee of many draws at once (engine/cross_model_knees.py) is, draw by draw,
the knee `engine.selection.recommend` picks from the same means: on random pools of models
with saturating accuracy (ties at 1), every knee variant, tolerance 0 and above, a chance
constraint, curves that are not monotone in some draws, and models tied exactly in cost.
"""

from __future__ import annotations

import numpy as np
import pytest

from infscale.engine.cross_model_knees import NONE, knee_columns
from infscale.engine.selection import Method, Status, decide, recommend
from infscale.engine.specs import Knee
from tests.engine_fixtures import make_curves, make_scenario


def random_pool(rng: np.random.Generator, models: int, draws: int, wobble: float, twins: bool):
    """(model, k, cost, time, accuracy) columns and (draws, N) values: each model's cost and time
    rise in k by its own rates (time in waves of parallel calls, flat within one), accuracy saturates towards (and is clipped at) 1 on a 1e-3 grid
    so that equal accuracies are common; every draw moves each curve by its own normal multiple
    of a `wobble` share, and a large wobble breaks the monotone order in some draws."""
    model, k, base = [], [], []
    for m in range(models):
        grid = np.arange(1, rng.integers(3, 12)) * int(rng.integers(1, 4))
        rate = rng.uniform(0.5, 2.0, size=2)
        accuracy = np.minimum(1.0, np.round(1.0 - rng.uniform(0.1, 0.5) * np.exp(-grid / rng.uniform(1.0, 8.0)), 3) + 0.002)
        model.append(np.full(grid.size, m))
        k.append(grid)
        waves = np.ceil(grid / rng.choice([1, 2, 4]))  # parallel calls: time flat within a wave
        base.append((rate[0] * grid * 0.01, rate[1] * waves, accuracy))
    values = []
    for metric in range(3):
        z = rng.standard_normal((draws, models))
        cols = []
        for m in range(models):
            size = base[m][metric].size
            shape = np.ones(size) if metric == 1 else rng.uniform(0.5, 1.5, size=size)  # time keeps its waves
            cols.append(base[m][metric][None, :] * (1.0 + wobble * z[:, m, None] * shape))
        values.append(np.concatenate(cols, axis=1))
    values[2] = np.minimum(values[2], 1.0)
    model, k = np.concatenate(model), np.concatenate(k)
    if twins:  # model 1 becomes a copy of model 0 on its smaller k: exact ties in cost and time
        size = min(np.sum(model == 0), np.sum(model == 1))
        first, second = np.flatnonzero(model == 0)[:size], np.flatnonzero(model == 1)[:size]
        k[second] = k[first]
        for v in values:
            v[:, second] = v[:, first]
        keep = (model != 1) | np.isin(np.arange(k.size), second)
        model, k, values = model[keep], k[keep], [v[:, keep] for v in values]
    return model, k, *values


def knee_by_recommend(scenario, knee, model, k, cost, time, accuracy, feasible) -> int:
    """The reference: `recommend` on one draw's means, its knee as a column (or NONE)."""
    runs = []
    for m in range(int(model.max()) + 1):
        cols = np.flatnonzero(model == m)
        curves = make_curves(k[cols], cost[cols], time[cols], accuracy[cols])
        decision = decide(curves, scenario, knee)
        runs.append((f"m{m}", curves, type(decision)(feasible[cols], decision.frontier, decision.choices)))
    truth = next(r for r in recommend(scenario, runs, knee) if r.method is Method.KNEE)
    if truth.status is not Status.OK:
        return NONE
    return int(np.flatnonzero((model == int(truth.model[1:])) & (k == truth.k))[0])


@pytest.mark.parametrize("knee", list(Knee))
@pytest.mark.parametrize("tolerance", [0.0, 0.01])
def test_knee_of_every_draw_is_recommends(knee: Knee, tolerance: float) -> None:
    rng = np.random.default_rng(20260 + 7 * list(Knee).index(knee) + int(tolerance * 100))
    checked = found = 0
    for case in range(40):
        models = int(rng.integers(1, 6))
        wobble = (0.002, 0.02, 0.2)[case % 3]
        model, k, cost, time, accuracy = random_pool(rng, models, 24, wobble, twins=models >= 2 and case % 5 == 0)
        scenario = make_scenario(
            max_total_cost=float(np.quantile(cost, rng.uniform(0.3, 1.0))),
            max_total_time=float(np.quantile(time, rng.uniform(0.5, 1.0))),
            min_accuracy=float(rng.uniform(0.5, 0.95)), accuracy_tolerance=tolerance,
        )
        if case % 7 == 3:  # a chance constraint: feasibility fixed by the stored shares
            feasible = np.broadcast_to(rng.uniform(size=k.size) >= 0.3, cost.shape)
        else:
            feasible = (cost <= scenario.max_total_cost) & (time <= scenario.max_total_time) & (accuracy >= scenario.min_accuracy)
        got = knee_columns(scenario, knee, model, k, cost, time, accuracy, feasible)
        want = [knee_by_recommend(scenario, knee, model, k, cost[r], time[r], accuracy[r], feasible[r])
                for r in range(cost.shape[0])]
        assert got.tolist() == want, (case, models, wobble)
        checked += len(want)
        found += sum(w != NONE for w in want)
    assert found > checked // 3  # most draws have a knee: the comparison is not of empty answers


def test_nothing_feasible_has_no_knee() -> None:
    rng = np.random.default_rng(5)
    model, k, cost, time, accuracy = random_pool(rng, 3, 8, 0.01, twins=False)
    feasible = np.zeros(cost.shape, dtype=bool)
    got = knee_columns(make_scenario(), Knee.CHORD, model, k, cost, time, accuracy, feasible)
    assert (got == NONE).all()


def test_equal_time_within_a_wave_and_equal_accuracy_leave_only_the_smaller_k() -> None:
    """k = 2 and 3 of model 0 share a wave (equal time) and an accuracy of 1: k = 3 is dominated
    by k = 2 alone, so model 0's frontier is k = 1, 2: no curvature knee (3 points needed)."""
    model = np.array([0, 0, 0, 1, 1])
    k = np.array([1, 2, 3, 1, 2])
    row = lambda *v: np.array([v], dtype=np.float64)  # noqa: E731
    cost, time, accuracy = row(0.1, 0.2, 0.3, 0.8, 0.9), row(1.0, 2.0, 2.0, 9.0, 9.5), row(0.9, 1.0, 1.0, 0.95, 0.97)
    feasible = np.ones(cost.shape, dtype=bool)
    for knee in Knee:
        for tolerance in (0.0, 0.01):
            scenario = make_scenario(max_total_cost=1.0, max_total_time=10.0, min_accuracy=0.5, accuracy_tolerance=tolerance)
            got = knee_columns(scenario, knee, model, k, cost, time, accuracy, feasible)
            assert got.tolist() == [knee_by_recommend(scenario, knee, model, k, cost[0], time[0], accuracy[0], feasible[0])]
            if knee is not Knee.CHORD:
                assert got.tolist() == [NONE]
