"""What the CLI prints: JSON documents for scripts and tables for people, from stored rows."""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from infscale.reports.series import METHOD_ORDER, json_float
from infscale.reports.tables import chosen_by_k, curves_columns


def results_document(sweep_id: int, choices: Sequence[Any], recommendations: Sequence[Any],
                     status: str = "done") -> dict[str, Any]:
    """The `--json` contract of `run` and `results` (`status`: the sweep's; only `results` can
    show one that has not finished)."""
    return {
        "sweep": sweep_id,
        "status": status,
        "results": [
            {
                "model": c.model, "scenario": c.scenario, "method": c.method, "status": c.status,
                "k": c.k, "total_cost": json_float(c.total_cost), "total_time": json_float(c.total_time),
                "accuracy": json_float(c.accuracy), "reason": c.reason, "confidence": json_float(c.confidence),
                "trials": c.trials, "stop_reason": c.stop_reason,
            }
            for c in choices
        ],
        "recommendations": [
            {
                "scenario": r.scenario, "method": r.method, "status": r.status, "model": r.model,
                "k": r.k, "total_cost": json_float(r.total_cost), "total_time": json_float(r.total_time),
                "accuracy": json_float(r.accuracy), "reason": r.reason, "confidence": json_float(r.confidence),
            }
            for r in recommendations
        ],
    }


def curves_document(stored: Any, choices: Sequence[Any] = ()) -> dict[str, Any]:
    """The `--json` contract of `curves`: one array per column, aligned on k, and the k each
    method chose (`chosen`: method -> k, null when it chose none)."""
    doc: dict[str, Any] = {"model": stored.model, "scenario": stored.scenario, "trials": stored.curves.trials}
    doc.update(curves_columns(stored, choices))
    doc["chosen"] = {c.method: c.k for c in choices}
    return doc


def results_table(choices: Sequence[Any], recommendations: Sequence[Any], scenarios: Iterable[Any] = ()) -> str:
    """Per scenario: chosen k per model and method, then the cross-model recommendation."""
    budgets = {s.name: s for s in scenarios}
    lines: list[str] = []
    for scenario in _unique(c.scenario for c in choices):
        spec = budgets.get(scenario)
        head = f"scenario {scenario}"
        if spec is not None:
            head += (
                f"  (cost <= ${spec.max_total_cost:g}, time <= {spec.max_total_time:g} s, "
                f"accuracy >= {spec.min_accuracy:g}"
                + (f", P(all met) >= {spec.min_probability:g}" if spec.min_probability is not None else "")
                + f"; k <= {spec.k_max}, P = {spec.parallelism}"
                + (f", {spec.latency.value} latency)" if spec.latency.value != "paper" else ")")
            )
        lines += ["", head]
        rows = [c for c in choices if c.scenario == scenario]
        width = max(len("model"), *(len(c.model) for c in rows))
        lines.append(f"  {'model':<{width}}  " + "  ".join(f"{m:>12}" for m in METHOD_ORDER))
        for model in _unique(c.model for c in rows):
            by_method = {c.method: c for c in rows if c.model == model}
            cells = [_k_cell(by_method.get(m)) for m in METHOD_ORDER]
            lines.append(f"  {model:<{width}}  " + "  ".join(f"{cell:>12}" for cell in cells))
        infeasible = [c for c in rows if c.status == "infeasible" and c.method == "max_accuracy"]
        for c in infeasible:
            lines.append(f"  ! {c.model}: infeasible: {c.reason}")
        for c in rows:  # `trials: auto`: how many trials each run took, and why it stopped there
            if c.stop_reason is not None and c.method == METHOD_ORDER[0]:
                lines.append(f"  trials {c.model}: {c.trials} ({c.stop_reason})")
        recs = [r for r in recommendations if r.scenario == scenario]
        if recs:
            lines.append("  across models:")
            for r in recs:
                if r.status == "ok":
                    lines.append(
                        f"    {r.method:<12}  {r.model} k={r.k}  cost ${r.total_cost:.4f}  "
                        f"time {r.total_time:.2f} s  accuracy {r.accuracy:.4f}"
                        + ("" if r.confidence is None else f"  confidence {r.confidence:.2f}")
                    )
                else:
                    lines.append(f"    {r.method:<12}  {r.status}: {r.reason}")
    lines.append("")
    lines.append("cells: chosen k ('-' infeasible, 'none' no knee: fewer than 3 frontier points)")
    if any(c.confidence is not None for c in choices):
        lines.append("  (in brackets its confidence: the estimated probability that the choice is right, "
                     "i.e. truly feasible and best for its method)")
    return "\n".join(lines)


def trials_text(sweep: Any) -> str:
    """A sweep's trial count as a header says it: "100000 trials" or what `trials: auto` asks."""
    if sweep.mode.value == "exact":
        return "exact expectations, no trials"
    if sweep.adaptive is None:
        return f"{sweep.trials} trials"
    a = sweep.adaptive
    return f"auto trials (until every confidence >= {a.target_confidence:g}, at most {a.max_trials})"


def curves_table(stored: Any, choices: Sequence[Any] = ()) -> str:
    """k, means with standard errors, spread, feasibility, frontier membership and the methods
    that chose each k."""
    c = stored.curves
    chosen = chosen_by_k(choices)
    lines = [
        f"{stored.model} under {stored.scenario}: {c.trials} trials",
        f"{'k':>6} {'cost $':>10} {'+-se':>9} {'time s':>9} {'+-se':>8} {'accuracy':>9} {'+-se':>9} "
        f"{'acc p05..p95':>15} {'P(ok)':>6}  flags",
    ]
    for j, k in enumerate(c.k):
        flags = ("feasible" if stored.feasible[j] else "") + (" frontier" if stored.on_frontier[j] else "")
        if int(k) in chosen:
            flags += "  <- " + ", ".join(chosen[int(k)])
        lines.append(
            f"{k:>6} {c.cost.mean[j]:>10.4f} {c.cost.se[j]:>9.2e} {c.time.mean[j]:>9.2f} {c.time.se[j]:>8.2e} "
            f"{c.accuracy.mean[j]:>9.4f} {c.accuracy.se[j]:>9.2e} "
            f"{c.accuracy.p05[j]:>7.4f}..{c.accuracy.p95[j]:<6.4f} {c.feasible_probability[j]:>6.3f}  {flags.strip()}"
        )
    return "\n".join(lines)


def _k_cell(choice: Any) -> str:
    if choice is None:
        return "?"
    if choice.status == "ok":
        cell = str(choice.k)
    else:
        cell = "none" if choice.status == "no_knee" else "-"
    return cell if choice.confidence is None else f"{cell} ({choice.confidence:.2f})"



def _unique(values: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for v in values:
        seen.setdefault(v, None)
    return list(seen)

