"""Handlers of the price commands: prices import / list, recalc, history, diff.

Prices are versioned in the database; `recalc` recomputes the stored runs whose prices changed
as new revisions; `history` and `diff` show what each revision chose, and what changed.
"""

from __future__ import annotations

import argparse
from typing import Any, Iterable

from infscale.cli.console import DB_HELP, open_store, positive_int, print_json, resolve_sweep_id
from infscale.cli.dates import format_time, since_time
from infscale.cli.helptext import example
from infscale.reports.documents import diff_document, price_document, revision_document
from infscale.reports.text import k_text
from infscale.engine.errors import InfscaleError

CATALOG_HELP = (
    "catalog whose litellm_key values say which LiteLLM name is which model: builtin:paper or a file "
    "(default: $INFSCALE_PRICE_CATALOG, else the models of the stored sweeps)"
)
BROKER_HELP = "Redis broker URL (default: $INFSCALE_BROKER_URL; unset: recalculate in this process)"
SHOWN_NAMES = 5  # names listed per line in text output (--json lists them all)


def add_prices(sub: Any) -> None:
    p = sub.add_parser(
        "prices", help="model price history: import a price file, list the versions",
        description="Model prices ($ per input / output token, optionally s per token and $ per cached input token) are versioned in "
        "the database with the time they took effect. `infscale recalc` recomputes the stored runs "
        "whose prices changed.",
        epilog=example("infscale prices import examples/catalog-litellm.yaml --effective-at 2026-01-01",
                       "infscale prices list --model gpt5"),
    )
    actions = p.add_subparsers(title="actions", metavar="ACTION")
    i = actions.add_parser(
        "import", help="import a catalog or LiteLLM price file as new price versions",
        description="Import FILE: a catalog in the project's format (models: {key: {c_in, c_out, t_in, "
        "t_out, ...}}) or LiteLLM's model_prices_and_context_window.json (USD per token in "
        "input_cost_per_token / output_cost_per_token, the cached-input price that input_billing: cached "
        "bills in cache_read_input_token_cost, keyed by provider model name; the catalog's "
        "litellm_key says which name is which model). A model whose prices are already in force gets "
        "no new version. Names no model maps to, and mapped entries without per-token prices, are "
        "reported and skipped. A malformed file or price imports nothing (exit 2).",
        epilog=example("infscale prices import examples/catalog-litellm.yaml --effective-at 2026-01-01"),
    )
    i.add_argument("file", metavar="FILE", help="price file (.json: JSON; otherwise YAML)")
    i.add_argument("--catalog", help=CATALOG_HELP)
    i.add_argument("--effective-at", type=since_time, metavar="DATE",
                   help="when the prices took effect: ISO date (its start) or datetime, UTC (default: now)")
    i.add_argument("--db", help=DB_HELP)
    i.add_argument("--json", action="store_true", help="print what was imported and skipped as JSON")
    i.set_defaults(handler=cmd_prices_import)
    ls = actions.add_parser("list", help="every price version, oldest first",
                            description="Every stored price version of every model (or one model).",
                            epilog=example("infscale prices list --model gpt5 --json"))
    ls.add_argument("--model", help="only this model key")
    ls.add_argument("--db", help=DB_HELP)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=cmd_prices_list)
    p.set_defaults(handler=lambda args: p.print_help() or 2)


def cmd_prices_import(args: argparse.Namespace) -> int:
    from infscale import config
    from infscale.reports.documents import import_document
    from infscale.scheduler.recalc import import_price_file

    store = open_store(args.db)
    price_file, imported = import_price_file(
        store, args.file, args.catalog or config.price_catalog(), args.effective_at
    )
    document = import_document(price_file, imported)
    if args.json:
        print_json(document)
    else:
        print("\n".join(_import_lines(document)))
    return 0


def cmd_prices_list(args: argparse.Namespace) -> int:
    rows = open_store(args.db).price_history(args.model)
    if args.json:
        print_json({"prices": [
            {"model": r.model, **price_document(r.prices), "effective_at": r.effective_at.isoformat(), "source": r.source}
            for r in rows
        ]})
        return 0
    if not rows:
        print("no prices imported yet (infscale prices import FILE)")
        return 0
    width = max(len("model"), *(len(r.model) for r in rows))
    print(f"{'model':<{width}}  {'effective':<23}  {'$in/M':>8} {'$out/M':>8} {'s in/k':>7} {'s out/k':>8} "
          f"{'$cached/M':>9}  source")
    for r in rows:
        print(f"{r.model:<{width}}  {format_time(r.effective_at):<23}  {_price_cells(r.prices)}  {r.source}")
    return 0


def add_recalc(sub: Any) -> None:
    p = sub.add_parser(
        "recalc", help="import $INFSCALE_PRICE_SOURCE and recompute the stored runs whose prices changed",
        description="What the nightly job runs. Imports the price file $INFSCALE_PRICE_SOURCE (if set), "
        "then, for every done sweep, simulates again the models whose stored runs were computed with "
        "other prices than those in force (same seed and trials: the result equals a fresh `infscale run` "
        "with the new prices), stores them as new revisions of their runs and decides the sweep's "
        "cross-model recommendations again. Old revisions stay. With nothing stale it does nothing. "
        "With a broker configured (--broker or $INFSCALE_BROKER_URL) it runs as the task "
        "infscale.recalc on a worker (the workers' database and price source), else in this process "
        "(also, with a note, when the broker does not answer).",
        epilog=example("INFSCALE_PRICE_SOURCE=examples/catalog-litellm.yaml infscale recalc --in-process && infscale diff"),
    )
    p.add_argument("--db", help=DB_HELP + "; in this process only")
    p.add_argument("--broker", help=BROKER_HELP)
    p.add_argument("--in-process", action="store_true", help="recalculate here even with a broker configured")
    p.add_argument("--workers", type=positive_int, help="processes to use in this process (default: all cores)")
    p.add_argument("--timeout", type=float, default=600.0,
                   help="seconds to wait for the workers' answer (default: 600)")
    p.add_argument("--json", action="store_true", help="print what was imported and recomputed as JSON")
    p.set_defaults(handler=cmd_recalc)


def cmd_recalc(args: argparse.Namespace) -> int:
    from infscale.workers.broker import run_recalc

    document = run_recalc(args.broker, args.db, args.in_process, args.timeout, args.workers)
    if args.json:
        print_json(document)
    else:
        print("\n".join(_recalc_lines(document)))
    return 0


def add_history(sub: Any) -> None:
    p = sub.add_parser(
        "history", help="every revision of one run: its prices and what each method chose",
        description="Each revision of one model under one scenario, oldest first: when it was computed, "
        "the prices it used, and per selection method the chosen k with its cost, time and accuracy.",
        epilog=example("infscale history --model gpt5 --scenario balanced"),
    )
    p.add_argument("--model", required=True, help="model key, e.g. gpt5")
    p.add_argument("--scenario", required=True, help="scenario name, e.g. balanced")
    p.add_argument("--sweep", type=positive_int, help="sweep id (default: the latest finished sweep)")
    p.add_argument("--db", help=DB_HELP)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_history)


def cmd_history(args: argparse.Namespace) -> int:
    store = open_store(args.db)
    sweep_id = resolve_sweep_id(store, args.sweep)
    revisions = store.run_history(sweep_id, args.model, args.scenario)
    if not revisions:
        raise InfscaleError(f"sweep {sweep_id}: {args.model} under {args.scenario} has no finished revision")
    if args.json:
        print_json({
            "sweep": sweep_id, "model": args.model, "scenario": args.scenario,
            "revisions": [revision_document(r) for r in revisions],
        })
        return 0
    print(f"sweep {sweep_id}: {args.model} under {args.scenario}, {len(revisions)} revision(s)")
    for r in revisions:
        print(f"revision {r.revision}  computed {format_time(r.computed_at)}  prices {_price_text(r.prices)}")
        for c in r.choices:
            print(f"  {c.method:<12}  {_choice_text(c)}")
    return 0


def add_diff(sub: Any) -> None:
    p = sub.add_parser(
        "diff", help="what recalculations changed: k and cost per model, scenario and method",
        description="Per model, scenario and method: old k -> new k and old -> new cost, and the "
        "cross-model recommendations that moved. Compares what was in force at --since (for a sweep "
        "run after it: its first result) with now; without --since, each run's and recommendation's "
        "previous revision with its current one.",
        epilog=example("infscale diff --since 2026-11-21 --json"),
    )
    p.add_argument("--since", type=since_time, metavar="DATE",
                   help="ISO date (its start) or datetime, UTC (default: the previous revision)")
    p.add_argument("--sweep", type=positive_int, help="sweep id (default: the latest finished sweep)")
    p.add_argument("--db", help=DB_HELP)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_diff)


def cmd_diff(args: argparse.Namespace) -> int:
    store = open_store(args.db)
    changes = store.changes(resolve_sweep_id(store, args.sweep), args.since)
    document = diff_document(changes, args.since)
    if args.json:
        print_json(document)
    else:
        print("\n".join(_diff_lines(document)))
    return 0


# --- documents and text ---------------------------------------------------------------------------




def _diff_lines(doc: dict[str, Any]) -> list[str]:
    since = f"since {format_time(_parse(doc['since']))}" if doc["since"] else "against each previous revision"
    if not doc["runs"] and not doc["recommendations"]:
        return [f"sweep {doc['sweep']}: no changes {since}"]
    lines = [f"sweep {doc['sweep']}: changes {since}"]
    for run in doc["runs"]:
        lines.append(
            f"  {run['model']} under {run['scenario']}: revision {run['old_revision']} -> {run['new_revision']}, "
            f"prices {_price_text_doc(run['old_prices'])} -> {_price_text_doc(run['new_prices'])}"
        )
        for c in run["choices"]:
            moved = "  (k changed)" if c["old_k"] != c["new_k"] else ""
            lines.append(
                f"    {c['method']:<12}  k {k_text(c['old_status'], c['old_k']):>5} -> {k_text(c['new_status'], c['new_k']):<5}"
                f"  cost {_cost(c['old_total_cost'])} -> {_cost(c['new_total_cost'])}{moved}"
            )
    moved = [r for r in doc["recommendations"] if r["changed"]]
    lines.append("  across models:" + ("" if moved else " no recommendation moved"))
    for r in moved:
        lines.append(f"    {r['scenario']} {r['method']}: {_pick(r['old'])} -> {_pick(r['new'])}")
    return lines


def _import_lines(doc: dict[str, Any]) -> list[str]:
    changed = ", ".join(doc["changed"]) or "none (every price was already in force)"
    lines = [f"{doc['file']} ({doc['format']} format): new price versions: {changed}"]
    if doc["changed"]:
        lines[0] += f", effective {format_time(_parse(doc['effective_at']))}"
    for key, label in (
        ("unchanged", "unchanged"),
        ("no_token_price", "skipped, no per-token price"),
        ("unpriced", "models this file gives no price"),
        ("ignored", "names no model maps to, ignored"),
    ):
        if doc[key]:
            lines.append(f"  {label} ({len(doc[key])}): {_names(doc[key])}")
    if doc.get("first_tier"):
        lines.append(f"  priced from the first tier of their tiered_pricing: {_names(doc['first_tier'])}")
    for missing in doc.get("missing_keys", []):
        near = ", ".join(repr(n) for n in missing["near"]) or "none"
        lines.append(f"  {missing['model']}: looked for {missing['litellm_key']!r}, not in the file; near: {near}")
    return lines


def _recalc_lines(doc: dict[str, Any]) -> list[str]:
    if doc["skipped"]:
        return [f"recalc skipped: {doc['skipped']}"]
    lines = _import_lines(doc["prices"]) if doc["prices"] else ["no price source ($INFSCALE_PRICE_SOURCE unset)"]
    for s in doc["sweeps"]:
        outcome = "stored as new revisions" if s["stored"] else "not stored: another recalculation got there first"
        runs = f"{s['runs']} run{'s' if s['runs'] != 1 else ''}"
        lines.append(f"sweep {s['sweep']}: recomputed {', '.join(s['models'])} ({runs}), {outcome}")
    if doc["changed"]:
        lines.append("see what changed: infscale diff")
    elif doc["prices"] and doc["prices"]["changed"]:
        lines.append("no stored run uses a model whose prices changed: nothing to recompute")
    else:
        lines.append("nothing changed: every stored run was computed with the prices in force")
    return lines






def _choice_text(c: Any) -> str:
    if c.status != "ok":
        return f"{c.status}: {c.reason}"
    return f"k={c.k:<4} cost ${c.total_cost:.4f}  time {c.total_time:.2f} s  accuracy {c.accuracy:.4f}"


def _pick(r: dict[str, Any]) -> str:
    if r["status"] != "ok":
        return r["status"]
    return f"{r['model']} k={r['k']} (${r['total_cost']:.4f})"






def _price_text(prices: Any) -> str:
    return _price_text_doc(price_document(prices))


def _price_text_doc(p: dict[str, float | None]) -> str:
    return f"${p['c_in'] * 1e6:g}/M in, ${p['c_out'] * 1e6:g}/M out"


def _price_cells(prices: Any) -> str:
    def per(value: float | None, scale: float, width: int) -> str:
        return f"{'-':>{width}}" if value is None else f"{value * scale:>{width}.3f}"

    return (f"{per(prices.c_in, 1e6, 8)} {per(prices.c_out, 1e6, 8)} "
            f"{per(prices.t_in, 1e3, 7)} {per(prices.t_out, 1e3, 8)} {per(prices.c_in_cached, 1e6, 9)}")


def _cost(value: float | None) -> str:
    return "-" if value is None else f"${value:.4f}"


def _names(names: Iterable[str]) -> str:
    names = list(names)
    more = f", ... ({len(names) - SHOWN_NAMES} more; --json lists all)" if len(names) > SHOWN_NAMES else ""
    return ", ".join(names[:SHOWN_NAMES]) + more


def _parse(text: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(text)


REGISTRY = [add_prices, add_recalc, add_history, add_diff]
