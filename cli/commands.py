"""Handlers of the local commands: run, results, curves, validate, catalog.

Each `add_*` registers one subcommand; each handler is thin: load, call the engine or the
store, render.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from infscale.cli.dates import as_of_time, format_time
from infscale.cli.helptext import example
from infscale.cli.console import (
    DB_HELP,
    add_output_flags,
    elapsed,
    open_store,
    positive_int,
    print_json,
    progress_bar,
    resolve_sweep_id,
)
from infscale.reports.documents import curves_document, results_document
from infscale.reports.text import curves_table, results_table, trials_text
from infscale.engine.errors import InfscaleError
from infscale.reports.tables import columns_of, curves_columns, to_csv

EXIT_UNFINISHED = 3  # results of a sweep that has not finished, without --partial


def add_run(sub: Any) -> None:
    p = sub.add_parser(
        "run", help="run a sweep on this machine (all cores, no servers) and store the results",
        description="Simulate every model x scenario of SWEEP.yaml in-process on all cores, choose k "
        "four ways, store curves, frontiers and choices in the database, and print them.",
        epilog=example("infscale run examples/quick.yaml --workers 2",
                       "infscale run examples/quick.yaml --json > result.json"),
    )
    p.add_argument("sweep", metavar="SWEEP.yaml", help="sweep file (see examples/paper.yaml)")
    p.add_argument("--db", help=DB_HELP)
    p.add_argument("--workers", type=positive_int, help="processes to use (default: all cores)")
    p.add_argument("--json", action="store_true", help="print the stored results as JSON on stdout")
    p.set_defaults(handler=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    from infscale.engine.plan import plan_sweep
    from infscale.readers.sweep_files import load_sweep
    from infscale.scheduler.local import run_local, total_trials
    from infscale.scheduler.pricing import priced

    sweep = load_sweep(args.sweep)
    store = open_store(args.db, create=True)  # before the work: a bad --db fails at once
    sweep = priced(sweep, store)  # litellm_key models: prices from the history, or one line
    start = time.perf_counter()
    update, close = progress_bar(total_trials(sweep), sweep.name)
    try:
        result = run_local(sweep, workers=args.workers, progress=update)
    finally:
        close()
    sweep_id = store.save_local_result(plan_sweep(sweep), result)
    choices, recs = store.choices(sweep_id), store.recommendations(sweep_id)
    if args.json:
        print_json(results_document(sweep_id, choices, recs))
        return 0
    print(
        f"sweep {sweep_id} {sweep.name!r}: {len(sweep.models)} models x {len(sweep.scenarios)} scenarios, "
        f"{trials_text(sweep)}, seed {sweep.seed}, {sweep.mode.value} mode, {elapsed(start)}"
    )
    print(results_table(choices, recs, sweep.scenarios))
    print(f"stored in {store.url}; again with: infscale results --sweep {sweep_id}")
    return 0


def add_results(sub: Any) -> None:
    p = sub.add_parser(
        "results", help="the chosen k of a stored sweep (latest by default)",
        description="Show the k each method chose per model and scenario, and the cross-model "
        "recommendation, for a stored sweep. A sweep that has not finished (running, failed or "
        "cancelled) shows the runs done so far, says so on stderr and exits 3, unless --partial; "
        "--json carries the sweep's status.",
        epilog=example("infscale results --scenario balanced", "infscale results --sweep 1 --json > results.json"),
    )
    p.add_argument("--db", help=DB_HELP)
    p.add_argument("--sweep", type=positive_int, help="sweep id (default: the latest finished sweep)")
    p.add_argument("--model", help="only this model key")
    p.add_argument("--scenario", help="only this scenario")
    p.add_argument("--as-of", type=as_of_time, metavar="DATE",
                   help="the revisions in force at that time: ISO date (its end) or datetime, UTC")
    add_output_flags(p, "print JSON on stdout", "print the choices as CSV on stdout")
    p.add_argument("--partial", action="store_true",
                   help="exit 0 on a sweep that has not finished, with the runs done so far")
    p.set_defaults(handler=cmd_results)


def cmd_results(args: argparse.Namespace) -> int:
    store = open_store(args.db)
    sweep_id = resolve_sweep_id(store, args.sweep, args.as_of)
    status = store.sweep(sweep_id).status
    unfinished = _unfinished(store, sweep_id, status)
    choices = store.choices(sweep_id, model=args.model, scenario=args.scenario, as_of=args.as_of)
    if not choices:
        when = f" as of {format_time(args.as_of)}" if args.as_of else ""
        if unfinished:
            raise InfscaleError(f"{unfinished}; no results for model={args.model} scenario={args.scenario}{when} yet")
        raise InfscaleError(f"sweep {sweep_id}: no results for model={args.model} scenario={args.scenario}{when}")
    recs = store.recommendations(sweep_id, scenario=args.scenario, as_of=args.as_of)
    if args.csv:
        print(to_csv(columns_of(choices)), end="")
    elif args.json:
        print_json(results_document(sweep_id, choices, recs, status))
    else:
        spec = store.sweep_spec(sweep_id)
        print(f"sweep {sweep_id} {spec.name!r}: {trials_text(spec)}, seed {spec.seed}, {spec.mode.value} mode"
              + (f", as of {format_time(args.as_of)}" if args.as_of else "") + (f", {status}" if unfinished else ""))
        print(results_table(choices, recs, spec.scenarios))
    if unfinished and not args.partial:
        print(f"infscale: {unfinished}: these results are partial (--partial accepts them)", file=sys.stderr)
        return EXIT_UNFINISHED
    return 0


def add_curves(sub: Any) -> None:
    p = sub.add_parser(
        "curves", help="per-k means, standard errors, quantiles and feasibility of one run",
        description="The numbers behind a choice: for each k, mean total cost, total time and "
        "accuracy with their standard errors and p05/p50/p95 spread, the probability that all "
        "budgets are met, and whether k is feasible and on the Pareto frontier.",
        epilog=example("infscale curves --model gpt5 --scenario balanced"),
    )
    p.add_argument("--model", required=True, help="model key, e.g. gpt5")
    p.add_argument("--scenario", required=True, help="scenario name, e.g. balanced")
    p.add_argument("--sweep", type=positive_int, help="sweep id (default: the latest finished sweep)")
    p.add_argument("--db", help=DB_HELP)
    add_output_flags(p, "print JSON arrays on stdout", "print one CSV row per k on stdout")
    p.set_defaults(handler=cmd_curves)


def cmd_curves(args: argparse.Namespace) -> int:
    store = open_store(args.db)
    sweep_id = resolve_sweep_id(store, args.sweep)
    stored = store.curves(sweep_id, args.model, args.scenario)
    choices = store.choices(sweep_id, model=args.model, scenario=args.scenario)
    if args.json:
        print_json(curves_document(stored, choices))
    elif args.csv:
        print(to_csv(curves_columns(stored, choices)), end="")
    else:
        print(curves_table(stored, choices))
    return 0


def add_validate(sub: Any) -> None:
    p = sub.add_parser(
        "validate", help="check a sweep file and show what it would run",
        description="Parse and validate SWEEP.yaml without running or storing anything.",
        epilog=example("infscale validate examples/paper.yaml"),
    )
    p.add_argument("sweep", metavar="SWEEP.yaml")
    p.add_argument("--json", action="store_true", help="print the validated sweep as JSON")
    p.set_defaults(handler=cmd_validate)


def cmd_validate(args: argparse.Namespace) -> int:
    from infscale.engine.plan import FIRST_ROUND_BLOCKS, block_plan, simulation_groups
    from infscale.readers.stored_specs import sweep_to_dict
    from infscale.readers.sweep_files import load_sweep

    sweep = load_sweep(args.sweep)
    if args.json:
        print_json(sweep_to_dict(sweep))
        return 0
    groups = simulation_groups(sweep)
    plan = block_plan(sweep)
    inferences = sum(sweep.trials * g.k_max for g in groups)
    print(f"{args.sweep}: valid sweep {sweep.name!r} ({sweep.mode.value} mode, seed {sweep.seed})")
    print(f"  models    ({len(sweep.models)}): {', '.join(m.key for m in sweep.models)}")
    print(f"  scenarios ({len(sweep.scenarios)}): {', '.join(s.name for s in sweep.scenarios)}")
    if sweep.mode.value == "exact":
        print(f"  {len(sweep.models) * len(sweep.scenarios)} runs decided from {trials_text(sweep)}")
        return 0
    print(f"  {len(sweep.models) * len(sweep.scenarios)} runs share {len(groups)} simulations; "
          f"{sweep.trials} trials each in {plan.n_blocks} block(s); {inferences:.3g} simulated inferences"
          + ("" if sweep.adaptive is None else " at most"))
    if sweep.adaptive is not None:
        first = FIRST_ROUND_BLOCKS
        print(f"  {trials_text(sweep)}: rounds of {first}, {2 * first}, {4 * first}, ... blocks per simulation")
    return 0


def add_catalog(sub: Any) -> None:
    p = sub.add_parser(
        "catalog", help="list the models of a catalog and the built-in scenarios",
        description="The bundled catalog builtin:paper (the reference notebook's nine models) or a "
        "catalog file of yours in the same format, and the three built-in scenarios.",
        epilog=example("infscale catalog", "infscale catalog --catalog examples/catalog-litellm.yaml --json > catalog.json"),
    )
    p.add_argument("--catalog", default="builtin:paper", help="builtin:paper or a catalog file path")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_catalog)


def cmd_catalog(args: argparse.Namespace) -> int:
    from infscale.engine.catalog import builtin_scenarios
    from infscale.readers.stored_specs import model_to_dict, scenario_to_dict
    from infscale.readers.sweep_files import load_catalog_file

    models = load_catalog_file(args.catalog)
    scenarios = builtin_scenarios()
    if args.json:
        print_json({
            "catalog": args.catalog,
            "models": [model_to_dict(m) for m in models.values()],
            "scenarios": [scenario_to_dict(s) for s in scenarios.values()],
        })
        return 0
    print(f"models of {args.catalog} (prices per 1M tokens, times per 1k tokens)")
    print(f"  {'key':<28} {'name':<34} {'$in/M':>7} {'$out/M':>7} {'s in/k':>7} {'s out/k':>8} "
          f"{'acc':>5} {'±':>5}")
    for m in models.values():
        # Correctness models: acc and +- describe the difficulty p ~ Beta(alpha, beta).
        kind = f"  {m.accuracy_model.value} Beta({m.alpha:g}, {m.beta:g})" if m.accuracy_model.is_correctness else ""
        if m.data is not None:  # the empirical model: acc, +- and the times describe its eval log
            resampled = [part for part, on in (("lengths", m.lengths.value == "empirical"),
                                               ("accuracy", m.accuracy_model.value == "empirical")) if on]
            kind = (f"  {' and '.join(resampled)} from {m.data.source} ({m.data.n_queries} queries, "
                    f"{m.data.n_samples} samples{', latency_s' if m.times_from_data else ''})")
        # A litellm_key model without prices of its own shows its key: a run prices it from the history.
        prices = f"{m.c_in * 1e6:>7.3f} {m.c_out * 1e6:>7.3f}" if m.c_in is not None else f"{m.litellm_key:>15}"
        print(f"  {m.key:<28} {m.name:<34} {prices} "
              f"{m.t_in * 1e3:>7.3f} {m.t_out * 1e3:>8.3f} {m.acc_mean:>5.2f} {m.acc_std:>5.2f}{kind}")
    print("\nbuilt-in scenarios (scenarios: builtin:paper, or name them in a list)")
    for s in scenarios.values():
        print(f"  {s.name:<18} cost <= ${s.max_total_cost:g}, time <= {s.max_total_time:g} s, "
              f"accuracy >= {s.min_accuracy:g}, k <= {s.k_max}, P = {s.parallelism}")
    return 0




def _unfinished(store: Any, sweep_id: int, status: str) -> str | None:
    """What is unfinished about a sweep that is not done ("sweep 3 is running: 4 of 27 runs
    done"), or None when it is done."""
    if status == "done":
        return None
    spec = store.sweep_spec(sweep_id)
    done = len({(c.model, c.scenario) for c in store.choices(sweep_id)})
    return f"sweep {sweep_id} is {status}: {done} of {len(spec.models) * len(spec.scenarios)} runs done"


REGISTRY = [add_run, add_results, add_curves, add_validate, add_catalog]
