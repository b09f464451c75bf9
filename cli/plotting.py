"""Handlers of the picture commands: plot and report (registered in cli.main).

matplotlib is imported only inside the handlers (through `reports.plots`), so the rest of the
CLI starts without it.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from infscale.cli.helptext import example
from infscale.cli.console import DB_HELP, open_store, positive_int, resolve_sweep_id
from infscale.engine.errors import InfscaleError


def add_plot(sub: Any) -> None:
    p = sub.add_parser(
        "plot", help="draw one run (cube, accuracy, cost/time vs k) or all models of a scenario",
        description="With --model: MODEL-SCENARIO-cube.png (the 3-D feasible space with budget planes, the "
        "Monte Carlo trajectory over k, the Pareto frontier, the four chosen k and the utopia point), "
        "MODEL-SCENARIO-accuracy.png (accuracy vs k with its 95% confidence band and p05-p95 spread) and "
        "MODEL-SCENARIO-cost_time.png (total cost and time vs k against their budgets). Without --model: "
        "SCENARIO-models.png, every model's frontier under the scenario with each method's cross-model "
        "pick, and SCENARIO-accuracy_grid.png, accuracy vs k of every model. Each image gets a JSON "
        "sidecar (same name, .json) holding exactly the data drawn.",
        epilog=example("infscale plot --model gpt5 --scenario balanced --out plots/",
                       "infscale plot --scenario balanced --out plots/ --dpi 200"),
    )
    p.add_argument("--model", help="model key, e.g. gpt5 (omit for the figures of every model under the scenario)")
    p.add_argument("--scenario", required=True, help="scenario name, e.g. balanced")
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="directory to write into (created)")
    _add_source(p)
    p.add_argument("--svg", action="store_true", help="also write SVG next to each PNG")
    p.add_argument("--dpi", type=dpi, help=f"PNG resolution in dots per inch, {MIN_DPI} to {MAX_DPI} "
                   "(default: 150, for slides)")
    p.set_defaults(handler=cmd_plot)


def cmd_plot(args: argparse.Namespace) -> int:
    from infscale.reports import plots, series

    store = open_store(args.db)
    sweep_id = resolve_sweep_id(store, args.sweep)
    if args.model is None:
        figures = {series.MODELS_FIGURE: series.models_figure(store, sweep_id, args.scenario),
                   series.ACCURACY_GRID_FIGURE: series.accuracy_grid_figure(store, sweep_id, args.scenario)}
    else:
        figures = series.run_figures(store, sweep_id, args.model, args.scenario)
    out = _directory(args.out)
    for name, data in figures.items():
        for path in plots.write(name, data, out, svg=args.svg, dpi=args.dpi or plots.DPI):
            print(path)
    return 0


def add_report(sub: Any) -> None:
    p = sub.add_parser(
        "report", help="one self-contained HTML page of a sweep: tables of chosen k and the plots",
        description="Write a single HTML file (images embedded, no network needed to open it) with, "
        "per scenario, the chosen k per model and method, infeasible runs and missing knees with "
        "their reasons, the cross-model recommendation, models.png and each model's cube and "
        "accuracy plots.",
        epilog=example("infscale report --sweep 1 --out report.html"),
    )
    p.add_argument("--out", required=True, type=Path, metavar="FILE.html", help="file to write")
    _add_source(p)
    p.set_defaults(handler=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    from infscale.reports.html import sweep_report

    store = open_store(args.db)
    page = sweep_report(store, resolve_sweep_id(store, args.sweep))
    if args.out.is_dir():
        raise InfscaleError(f"{args.out}: is a directory; give the report's file name, e.g. {args.out / 'report.html'}")
    try:
        args.out.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise InfscaleError(f"{args.out}: cannot write the report: {exc.strerror or exc}") from None
    print(f"{args.out} ({len(page.encode()) / 1e6:.1f} MB)")
    return 0


MIN_DPI, MAX_DPI = 20, 600  # beyond 600 dpi a 14-inch figure is a 70-megapixel image


def dpi(text: str) -> int:
    """argparse type of --dpi: a resolution that draws in seconds and fits in memory."""
    value = positive_int(text)
    if not MIN_DPI <= value <= MAX_DPI:
        raise argparse.ArgumentTypeError(f"must be between {MIN_DPI} and {MAX_DPI}, got {value}")
    return value


def _add_source(p: argparse.ArgumentParser) -> None:
    """Which stored sweep to draw: --sweep (default: the latest finished) in --db."""
    p.add_argument("--sweep", type=positive_int, help="sweep id (default: the latest finished sweep)")
    p.add_argument("--db", help=DB_HELP)


def _directory(path: Path) -> Path:
    """`path` as an existing directory (created with its parents), or a one-line error."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise InfscaleError(f"{path}: exists and is not a directory") from None
    except OSError as exc:
        raise InfscaleError(f"{path}: cannot create the output directory: {exc.strerror or exc}") from None
    return path


REGISTRY = [add_plot, add_report]
