"""The `infscale` command: argument parsing and the error edge.

Every user mistake is an `InfscaleError` raised below and printed here as one line with exit
code 2; nothing is written before the input is validated.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, Callable, Sequence

from infscale.engine.errors import InfscaleError

EXIT_USER_ERROR = 2

DESCRIPTION = """\
infscale decides how many inferences (k) an LLM deployment should run per query.

For each model and deployment scenario it Monte Carlo simulates every k, applies the
scenario's cost, latency and accuracy budgets, builds the 3-D Pareto frontier (cost, time,
accuracy) and picks k four ways: maximal accuracy, maximal cube, utopia-closest and knee.

start here:
  infscale catalog                      the bundled models and scenarios
  infscale validate examples/paper.yaml check a sweep file without running it
  infscale run examples/paper.yaml      run it on all cores, store results in ./infscale.db
  infscale results                      the chosen k of the latest sweep again
  infscale curves --model gpt5 --scenario balanced   the per-k numbers behind a choice
"""


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help()
        return EXIT_USER_ERROR
    try:
        return int(args.handler(args) or 0)
    except InfscaleError as exc:
        print(f"infscale: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("infscale: interrupted", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    from importlib.metadata import version

    from infscale.cli.helptext import Parser

    parser = Parser(prog="infscale", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"infscale {version('infscale')}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    # Handler modules are imported here, not at the top, so that `infscale --help` stays fast.
    from infscale.cli import commands, decide, distributed, fitting, plotting, prices, serve

    registries = (
        commands.REGISTRY + decide.REGISTRY + fitting.REGISTRY + distributed.REGISTRY + plotting.REGISTRY
        + prices.REGISTRY + serve.REGISTRY
    )
    for register in registries:
        register(sub)
    return parser


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1, with a message that names the problem."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def print_json(doc: Any) -> None:
    json.dump(doc, sys.stdout, indent=2)
    sys.stdout.write("\n")


def progress_bar(total: int, label: str) -> tuple[Callable[[int], None], Callable[[], None]]:
    """A tqdm bar on stderr when it is a terminal; otherwise silent. Returns (update, close)."""
    if not sys.stderr.isatty():
        return (lambda n: None), (lambda: None)
    from tqdm import tqdm

    bar = tqdm(total=total, unit="trial", unit_scale=True, desc=label, file=sys.stderr, smoothing=0.1)
    return bar.update, bar.close


def elapsed(start: float) -> str:
    return f"{time.perf_counter() - start:.1f} s"


if __name__ == "__main__":
    sys.exit(main())
