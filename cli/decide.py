"""`infscale decide`: a stored sweep decided again under new budgets, from its curves alone."""

from __future__ import annotations

import argparse
from typing import Any

from infscale.cli.helptext import example
from infscale.cli.console import DB_HELP, add_output_flags, open_store, positive_int, print_json, resolve_sweep_id
from infscale.reports.documents import results_document
from infscale.reports.text import results_table
from infscale.reports.tables import to_csv


def add_decide(sub: Any) -> None:
    p = sub.add_parser(
        "decide", help="decide a stored sweep again under new budgets (no simulation)",
        description="Re-decide every method, and the cross-model recommendation, from the stored "
        "curves under new budgets: what a fresh run of the same sweep with those budgets would choose, "
        "in milliseconds. A budget left out keeps the scenario's own; k stays on the stored grid. A "
        "scenario with a chance constraint (min_probability) cannot move its budgets (that needs the "
        "per-trial draws).",
        epilog=example("infscale decide --sweep 1 --scenario balanced --max-total-cost 0.25 --min-accuracy 0.95"),
    )
    p.add_argument("--sweep", type=positive_int, help="sweep id (default: the latest finished sweep)")
    p.add_argument("--model", help="only this model's choices (recommendations stay across all models)")
    p.add_argument("--scenario", help="only this scenario (default: the new budgets apply to every scenario)")
    p.add_argument("--max-total-cost", type=float, metavar="USD", help="mean total cost budget per query")
    p.add_argument("--max-total-time", type=float, metavar="S", help="mean total latency budget per query")
    p.add_argument("--min-accuracy", type=float, metavar="A", help="minimum mean accuracy, in [0, 1]")
    p.add_argument("--accuracy-tolerance", type=float, metavar="D",
                   help="max accuracy's tolerance: the smallest k within D of the best mean accuracy (0: the paper's argmax)")
    p.add_argument("--no-confidence", action="store_true",
                   help="compute no confidence (the recommendations' from the curves, tens of milliseconds; a moved "
                   "choice's from a distributed sweep's stored trial blocks, a few tenths of a second); the picks are the same")
    p.add_argument("--db", help=DB_HELP)
    add_output_flags(p, "print JSON on stdout (the `results --json` contract)", "print the choices as CSV on stdout")
    p.set_defaults(handler=cmd_decide)


def cmd_decide(args: argparse.Namespace) -> int:
    from infscale.api import Database, decide_stored
    from infscale.engine.whatif import Budgets

    budgets = Budgets(args.max_total_cost, args.max_total_time, args.min_accuracy, args.accuracy_tolerance)
    database = Database(open_store(args.db))
    sweep = database.sweep(resolve_sweep_id(database.store, args.sweep))
    decisions = decide_stored(sweep, budgets, args.scenario, args.model, not args.no_confidence)
    if args.json:
        print_json(results_document(sweep.id, decisions.results, decisions.recommendations))
    elif args.csv:
        print(to_csv(decisions.results.columns()), end="")
    else:
        print(f"sweep {sweep.id} {sweep.info.name!r} decided again from its stored curves (no simulation)")
        print(results_table(decisions.results, decisions.recommendations, decisions.scenarios))
    return 0


REGISTRY = [add_decide]
