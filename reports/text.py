"""Text for people: the tables and words the CLI prints and the report and dashboard reuse.

`METHOD_ORDER` is the one order methods are shown in (the engine's `Method` order);
`k_text` and `status_text` the one way a choice's status reads.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from infscale.engine.selection import Method

METHOD_ORDER = tuple(m.value for m in Method)
"""Selection methods in the order every table, document and picture shows them."""


def k_text(status: str, k: int | None) -> str:
    """A chosen k as a table cell: the k, 'none' (no knee: fewer than 3 frontier points) or '-'."""
    return str(k) if status == "ok" else {"no_knee": "none"}.get(status, "-")


def status_text(status: str) -> str:
    """A choice's status in words."""
    return {"no_knee": "no knee"}.get(status, status)


def waiting_words(progress: Any) -> str | None:
    """What a running sweep waits for when shards are lost (a scheduler.progress.SweepProgress):
    "2 shards lost, re-sent at 07:45:12 UTC"; None when it waits for nothing lost."""
    n = progress.waiting_shards
    if not n:
        return None
    words = f"{n} shard{'s' if n != 1 else ''} lost"
    if progress.resent_at is None:
        return words + ", to be sent again by the periodic check"
    return words + f", re-sent at {progress.resent_at:%H:%M:%S} UTC"


def chosen_by_k(choices: Sequence[Any]) -> dict[int, tuple[str, ...]]:
    """k -> the methods (in method order) whose choice is that k."""
    out: dict[int, list[str]] = {}
    for c in sorted(choices, key=lambda c: METHOD_ORDER.index(c.method)):
        if c.status == "ok" and c.k is not None:
            out.setdefault(int(c.k), []).append(c.method)
    return {k: tuple(v) for k, v in out.items()}






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
    cell = k_text(choice.status, choice.k)
    return cell if choice.confidence is None else f"{cell} ({choice.confidence:.2f})"



def _unique(values: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for v in values:
        seen.setdefault(v, None)
    return list(seen)

