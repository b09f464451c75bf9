"""The four selection methods (science.md section 3) on small hand-computed curves.

Budgets are Cmax = Tmax = 1 unless stated, so normalised points p(k) = (C, T, A) are the
numbers written in each case; values are dyadic where a tie must be exact in floating point.
"""

from __future__ import annotations

import numpy as np
import pytest

from infscale.engine.selection import Method, Status, decide, knee_position, recommend
from infscale.engine.specs import Knee
from tests.engine_fixtures import make_curves, make_scenario

UNIT = make_scenario(max_total_cost=1.0, max_total_time=1.0, min_accuracy=0.0, k_max=5)

# A frontier (C, T and A all strictly increase) bending at k = 3 in accuracy, and at k = 4 in
# time only. Central differences at the interior points (index 1..3 = k 2..4):
#   k=2: d1 = (.1, .1, .2),    d2 = (0, 0, 0)                 -> kappa = 0 in 3-D and 2-D
#   k=3: d1 = (.1, .1, .105),  d2 = (0, 0, -.19)              -> |d1 x d2| = .0269, |d1|^3 = .00546:
#        kappa_3D = 4.92; the (C, T) cross product d1x d2y - d1y d2x = 0 -> kappa_2D = 0
#   k=4: d1 = (.1, .15, .005), d2 = (0, .1, 0)                -> |d1 x d2| = .0100, |d1|^3 = .00587:
#        kappa_3D = 1.71; kappa_2D = |.1 * .1 - .15 * 0| / .00587 = 1.70
# So the 3-D knee is k = 3 (where accuracy stops paying) and the legacy 2-D knee is k = 4.
KNEE_CURVES = make_curves(
    k=[1, 2, 3, 4, 5],
    cost=[0.1, 0.2, 0.3, 0.4, 0.5],
    time=[0.1, 0.2, 0.3, 0.4, 0.6],
    accuracy=[0.5, 0.7, 0.9, 0.91, 0.92],
)


def choice_k(curves, scenario=UNIT, method: Method = Method.KNEE, knee: Knee = Knee.CURVATURE):
    return decide(curves, scenario, knee).choice(method).k


def test_max_accuracy_picks_the_most_accurate_feasible_k() -> None:
    curves = make_curves([1, 2, 3, 4], [0.2, 0.4, 0.6, 1.2], [0.1, 0.2, 0.3, 0.4], [0.6, 0.7, 0.8, 0.9])
    # k = 4 is the most accurate but over the cost budget.
    assert choice_k(curves, method=Method.MAX_ACCURACY) == 3


def test_max_cube_picks_the_largest_box_volume() -> None:
    # (1 - C)(1 - T) A per k: .9*.9*.5 = .405, .8*.8*.7 = .448, .7*.7*.8 = .392, .5*.5*.9 = .225
    curves = make_curves([1, 2, 3, 4], [0.1, 0.2, 0.3, 0.5], [0.1, 0.2, 0.3, 0.5], [0.5, 0.7, 0.8, 0.9])
    assert choice_k(curves, method=Method.MAX_CUBE) == 2
    # The budgets normalise: with Cmax = Tmax = 2 the volumes (1 - C/2)(1 - T/2) A are
    # .9025*.5 = .451, .81*.7 = .567, .7225*.8 = .578, .5625*.9 = .506 -> k = 3.
    wide = make_scenario(max_total_cost=2.0, max_total_time=2.0, k_max=4)
    assert choice_k(curves, wide, Method.MAX_CUBE) == 3


def test_utopia_picks_the_frontier_point_nearest_zero_zero_one() -> None:
    # Distances sqrt(C^2 + T^2 + (1 - A)^2): .510, .361, .412, .539 -> k = 2.
    curves = make_curves([1, 2, 3, 4], [0.1, 0.2, 0.3, 0.4], [0.1, 0.2, 0.3, 0.4], [0.5, 0.75, 0.9, 0.95])
    assert choice_k(curves, method=Method.UTOPIA) == 2


def test_utopia_ignores_points_off_the_frontier() -> None:
    # k = 3 is nearest the utopia (.1414) but k = 2 dominates it (cheaper, faster, as accurate).
    curves = make_curves([1, 2, 3], [0.5, 0.05, 0.1], [0.5, 0.05, 0.1], [0.5, 0.85, 0.85])
    decision = decide(curves, UNIT)
    assert decision.frontier.tolist() == [False, True, False]
    assert decision.choice(Method.UTOPIA).k == 2


def test_knee_is_the_point_of_maximum_3d_curvature() -> None:
    decision = decide(KNEE_CURVES, UNIT)
    assert decision.frontier.all()
    assert decision.choice(Method.KNEE).k == 3
    assert decision.choice(Method.KNEE).status is Status.OK


def test_legacy_2d_knee_differs_from_the_3d_knee() -> None:
    assert choice_k(KNEE_CURVES, knee=Knee.CURVATURE_2D) == 4
    assert choice_k(KNEE_CURVES, knee=Knee.CURVATURE) == 3


def test_knee_position_on_raw_points() -> None:
    points = np.column_stack((KNEE_CURVES.cost.mean, KNEE_CURVES.time.mean, KNEE_CURVES.accuracy.mean))
    assert knee_position(points, Knee.CURVATURE) == 2
    assert knee_position(points, Knee.CURVATURE_2D) == 3
    assert knee_position(points[:2], Knee.CURVATURE) is None


@pytest.mark.parametrize(
    "method, curves",
    [
        # Accuracy .75 at k = 2 and k = 3.
        (Method.MAX_ACCURACY, make_curves([1, 2, 3], [0.1, 0.2, 0.3], [0.1, 0.2, 0.3], [0.5, 0.75, 0.75])),
        # Volumes .5*.5*.5 = .125, then .5*.5*.8 = .2 at k = 2 and .25*1*.8 = .2 at k = 3 (exact).
        (Method.MAX_CUBE, make_curves([1, 2, 3], [0.5, 0.5, 0.75], [0.5, 0.5, 0.0], [0.5, 0.8, 0.8])),
        # Frontier k = 2 (0, .5, .5) and k = 3 (.5, .5, 1): both at squared distance .5 (exact);
        # k = 1 (0, .5, .25) is dominated by k = 2.
        (Method.UTOPIA, make_curves([1, 2, 3], [0.0, 0.0, 0.5], [0.5, 0.5, 0.5], [0.25, 0.5, 1.0])),
        # C = T = k/8, A = (.25, .5, .625, .75, 1): d2 of A is -.125, 0, +.125 at k = 2, 3, 4 with
        # equal |d1|, so kappa(k=2) == kappa(k=4) exactly.
        (Method.KNEE, make_curves([1, 2, 3, 4, 5], [0.125, 0.25, 0.375, 0.5, 0.625],
                                  [0.125, 0.25, 0.375, 0.5, 0.625], [0.25, 0.5, 0.625, 0.75, 1.0])),
    ],
    ids=lambda v: v.value if isinstance(v, Method) else "",
)
def test_ties_go_to_the_smallest_k(method: Method, curves) -> None:
    assert choice_k(curves, method=method) == 2


def assert_all_infeasible(curves, scenario, *in_reason: str, not_in_reason: tuple[str, ...] = ()) -> str:
    decision = decide(curves, scenario)
    assert not decision.feasible.any() and not decision.frontier.any()
    reasons = {c.reason for c in decision.choices}
    assert len(reasons) == 1
    reason = reasons.pop()
    for c in decision.choices:
        assert c.status is Status.INFEASIBLE and c.k is None
    for text in in_reason:
        assert text in reason, reason
    for text in not_in_reason:
        assert text not in reason, reason
    return reason


RISING = make_curves([2, 4, 6, 8], [0.2, 0.4, 0.6, 0.8], [10.0, 20.0, 30.0, 40.0], [0.80, 0.85, 0.88, 0.90])


def test_infeasible_accuracy_unreachable() -> None:
    scenario = make_scenario(max_total_cost=1.0, max_total_time=100.0, min_accuracy=0.95, k_max=8)
    assert_all_infeasible(RISING, scenario, "min_accuracy 0.95", "k <= 8", not_in_reason=("max_total_cost", "max_total_time"))


def test_infeasible_cost_exceeded_at_the_first_k() -> None:
    scenario = make_scenario(max_total_cost=0.1, max_total_time=100.0, min_accuracy=0.5, k_max=8)
    assert_all_infeasible(RISING, scenario, "max_total_cost 0.1", "k=2", not_in_reason=("min_accuracy", "max_total_time"))


def test_infeasible_accuracy_and_cost_conflict() -> None:
    # Accuracy .88 needs k >= 6; cost .5 allows only k <= 4; time 35 alone would allow k = 6.
    scenario = make_scenario(max_total_cost=0.5, max_total_time=35.0, min_accuracy=0.88, k_max=8)
    reason = assert_all_infeasible(RISING, scenario, "min_accuracy 0.88 needs k >= 6", "max_total_cost 0.5 allows only k <= 4",
                                   not_in_reason=("max_total_time",))
    assert reason.startswith("min_accuracy")


def test_infeasible_accuracy_and_time_conflict() -> None:
    scenario = make_scenario(max_total_cost=1.0, max_total_time=25.0, min_accuracy=0.88, k_max=8)
    assert_all_infeasible(RISING, scenario, "needs k >= 6", "max_total_time 25 allows only k <= 4",
                          not_in_reason=("max_total_cost",))


def test_infeasible_when_no_single_k_meets_all_three() -> None:
    """Non-monotone curves (legacy mode re-draws every k): accuracy is reached at k = 3 and 5,
    each budget alone is met at some k >= 3, but k = 3 is too slow and k = 5 too dear.
    Regression: the reason used to end in "needs k >= 3, but " with nothing after it."""
    curves = make_curves([1, 2, 3, 4, 5], [0.1, 0.2, 0.3, 0.4, 2.0], [0.1, 0.2, 2.0, 0.4, 0.5], [0.8, 0.8, 0.9, 0.8, 0.9])
    scenario = make_scenario(max_total_cost=1.0, max_total_time=1.0, min_accuracy=0.85, k_max=5)
    reason = assert_all_infeasible(curves, scenario, "min_accuracy 0.85 needs k >= 3", "max_total_cost", "max_total_time")
    assert not reason.rstrip().endswith("but")


def test_no_curvature_knee_when_the_frontier_has_fewer_than_three_points() -> None:
    # Four feasible k, but k = 3 and 4 are dominated by k = 2 (no more accurate, dearer).
    curves = make_curves([1, 2, 3, 4], [0.1, 0.2, 0.3, 0.4], [0.1, 0.2, 0.3, 0.4], [0.7, 0.9, 0.9, 0.9])
    decision = decide(curves, UNIT, Knee.CURVATURE)
    assert decision.feasible.all() and decision.frontier.tolist() == [True, True, False, False]
    knee = decision.choice(Method.KNEE)
    assert knee.status is Status.NO_KNEE and knee.k is None and "2 point" in knee.reason
    for method in (Method.MAX_ACCURACY, Method.MAX_CUBE, Method.UTOPIA):
        assert decision.choice(method).status is Status.OK


def test_chance_constraint_changes_feasibility() -> None:
    curves = make_curves(
        [1, 2, 3, 4], [0.1, 0.2, 0.3, 0.4], [0.1, 0.2, 0.3, 0.4], [0.7, 0.8, 0.9, 0.95],
        feasible_probability=[0.2, 0.6, 0.93, 0.85],
    )
    on_means = make_scenario(max_total_cost=1.0, max_total_time=1.0, min_accuracy=0.7, k_max=4)
    assert decide(curves, on_means).feasible.all()
    assert decide(curves, on_means).choice(Method.MAX_ACCURACY).k == 4
    chance = make_scenario(max_total_cost=1.0, max_total_time=1.0, min_accuracy=0.7, k_max=4, min_probability=0.9)
    decision = decide(curves, chance)
    assert decision.feasible.tolist() == [False, False, True, False]
    assert decision.choice(Method.MAX_ACCURACY).k == 3
    strict = make_scenario(max_total_cost=1.0, max_total_time=1.0, min_accuracy=0.7, k_max=4, min_probability=0.95)
    assert_all_infeasible(curves, strict, "probability >= 0.95", "0.930 at k=3")


# --- across models -----------------------------------------------------------------------------


def recommend_k(scenario, named_curves, method: Method):
    runs = [(name, curves, decide(curves, scenario)) for name, curves in named_curves]
    rec = next(r for r in recommend(scenario, runs) if r.method is method)
    return rec.model, rec.k


def test_recommend_picks_model_and_k() -> None:
    scenario = make_scenario(max_total_cost=1.0, max_total_time=1.0, min_accuracy=0.8, k_max=3)
    big = make_curves([1, 2, 3], [0.3, 0.6, 0.9], [0.2, 0.4, 0.6], [0.85, 0.9, 0.92])
    small = make_curves([1, 2, 3], [0.05, 0.1, 0.15], [0.05, 0.1, 0.15], [0.7, 0.82, 0.88])
    named = [("big", big), ("small", small)]
    assert recommend_k(scenario, named, Method.MAX_ACCURACY) == ("big", 3)
    # Volumes: big .7*.8*.85 = .476, .4*.6*.9 = .216, ...; small k=2 .9*.9*.82 = .664, k=3 .85^2*.88 = .636
    assert recommend_k(scenario, named, Method.MAX_CUBE) == ("small", 2)
    # Distances: small k=2: sqrt(2*.1^2 + .18^2) = .229, small k=3: sqrt(2*.15^2 + .12^2) = .244,
    # big k=1: sqrt(.09 + .04 + .0225) = .390
    assert recommend_k(scenario, named, Method.UTOPIA) == ("small", 2)


def test_recommend_ties_go_to_the_smallest_k_then_the_first_model() -> None:
    scenario = make_scenario(max_total_cost=1.0, max_total_time=1.0, min_accuracy=0.5, k_max=3)
    first = make_curves([1, 2, 3], [0.1, 0.2, 0.3], [0.1, 0.2, 0.3], [0.5, 0.75, 0.875])
    second = make_curves([1, 2, 3], [0.1, 0.2, 0.3], [0.1, 0.2, 0.3], [0.75, 0.875, 0.875])
    # .875 at first/k=3, second/k=2 and second/k=3: the smallest k wins although listed second.
    assert recommend_k(scenario, [("first", first), ("second", second)], Method.MAX_ACCURACY) == ("second", 2)
    # The same curves under two names: same k, the model listed first wins.
    assert recommend_k(scenario, [("a", second), ("b", second)], Method.MAX_ACCURACY) == ("a", 2)
    assert recommend_k(scenario, [("b", second), ("a", second)], Method.MAX_ACCURACY) == ("b", 2)


def test_recommend_knee_follows_the_joint_frontier_in_cost_order() -> None:
    """The five KNEE_CURVES points split between two models: in cost order x1, y1, x2, y2, x3."""
    x = make_curves([1, 2, 3], [0.1, 0.3, 0.5], [0.1, 0.3, 0.6], [0.5, 0.9, 0.92])
    y = make_curves([1, 2], [0.2, 0.4], [0.2, 0.4], [0.7, 0.91])
    runs = [(name, c, decide(c, UNIT)) for name, c in (("x", x), ("y", y))]
    picks = {
        variant: next(r for r in recommend(UNIT, runs, variant) if r.method is Method.KNEE)
        for variant in (Knee.CURVATURE, Knee.CURVATURE_2D)
    }
    assert (picks[Knee.CURVATURE].model, picks[Knee.CURVATURE].k) == ("x", 2)
    assert (picks[Knee.CURVATURE_2D].model, picks[Knee.CURVATURE_2D].k) == ("y", 2)


def test_recommend_infeasible_names_every_model() -> None:
    scenario = make_scenario(max_total_cost=1.0, max_total_time=1.0, min_accuracy=0.99, k_max=3)
    curves = make_curves([1, 2, 3], [0.1, 0.2, 0.3], [0.1, 0.2, 0.3], [0.5, 0.6, 0.7])
    runs = [(name, curves, decide(curves, scenario)) for name in ("m1", "m2")]
    for rec in recommend(scenario, runs):
        assert rec.status is Status.INFEASIBLE and rec.model is None and rec.k is None
        assert "m1:" in rec.reason and "m2:" in rec.reason and "min_accuracy 0.99" in rec.reason


def test_chord_knee_is_the_point_farthest_above_the_chord_from_the_scenario_corner() -> None:
    """(0, 0, min_accuracy) to the maximal-accuracy pick k = 4; distances by hand: k = 2 is
    farthest above; k = 5 (past the pick, within the tolerance) does not count."""
    scenario = make_scenario(max_total_cost=1.0, max_total_time=1.0, min_accuracy=0.5, k_max=5, accuracy_tolerance=0.001)
    curves = make_curves([1, 2, 3, 4, 5], [0.1, 0.2, 0.3, 0.4, 0.9], [0.1, 0.2, 0.3, 0.4, 0.9],
                         [0.80, 0.95, 0.97, 0.99, 0.9905])
    decision = decide(curves, scenario)
    assert decision.choice(Method.MAX_ACCURACY).k == 4
    p = np.column_stack(([0.1, 0.2, 0.3, 0.4], [0.1, 0.2, 0.3, 0.4], [0.80, 0.95, 0.97, 0.99]))
    u = (p[-1] - [0, 0, 0.5]) / np.linalg.norm(p[-1] - [0, 0, 0.5])
    off = p - [0, 0, 0.5]
    dist = np.linalg.norm(off - np.outer(off @ u, u), axis=1)
    assert decision.choice(Method.KNEE).k == 1 + int(np.argmax(dist)) == 2


def test_no_chord_knee_when_nothing_bulges_above_the_chord() -> None:
    convex = make_curves([1, 2, 3], [0.1, 0.2, 0.3], [0.1, 0.2, 0.3], [0.80, 0.81, 0.99])
    knee = decide(convex, make_scenario(max_total_cost=1.0, max_total_time=1.0, min_accuracy=0.79, k_max=3)).choice(Method.KNEE)
    assert knee.status is Status.NO_KNEE and "above the chord" in knee.reason
