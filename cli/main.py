"""The `infscale` command: argument parsing and the error edge.

Every user mistake is an `InfscaleError` raised below and printed here as one line with exit
code 2; nothing is written before the input is validated.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

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
        code = int(args.handler(args) or 0)
        sys.stdout.flush()  # here, so a reader that went away is caught below
        return code
    except InfscaleError as exc:
        print(f"infscale: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("infscale: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader closed the pipe (`| head`): end quietly, as shell tools do; point stdout at
        # /dev/null so that the interpreter's own flush at exit does not complain either.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


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


if __name__ == "__main__":
    sys.exit(main())
