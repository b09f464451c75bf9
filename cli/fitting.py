"""`infscale fit` (catalog entries fitted from eval logs) and `infscale fit-accuracy` (the
difficulty Beta(alpha, beta) from per-problem counts or measured pass rates)."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from infscale.cli.helptext import example
from infscale.engine.errors import InfscaleError

FIT_DESCRIPTION = """\
Fit catalog entries from eval logs: per model, the query difficulty Beta(alpha, beta) of the
pass_at_k accuracy model (beta-binomial maximum likelihood on each query's samples and correct
answers), token lengths (mean, standard deviation and quantiles) and seconds per token t_in,
t_out with an overhead t_fixed (non-negative least squares of latency on tokens). Every fitted
parameter has a standard error; a poor fit is a warning naming its test and p-value.

Logs: per-sample JSONL or CSV rows with columns query (required), correct (0/1, true/false) or
score (in [0, 1]), input_tokens, output_tokens, latency_s, model (each optional: what is
missing is not fitted, and said); inspect-ai logs (.eval, .json; needs the 'inspect' extra);
lm-evaluation-harness --log_samples files (samples_<task>_<date>.jsonl; correctness only).
Prices never come from an eval log: give --c-in and --c-out, or --litellm-key (priced from the
price history at run time), for a catalog ready for a sweep.
"""


def add_fit(sub: Any) -> None:
    p = sub.add_parser(
        "fit", help="fit catalog entries (difficulty, lengths, times) from eval logs",
        description=FIT_DESCRIPTION,
        epilog=example("infscale fit examples/eval-log.jsonl --c-in 1.25e-6 --c-out 1e-5 -o fitted-catalog.yaml"),
    )
    p.add_argument("logs", nargs="+", metavar="LOG", help="eval log files (.jsonl, .csv, .eval, .json)")
    p.add_argument("-o", "--output", metavar="FILE", help="write the catalog YAML here (default: print it)")
    p.add_argument("--json", action="store_true", help="print {models, fit} as JSON")
    p.add_argument("--model", metavar="KEY", help="the catalog key of samples whose log names no model (default: the file name)")
    p.add_argument("--scorer", metavar="NAME", help="inspect-ai: the scorer; lm-eval: the metric as metric,filter")
    p.add_argument("--c-in", type=_price, metavar="USD", help="$ per input token for every fitted model")
    p.add_argument("--c-out", type=_price, metavar="USD", help="$ per output token for every fitted model")
    p.add_argument("--litellm-key", metavar="NAME",
                   help="price the fitted model from the price history by this LiteLLM name instead (see prices import)")
    p.set_defaults(handler=cmd_fit)


def cmd_fit(args: argparse.Namespace) -> int:
    from infscale.cli.console import print_json
    from infscale.engine.model_fit import fit_model
    from infscale.engine.validation import catalog_from_mapping
    from infscale.readers.evallogs import read_eval_logs
    from infscale.reports.fitting import catalog_yaml, fit_document

    if (args.c_in is None) != (args.c_out is None):
        raise InfscaleError("fit: give both --c-in and --c-out, or neither")
    if args.litellm_key is not None and args.c_in is not None:
        raise InfscaleError("fit: give --c-in and --c-out, or --litellm-key, not both")
    logs = read_eval_logs(args.logs, model=args.model, scorer=args.scorer)
    prices = {"c_in": args.c_in, "c_out": args.c_out} if args.c_in is not None else {}
    if args.litellm_key is not None:
        prices = {"litellm_key": args.litellm_key}
    fits = [_with_prices(fit_model(log), prices) for log in logs.values()]
    complete = [fit for fit in fits if not fit.missing]
    if complete:  # what we write must load as a catalog
        catalog_from_mapping({"models": {fit.key: dict(fit.entry) for fit in complete}}, "<fitted catalog>")
    text = catalog_yaml(fits, args.logs)
    if args.output:
        _write_atomically(Path(args.output), text)
    if args.json:
        print_json(fit_document(fits))
    elif args.output:
        print(f"wrote {args.output}: {len(fits)} model(s) ({', '.join(f.key for f in fits)})")
        for fit in fits:
            for warning in fit.warnings:
                print(f"warning: {fit.key}: {warning}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _with_prices(fit: Any, prices: dict[str, Any]) -> Any:
    """The fit with the given prices (c_in and c_out, or a litellm_key) in its entry: prices
    never come from a log."""
    if not prices:
        return fit
    from dataclasses import replace

    from infscale.engine.model_fit import CATALOG_ORDER, PRICE_KEYS

    entry = dict(fit.entry, **prices)
    missing = tuple(k for k in fit.missing if k not in PRICE_KEYS)
    warnings = tuple(w for w in fit.warnings if not w.startswith("a sweep still needs"))
    if missing:
        warnings += (f"a sweep still needs: {', '.join(missing)}",)
    order = ("litellm_key", *CATALOG_ORDER)
    return replace(fit, entry={k: entry[k] for k in order if k in entry}, missing=missing, warnings=warnings)


def _price(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number ($ per token), got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def _write_atomically(path: Path, text: str) -> None:
    """Write via a temporary file in the same folder and rename, so a reader never sees half a file."""
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent if str(path.parent) else ".", prefix=f".{path.name}.")
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        raise InfscaleError(f"{path}: cannot write: {exc.strerror or exc}") from None


def add_fit_accuracy(sub: Any) -> None:
    p = sub.add_parser(
        "fit-accuracy", help="fit the difficulty Beta(alpha, beta) of pass@k to per-problem counts or pass rates",
        description="Fit the query difficulty p ~ Beta(alpha, beta) of the pass_at_k and majority_vote accuracy "
        "models. Best: rows problem,n,c (per problem its samples and correct ones, as eval harnesses report "
        "them), fitted by beta-binomial maximum likelihood with standard errors and a goodness-of-fit test. "
        "Or rows k,pass_rate (a header is optional), e.g. pass@1, pass@4, pass@16: least squares on the exact "
        "pass@k = 1 - B(alpha, beta + k) / B(alpha, beta); rates that fall as k grows are refused; a third "
        "column n (the queries each rate was measured on) gives standard errors and tests the residuals "
        "against their sampling error. Prints YAML to paste into a model's catalog entry, with the fit as "
        "comments.",
        epilog=example("printf 'k,pass_rate\\n1,0.42\\n4,0.63\\n16,0.78\\n' > evals.csv && infscale fit-accuracy evals.csv"),
    )
    p.add_argument("file", metavar="FILE.csv", help="rows problem,n,c or k,pass_rate[,n]")
    p.add_argument("--json", action="store_true", help="print the fit as JSON")
    p.set_defaults(handler=cmd_fit_accuracy)


def cmd_fit_accuracy(args: argparse.Namespace) -> int:
    from infscale.cli.console import print_json
    from infscale.engine.beta_binomial import fit_beta_binomial
    from infscale.engine.difficulty_fit import check_monotone, fit_beta
    from infscale.engine.model_fit import MIN_QUERIES
    from infscale.readers.pass_rates import ProblemCounts, load_accuracy_rows
    from infscale.reports.fitting import counts_fit_document, counts_fit_text, pass_rate_fit_document, pass_rate_fit_text

    rows = load_accuracy_rows(args.file)
    if isinstance(rows, ProblemCounts):
        if len(rows.problems) < MIN_QUERIES:
            raise InfscaleError(
                f"{args.file}: {len(rows.problems)} problem rows; fitting the difficulty needs at least {MIN_QUERIES}"
            )
        fit = fit_beta_binomial(rows.n, rows.c, args.file)
        print_json(counts_fit_document(fit)) if args.json else print(counts_fit_text(fit, args.file), end="")
        return 0
    check_monotone(rows, args.file)
    fit = fit_beta(rows, args.file)
    print_json(pass_rate_fit_document(fit)) if args.json else print(pass_rate_fit_text(fit, args.file), end="")
    return 0


REGISTRY = [add_fit, add_fit_accuracy]
