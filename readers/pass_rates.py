"""`fit-accuracy` CSV files: measured pass rates or per-problem counts.

Three shapes, told apart by the header (a header is optional for the first two):
- `k,pass_rate`: a share of queries some of k samples got right, one row per k;
- `k,pass_rate,n`: the same with n, the number of queries it was measured on (standard errors
  and a test of the fit follow from it);
- `problem,n,c`: per problem (query), its samples n and correct ones c, as eval harnesses
  report them (the beta-binomial fit: engine.beta_binomial).
Blank lines and lines starting with '#' are skipped. The first bad row is one SpecError
naming the file and the row.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass

import numpy as np

from infscale.engine.difficulty_fit import PassRate
from infscale.engine.errors import SpecError
from infscale.readers.files import read_text

PASS_RATE_HEADERS = (["k", "pass_rate"], ["k", "pass_rate", "n"])
COUNTS_HEADER = ["problem", "n", "c"]


@dataclass(frozen=True, eq=False)
class ProblemCounts:
    """Per-problem counts: samples n and correct c (aligned arrays), with their row numbers."""

    problems: tuple[str, ...]
    n: np.ndarray
    c: np.ndarray
    rows: tuple[int, ...]


def load_accuracy_rows(path: str) -> tuple[PassRate, ...] | ProblemCounts:
    """A fit-accuracy file's rows (module docstring)."""
    return parse_accuracy_rows(read_text(path, "pass-rate file"), path)


def parse_accuracy_rows(text: str, source: str) -> tuple[PassRate, ...] | ProblemCounts:
    rows = []
    for number, fields in enumerate(csv.reader(io.StringIO(text)), start=1):
        cells = [f.strip() for f in fields]
        if any(cells) and not cells[0].startswith("#"):
            rows.append((number, cells))
    if rows and [c.lower() for c in rows[0][1]] == COUNTS_HEADER:
        return _counts(rows[1:], source)
    if rows and [c.lower() for c in rows[0][1]] in PASS_RATE_HEADERS:
        rows = rows[1:]
    parsed = tuple(_pass_rate(cells, source, number) for number, cells in rows)
    distinct = {r.k for r in parsed}
    if len(distinct) < 2:
        raise SpecError(
            source, "", f"too few rows: {len(parsed)} row(s) with {len(distinct)} different k; "
            "fitting alpha and beta needs rows k,pass_rate for at least 2 different k (or rows problem,n,c)",
        )
    return parsed


def _counts(rows: list[tuple[int, list[str]]], source: str) -> ProblemCounts:
    problems, n, c, numbers = [], [], [], []
    for number, cells in rows:
        where = f"row {number}"
        if len(cells) != 3:
            raise SpecError(source, where, f"expected 3 values problem,n,c, got {len(cells)}: {','.join(cells)!r}")
        samples = _integer(cells[1], source, f"{where}, n", lo=1)
        correct = _integer(cells[2], source, f"{where}, c", lo=0)
        if correct > samples:
            raise SpecError(source, f"{where}, c", f"must be at most n = {samples}, got {correct}")
        problems.append(cells[0])
        n.append(samples)
        c.append(correct)
        numbers.append(number)
    return ProblemCounts(tuple(problems), np.array(n, dtype=np.int64), np.array(c, dtype=np.int64), tuple(numbers))


def _pass_rate(cells: list[str], source: str, number: int) -> PassRate:
    where = f"row {number}"
    if len(cells) not in (2, 3):
        raise SpecError(source, where, f"expected 2 values k,pass_rate (or 3: k,pass_rate,n), got {len(cells)}: {','.join(cells)!r}")
    k = _integer(cells[0], source, where, lo=1, name="k")
    try:
        rate = float(cells[1])
    except ValueError:
        raise SpecError(source, where, f"pass_rate must be a number in [0, 1], got {cells[1]!r}") from None
    if not (math.isfinite(rate) and 0.0 <= rate <= 1.0):
        raise SpecError(source, where, f"pass_rate must be a number in [0, 1], got {cells[1]}")
    problems = _integer(cells[2], source, f"{where}, n", lo=1) if len(cells) == 3 else None
    return PassRate(k, rate, number, problems)


def _integer(text: str, source: str, where: str, lo: int, name: str | None = None) -> int:
    label = f"{name} must be" if name else "must be"
    try:
        value = int(text)
    except ValueError:
        raise SpecError(source, where, f"{label} an integer >= {lo}, got {text!r}") from None
    if value < lo:
        raise SpecError(source, where, f"{label} an integer >= {lo}, got {value}")
    return value
