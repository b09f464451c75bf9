"""Per-sample eval rows: JSONL (one object a line) or CSV (a header row), one row per sample.

Columns: `query` (required), `correct` (0/1, true/false) or `score` (a number in [0, 1]),
`input_tokens`, `output_tokens`, `latency_s` (numbers >= 0) and `model`; each optional but
`query`, other columns ignored. An empty CSV cell or a JSON null is a missing value. Rows
without `model` belong to `default_model`. The first bad value is one SpecError naming the
file, the row (line number) and the column.
"""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any, Iterator, Mapping

import numpy as np

from infscale.engine.errors import SpecError
from infscale.engine.evallog import EvalLog

NUMBER_COLUMNS = ("input_tokens", "output_tokens", "latency_s")


def sample_rows_logs(text: str, path: str, default_model: str) -> list[EvalLog]:
    """The samples of a .jsonl or .csv file's text, one EvalLog per model in order of appearance."""
    records = _csv_records(text, path) if path.lower().endswith(".csv") else jsonl_records(text, path)
    return logs_of_records(records, path, default_model)


def logs_of_records(records: Iterator[tuple[int, Mapping[str, Any]]], path: str, default_model: str) -> list[EvalLog]:
    """(row number, record) pairs -> EvalLogs by model (module docstring)."""
    by_model: dict[str, dict[str, list]] = {}
    present: set[str] = set()
    for row, record in records:
        where = f"row {row}"
        query = record.get("query")
        if query is None or (isinstance(query, str) and not query.strip()) or isinstance(query, (dict, list, bool)):
            raise SpecError(path, f"{where}, query", "missing: every row needs a query (its id or text)")
        model = record.get("model")
        if model is None or model == "":
            model = default_model
        elif not isinstance(model, str):
            raise SpecError(path, f"{where}, model", f"must be a string, got {model!r}")
        columns = by_model.setdefault(model, {"queries": [], "rows": [], **{c: [] for c in ("score", *NUMBER_COLUMNS)}})
        columns["queries"].append(str(query))
        columns["rows"].append((path, where))
        columns["score"].append(_score(record, path, where))
        for name in NUMBER_COLUMNS:
            columns[name].append(non_negative(record.get(name), path, f"{where}, {name}"))
        present.update(name for name in NUMBER_COLUMNS if record.get(name) is not None)
        if record.get("correct") is not None or record.get("score") is not None:
            present.add("score")
    if not by_model:
        raise SpecError(path, "", "no rows (expected one row per sample with at least a query column)")
    return [
        EvalLog(
            model=model,
            queries=tuple(columns["queries"]),
            rows=tuple(columns["rows"]),
            **{name: np.array(columns[name], dtype=np.float64) if name in present else None
               for name in ("score", *NUMBER_COLUMNS)},
        )
        for model, columns in by_model.items()
    ]


def jsonl_records(text: str, path: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line of a JSONL text; SpecError on the first bad one."""
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SpecError(path, f"row {number}", f"not valid JSON: {exc.msg} (column {exc.colno})") from None
        if not isinstance(record, dict):
            raise SpecError(path, f"row {number}", f"must be a JSON object, got {type(record).__name__}")
        yield number, record


def non_negative(value: Any, path: str, where: str) -> float:
    """A number >= 0 (JSON number or text), NaN for a missing value; SpecError otherwise."""
    if value is None:
        return math.nan
    number = _number(value)
    if number is None or number < 0:
        raise SpecError(path, where, f"must be a number >= 0, got {value!r}")
    return number


# --- private helpers -------------------------------------------------------------------------


def _csv_records(text: str, path: str) -> Iterator[tuple[int, Mapping[str, Any]]]:
    reader = csv.reader(io.StringIO(text))
    header: list[str] | None = None
    for fields in reader:
        number = reader.line_num
        cells = [f.strip() for f in fields]
        if not any(cells):
            continue
        if header is None:
            header = cells
            if "query" not in header:
                raise SpecError(path, f"row {number}, query", f"missing: the header row has no query column (it has: {', '.join(cells)})")
            continue
        if len(cells) != len(header):
            raise SpecError(path, f"row {number}", f"{len(cells)} values for the {len(header)} columns of the header")
        yield number, {name: (value if value != "" else None) for name, value in zip(header, cells)}
    if header is None:
        raise SpecError(path, "", "empty: expected a header row with a query column and one row per sample")


def _score(record: Mapping[str, Any], path: str, where: str) -> float:
    correct, score = record.get("correct"), record.get("score")
    if correct is not None and score is not None:
        raise SpecError(path, f"{where}, score", "give correct or score, not both")
    if correct is not None:
        value = _correct(correct)
        if value is None:
            raise SpecError(path, f"{where}, correct", f"must be 0, 1, true or false, got {correct!r}")
        return value
    if score is None:
        return math.nan
    value = _number(score)
    if value is None or not 0.0 <= value <= 1.0:
        raise SpecError(path, f"{where}, score", f"must be a number in [0, 1], got {score!r}")
    return value


def _correct(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)) and value in (0, 1):
        return float(value)
    if isinstance(value, str) and value.strip().lower() in ("0", "1", "true", "false"):
        return 1.0 if value.strip().lower() in ("1", "true") else 0.0
    return None


def _number(value: Any) -> float | None:
    """A finite real number from a JSON number or a CSV cell; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None
