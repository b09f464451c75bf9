"""The exact 3-D Pareto frontier (engine/frontier.py) against a brute-force O(n^2) filter, and
the prefix-maximum frontier against the general method wherever cost and time rise."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from infscale.engine.frontier import general_pareto_mask, pareto_mask, prefix_max_mask
from tests.engine_fixtures import PAPER_MODELS, WIDE, make_scenario, run_one


def brute_force_front(cost: np.ndarray, time: np.ndarray, accuracy: np.ndarray) -> np.ndarray:
    """Point i is on the front unless some j has C <= and T <= and A >=, one strictly better."""
    n = cost.size
    front = np.ones(n, dtype=bool)
    for i in range(n):
        for j in range(n):
            at_least_as_good = cost[j] <= cost[i] and time[j] <= time[i] and accuracy[j] >= accuracy[i]
            strictly_better = cost[j] < cost[i] or time[j] < time[i] or accuracy[j] > accuracy[i]
            if at_least_as_good and strictly_better:
                front[i] = False
                break
    return front


# Few distinct coordinate values force duplicate points and ties in single coordinates.
tied_coordinate = st.integers(0, 4).map(float)
free_coordinate = st.floats(-1e6, 1e6, allow_nan=False, allow_subnormal=False)
coordinate = st.one_of(tied_coordinate, free_coordinate)
points = st.lists(st.tuples(coordinate, coordinate, coordinate), min_size=0, max_size=40)
tied_points = st.lists(st.tuples(tied_coordinate, tied_coordinate, tied_coordinate), min_size=1, max_size=40)


def check_against_brute_force(pts: list[tuple[float, float, float]]) -> None:
    cost, time, accuracy = (np.array([p[i] for p in pts], dtype=np.float64) for i in range(3))
    mask = pareto_mask(cost, time, accuracy)
    assert mask.dtype == bool and mask.shape == (len(pts),)
    assert np.array_equal(mask, brute_force_front(cost, time, accuracy))


@settings(max_examples=300, deadline=None)
@given(points)
def test_pareto_mask_equals_brute_force(pts) -> None:
    check_against_brute_force(pts)


@settings(max_examples=300, deadline=None)
@given(tied_points)
def test_pareto_mask_equals_brute_force_with_many_ties(pts) -> None:
    check_against_brute_force(pts)


def test_duplicates_of_a_front_point_all_stay_on_the_front() -> None:
    cost = np.array([1.0, 1.0, 2.0, 1.0])
    time = np.array([1.0, 1.0, 0.5, 1.0])
    accuracy = np.array([0.9, 0.9, 0.9, 0.8])
    assert pareto_mask(cost, time, accuracy).tolist() == [True, True, True, False]


def test_empty_and_single_point() -> None:
    assert pareto_mask(np.array([]), np.array([]), np.array([])).size == 0
    assert pareto_mask(np.array([3.0]), np.array([2.0]), np.array([0.5])).tolist() == [True]


# Points in the order of k with strictly rising cost and time (positive steps), any accuracy.
step = st.floats(1e-6, 1e3, allow_nan=False)
rising_points = st.integers(0, 40).flatmap(
    lambda n: st.tuples(
        st.lists(step, min_size=n, max_size=n),
        st.lists(step, min_size=n, max_size=n),
        st.lists(coordinate, min_size=n, max_size=n),
    )
)


@settings(max_examples=200, deadline=None)
@given(rising_points)
def test_prefix_maximum_equals_the_general_method_when_cost_and_time_rise(pts) -> None:
    cost_steps, time_steps, accuracy = (np.array(x, dtype=np.float64) for x in pts)
    cost, time = np.cumsum(cost_steps), np.cumsum(time_steps)
    if not (np.all(np.diff(cost) > 0) and np.all(np.diff(time) > 0)):
        return  # steps lost to rounding: the precondition does not hold
    general = general_pareto_mask(cost, time, accuracy)
    assert np.array_equal(prefix_max_mask(accuracy), general)
    assert np.array_equal(pareto_mask(cost, time, accuracy), general)


def test_a_point_whose_cost_falls_is_judged_by_the_general_method() -> None:
    # k order with cost and time falling at the third point: it dominates the second although
    # it comes later, which a prefix maximum would miss.
    cost = np.array([1.0, 2.0, 1.5])
    time = np.array([1.0, 2.0, 1.8])
    accuracy = np.array([0.5, 0.7, 0.8])
    assert prefix_max_mask(accuracy).tolist() == [True, True, True]
    assert pareto_mask(cost, time, accuracy).tolist() == [True, False, True]
    assert pareto_mask(cost, time, accuracy).tolist() == brute_force_front(cost, time, accuracy).tolist()


def test_simulated_curves_take_the_prefix_maximum_and_agree_with_the_general_method() -> None:
    for model in (PAPER_MODELS["gpt5"], WIDE):
        run = run_one(model, make_scenario(k_max=64, parallelism=2), trials=2048, seed=3)
        c, t, a = run.curves.cost.mean, run.curves.time.mean, run.curves.accuracy.mean
        assert np.all(np.diff(c) > 0) and np.all(np.diff(t) > 0)
        assert np.array_equal(pareto_mask(c, t, a), general_pareto_mask(c, t, a))
        assert np.array_equal(prefix_max_mask(a), brute_force_front(c, t, a))
