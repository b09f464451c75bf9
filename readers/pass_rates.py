"""Pass-rate CSV files (`k,pass_rate` rows) -> engine `PassRate` rows for `fit-accuracy`."""

from __future__ import annotations

import csv
import io
import math

from infscale.engine.difficulty_fit import PassRate
from infscale.engine.errors import SpecError
from infscale.readers.files import read_text


def load_pass_rates(path: str) -> tuple[PassRate, ...]:
    """Read and parse a pass-rate CSV file."""
    return parse_pass_rates(read_text(path, "pass-rate file"), path)


def parse_pass_rates(text: str, source: str) -> tuple[PassRate, ...]:
    """Rows `k,pass_rate` of a CSV text (a header row with those names, blank lines and lines
    starting with '#' are allowed). At least two different k are needed for two parameters."""
    rows: list[PassRate] = []
    for number, fields in enumerate(csv.reader(io.StringIO(text)), start=1):
        cells = [f.strip() for f in fields]
        if not any(cells) or cells[0].startswith("#"):
            continue
        if not rows and [c.lower() for c in cells] == ["k", "pass_rate"]:
            continue
        rows.append(_row(cells, source, number))
    distinct = {r.k for r in rows}
    if len(distinct) < 2:
        raise SpecError(
            source, "", f"too few rows: {len(rows)} row(s) with {len(distinct)} different k; "
            "fitting alpha and beta needs rows k,pass_rate for at least 2 different k",
        )
    return tuple(rows)


def _row(cells: list[str], source: str, number: int) -> PassRate:
    where = f"row {number}"
    if len(cells) != 2:
        raise SpecError(source, where, f"expected 2 values k,pass_rate, got {len(cells)}: {','.join(cells)!r}")
    try:
        k = int(cells[0])
    except ValueError:
        raise SpecError(source, where, f"k must be an integer >= 1, got {cells[0]!r}") from None
    if k < 1:
        raise SpecError(source, where, f"k must be an integer >= 1, got {k}")
    try:
        rate = float(cells[1])
    except ValueError:
        raise SpecError(source, where, f"pass_rate must be a number in [0, 1], got {cells[1]!r}") from None
    if not (math.isfinite(rate) and 0.0 <= rate <= 1.0):
        raise SpecError(source, where, f"pass_rate must be a number in [0, 1], got {cells[1]}")
    return PassRate(k, rate, number)
