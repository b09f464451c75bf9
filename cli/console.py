"""What every command module shares: argument types, the database option, opening the
store, finding a sweep, printing JSON and a progress bar. Command modules import this, never
`cli.main` (which imports them)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime
from typing import Any, Callable

from infscale.cli.dates import format_time
from infscale.engine.errors import InfscaleError
from infscale.engine.specs import MAX_INT64

DB_HELP = "database URL (default: $INFSCALE_DATABASE_URL or sqlite:///infscale.db)"


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1, with a message that names the problem."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    if value > MAX_INT64:  # what a database id column holds
        raise argparse.ArgumentTypeError(f"must be at most {MAX_INT64}, got {text}")
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


def open_store(url: str | None, create: bool = False) -> Any:
    """The store at `url` (or the configured default), for every command that reads or writes:
    checked first (storage.open_store); only `create` (infscale run) may make a new one."""
    from infscale.storage import open_store as open_storage

    return open_storage(url, create=create)


def resolve_sweep_id(store: Any, explicit: int | None, as_of: datetime | None = None) -> int:
    """`--sweep ID` if given, else the latest finished sweep (at `as_of`); one line if there is none."""
    if explicit is not None:
        return explicit
    latest = store.latest_sweep_id(as_of)
    if latest is None:
        when = f" by {format_time(as_of)}" if as_of else " yet"
        raise InfscaleError(f"{store.url}: no finished sweep stored{when} (run: infscale run examples/paper.yaml)")
    return latest


def add_output_flags(parser: argparse.ArgumentParser, json_help: str, csv_help: str) -> None:
    """`--json` or `--csv` (not both) for a command that prints a table."""
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help=json_help)
    out.add_argument("--csv", action="store_true", help=csv_help)
