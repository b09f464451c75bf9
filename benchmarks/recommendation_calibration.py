"""Reliability of the cross-model recommendations' confidence against exact answers.

    python benchmarks/recommendation_calibration.py             # 30 seeds (about 25 s on 2 cores)
    python benchmarks/recommendation_calibration.py --quick     # 8 seeds (about 8 s)

tests/test_calibration.py checks the per-run confidence (engine.confidence) against exact
answers; this script does the same for the confidence of the cross-model recommendations
(engine.recommendation_confidence, attached by engine.pipeline.recommend_scenario). For every
case and seed it runs the sweep in-process (engine.pipeline.run_sweep) and judges each
recommendation (scenario x method) against the recommendation `recommend` makes on exact curves
(engine.exact_curves): maximal accuracy is right when its (model, k) is truly feasible and
within the scenario's accuracy tolerance of the truly best feasible accuracy, the other methods
when they pick the exact (model, k), infeasible / no knee when the exact answer says so (the
definitions of tests/test_calibration.py, across models). It prints, per confidence bin and per
method, the count, the mean confidence, the observed frequency right with its 95% Clopper-Pearson
interval and whether the mean confidence lies inside it, and the Brier score; then the same for
the per-run confidence on the same runs (judged by tests/test_calibration.right).

Cases (budgets from tests/test_calibration.toy_cases: the toy model's cost budget and
min_accuracy at -2, -1, -0.5, +0.5, +1, +2 standard errors from its deciding means at 8 x 1024
trials): `toy alone` (one model, so every recommendation is that run's choice, picked the same
way: the two confidences judge identical picks); `three toys` (the toy and two near neighbours,
one cheaper and less accurate, one dearer and more accurate); `paper` (the nine paper models
under the three paper scenarios at 4 x 1024 trials). The last two columns count the picks
reported as sure (confidence >= 0.9) that were wrong and as hopeless (< 0.1) that were right.

What it found (30 seeds, 25 s on a shared 2-core machine, 2026-12-02; the default command): the
cross-model confidence is not calibrated like the per-run one. On identical picks (toy alone)
the per-run confidence's mean lies inside the frequency's 95% interval in all ten bins (Brier
0.062); the cross-model one misses both extreme bins: 33 of 882 picks at mean confidence 0.990
were wrong (0.963 right, [0.948, 0.974]) and 8 of 242 at 0.005 were right, all 8 and 24 of the
33 knee picks (per-run on the same picks: 4 knee picks wrong at >= 0.9, none right at < 0.1).
Three toys: 46 of 806 wrong at 0.984 (38 knee). On the paper models it is under-confident:
all 45 picks between 0.1 and 0.7 were right, 21 of 63 at mean 0.004 were right; maximal
accuracy averages 0.276 against 0.533 right and the knee 0.705 against 1.000 (per-run on the
same runs: 0.529 against 0.535, 0.822 against 0.819). Over all cases the Brier score is 0.083
against the per-run confidence's 0.035; max cube and utopia are within their intervals per case.
The misses are the picks decided by comparing k's of one model (the knee: the frontier's
shape; maximal accuracy: a k against its own model's best, within the tolerance), which fits
the suspected cause: a draw moves every k of a model by z * se(k) with one z per model and
metric, so the difference between two k of a model moves only by z * (se(k) - se(k')) across
draws, not by its own standard error: those picks' confidence goes to 0 or 1 (or, on the paper
models, to wherever the small se gap puts it: the knee's, which ends at the maximal-accuracy
pick, follows that pick's), where the per-run confidence (drawn from the block means'
covariance, so paired differences vary by their own standard errors) stays graded.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from scipy.stats import beta

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from infscale.engine.exact_curves import exact_curves  # noqa: E402
from infscale.engine.pipeline import knee_variant, run_sweep  # noqa: E402
from infscale.engine.plan import simulation_groups  # noqa: E402
from infscale.engine.selection import Decision, Method, Recommendation, Status, decide, recommend  # noqa: E402
from infscale.engine.specs import ModelSpec, ScenarioSpec, SweepSpec  # noqa: E402
from infscale.engine.statistics import Curves  # noqa: E402
from tests.engine_fixtures import PAPER_MODELS, PAPER_SCENARIOS, make_model, make_sweep  # noqa: E402
from tests.test_calibration import TOY, TRIALS, right, toy_cases  # noqa: E402

BIN_EDGES = np.linspace(0.0, 1.0, 11)
PAPER_TRIALS = 4 * 1024
# Near neighbours of the toy model, so that which model is best is as uncertain as which k.
TOY_CHEAP = make_model("toy-cheap", c_out=0.9e-5, acc_mean=0.79)
TOY_DEAR = make_model("toy-dear", c_out=1.1e-5, acc_mean=0.81)


@dataclass(frozen=True)
class Case:
    name: str
    models: tuple[ModelSpec, ...]
    scenarios: tuple[ScenarioSpec, ...]
    trials: int


@dataclass(frozen=True)
class Outcome:
    """One judged pick: which confidence ('recommendation' or 'run'), its method, confidence, rightness."""

    case: str
    kind: str
    method: Method
    confidence: float
    right: bool


@dataclass(frozen=True)
class Row:
    """One line of a reliability table."""

    label: str
    n: int
    mean_confidence: float
    frequency: float
    low: float
    high: float
    sure_wrong: int  # confidence >= 0.9 yet wrong
    unsure_right: int  # confidence < 0.1 yet right

    @property
    def inside(self) -> bool:
        return self.low <= self.mean_confidence <= self.high


def cases() -> list[Case]:
    toy_scenarios = tuple(s for _, s in toy_cases())
    return [Case("toy alone", (TOY,), toy_scenarios, TRIALS),
            Case("three toys", (TOY, TOY_CHEAP, TOY_DEAR), toy_scenarios, TRIALS),
            Case("paper", tuple(PAPER_MODELS.values()), tuple(PAPER_SCENARIOS.values()), PAPER_TRIALS)]


def exact_truth(sweep: SweepSpec) -> tuple[dict[tuple[str, str], tuple[Curves, Decision]], dict[str, tuple[Recommendation, ...]]]:
    """Per (model, scenario) the exact curves and decision, and per scenario the exact recommendations."""
    variant = knee_variant(sweep)
    runs: dict[tuple[str, str], tuple[Curves, Decision]] = {}
    for group in simulation_groups(sweep):
        for scenario, curves in zip(group.scenarios, exact_curves(group)):
            runs[group.model.key, scenario.name] = (curves, decide(curves, scenario, variant))
    recs = {s.name: recommend(s, [(m.key, *runs[m.key, s.name]) for m in sweep.models], variant) for s in sweep.scenarios}
    return runs, recs


def recommendation_right(rec: Recommendation, truth: Recommendation, scenario: ScenarioSpec,
                         exact: dict[tuple[str, str], tuple[Curves, Decision]], models: Sequence[str]) -> bool:
    """tests/test_calibration.right across models: the picked (model, k) judged on exact means."""
    if rec.status is not Status.OK or truth.status is not Status.OK:
        return (rec.status, rec.model, rec.k) == (truth.status, truth.model, truth.k)
    curves, decision = exact[rec.model, scenario.name]
    j = int(np.searchsorted(curves.k, rec.k))
    if not decision.feasible[j]:
        return False
    if rec.method is Method.MAX_ACCURACY:
        best = max(c.accuracy.mean[d.feasible].max() for c, d in (exact[m, scenario.name] for m in models)
                   if d.feasible.any())
        return curves.accuracy.mean[j] >= best - scenario.accuracy_tolerance
    return (rec.model, rec.k) == (truth.model, truth.k)


def outcomes(case_list: Sequence[Case], seeds: Sequence[int]) -> list[Outcome]:
    """Every recommendation and every per-run choice of every case and seed, judged exactly."""
    out: list[Outcome] = []
    for case in case_list:
        exact, truth = exact_truth(make_sweep(case.models, case.scenarios, 0))
        keys = [m.key for m in case.models]
        by_name = {s.name: s for s in case.scenarios}
        for seed in seeds:
            result = run_sweep(make_sweep(case.models, case.scenarios, case.trials, seed))
            for rec in result.recommendations:
                want = truth[rec.scenario][list(Method).index(rec.method)]
                ok = recommendation_right(rec, want, by_name[rec.scenario], exact, keys)
                out.append(Outcome(case.name, "recommendation", rec.method, rec.confidence, ok))
            for run in result.runs:
                curves, decision = exact[run.model.key, run.scenario.name]
                for choice in run.decision.choices:
                    ok = right(choice, decision, curves.accuracy.mean, run.curves.k, run.scenario)
                    out.append(Outcome(case.name, "run", choice.method, choice.confidence, ok))
    return out


def clopper_pearson(count: int, n: int) -> tuple[float, float]:
    """Exact (Clopper-Pearson) central 95% interval of a binomial frequency count / n."""
    low = 0.0 if count == 0 else float(beta.ppf(0.025, count, n - count + 1))
    high = 1.0 if count == n else float(beta.ppf(0.975, count + 1, n - count))
    return low, high


def summary(label: str, confidence: np.ndarray, ok: np.ndarray) -> Row:
    n = int(confidence.size)
    count = int(ok.sum())
    low, high = clopper_pearson(count, n)
    sure_wrong = int(np.sum((confidence >= 0.9) & (ok == 0)))
    unsure_right = int(np.sum((confidence < 0.1) & (ok == 1)))
    return Row(label, n, float(confidence.mean()), count / n, low, high, sure_wrong, unsure_right)


def reliability(rows: Sequence[Outcome]) -> tuple[list[Row], list[Row], float]:
    """Per confidence bin (empty bins left out), per method, and the Brier score."""
    confidence = np.array([r.confidence for r in rows], dtype=np.float64)
    ok = np.array([r.right for r in rows], dtype=np.float64)
    # The last bin holds 1.0 itself.
    which = np.minimum(np.searchsorted(BIN_EDGES, confidence, side="right") - 1, BIN_EDGES.size - 2)
    bins = [summary(f"{BIN_EDGES[b]:.1f}-{BIN_EDGES[b + 1]:.1f}", confidence[which == b], ok[which == b])
            for b in range(BIN_EDGES.size - 1) if np.any(which == b)]
    methods = np.array([r.method.value for r in rows])
    per_method = [summary(m.value, confidence[methods == m.value], ok[methods == m.value])
                  for m in Method if np.any(methods == m.value)]
    return bins, per_method, float(np.mean((confidence - ok) ** 2))


def table(title: str, rows: Sequence[Outcome]) -> str:
    rows = [r for r in rows if r.confidence is not None]
    if not rows:
        return f"{title}: no picks with a confidence\n"
    bins, per_method, brier = reliability(rows)
    lines = [f"{title} ({len(rows)} picks)",
             f"  {'bin / method':<14}{'n':>6}{'mean conf':>11}{'freq right':>12}{'95% interval':>18}  inside{'wrong>=.9':>11}{'right<.1':>10}"]
    for row in bins + [None] + per_method:
        if row is None:
            lines.append("  " + "-" * 82)
            continue
        lines.append(f"  {row.label:<14}{row.n:>6}{row.mean_confidence:>11.3f}{row.frequency:>12.3f}"
                     f"{f'[{row.low:.3f}, {row.high:.3f}]':>18}  {'yes' if row.inside else 'NO':>6}{row.sure_wrong:>11}{row.unsure_right:>10}")
    lines.append(f"  Brier score {brier:.4f}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, help="seeds per case (default 30, 8 with --quick)")
    parser.add_argument("--quick", action="store_true", help="8 seeds")
    args = parser.parse_args()
    seeds = args.seeds if args.seeds is not None else 8 if args.quick else 30
    print("command:", shlex.join(["python", *sys.argv]), flush=True)
    start = time.perf_counter()
    case_list = cases()
    rows = outcomes(case_list, range(seeds))
    print(f"runtime: {time.perf_counter() - start:.1f} s ({seeds} seeds; cases: "
          + ", ".join(f"{c.name} {len(c.models)} model(s) x {len(c.scenarios)} scenarios at {c.trials} trials" for c in case_list)
          + ")\n")
    for kind in ("recommendation", "run"):
        print(table(f"{kind} confidence, all cases", [r for r in rows if r.kind == kind]))
        for case in case_list:
            print(table(f"{kind} confidence, {case.name}", [r for r in rows if r.kind == kind and r.case == case.name]))


if __name__ == "__main__":
    main()
