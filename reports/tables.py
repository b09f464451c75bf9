"""Rows as columns: the one tabular form behind `--csv`, `to_csv()` and `to_pandas()`.

Rows are frozen dataclasses (storage rows, engine results); a field that is itself a
dataclass (a model's `Prices`) is flattened into its fields, timestamps become ISO text and
a missing number stays missing (an empty CSV cell, NaN or None in pandas).
"""

from __future__ import annotations

import csv
import io
from dataclasses import fields, is_dataclass
from datetime import datetime
from typing import Any, Mapping, Sequence

from infscale.engine.errors import InfscaleError
from infscale.engine.intervals import bounded_mean_interval, wilson_interval
from infscale.reports.text import chosen_by_k
from infscale.reports.values import json_float


def columns_of(rows: Sequence[Any], row_type: type | None = None) -> dict[str, list[Any]]:
    """Dataclass rows -> {column: values}; `row_type` names the columns when there are no rows."""
    kind = type(rows[0]) if rows else row_type
    if kind is None:
        return {}
    names = _flat_names(kind)
    out: dict[str, list[Any]] = {name: [] for name in names}
    for row in rows:
        for name, value in zip(names, _flat_values(row)):
            out[name].append(value.isoformat() if isinstance(value, datetime) else value)
    return out


def curves_columns(stored: Any, choices: Sequence[Any] = ()) -> dict[str, list[Any]]:
    """One stored run's curves aligned on k: means, standard errors, quantiles, P(all budgets
    met), feasibility, frontier membership and `chosen_by` (the methods that chose each k)."""
    c = stored.curves
    out: dict[str, list[Any]] = {"k": [int(k) for k in c.k]}
    for name in ("cost", "time", "accuracy"):
        metric = getattr(c, name)
        for stat in ("mean", "se", "p05", "p50", "p95"):
            out[f"{name}_{stat}"] = [json_float(v) for v in getattr(metric, stat)]
    # 95% intervals that never collapse (engine.intervals): accuracy and P(all budgets met).
    # Under pass@k each trial's accuracy is 0 or 1, so its mean is a proportion: Wilson's.
    if stored.accuracy_model == "pass_at_k":
        lo, hi = wilson_interval(c.accuracy.mean, c.trials)
    else:
        lo, hi = bounded_mean_interval(c.accuracy.mean, c.accuracy.se, c.trials)
    out["accuracy_lower"], out["accuracy_upper"] = [json_float(v) for v in lo], [json_float(v) for v in hi]
    out["feasible_probability"] = [json_float(v) for v in c.feasible_probability]
    lo, hi = wilson_interval(c.feasible_probability, c.trials)
    out["feasible_probability_lower"] = [json_float(v) for v in lo]
    out["feasible_probability_upper"] = [json_float(v) for v in hi]
    out["feasible"] = [bool(v) for v in stored.feasible]
    out["on_frontier"] = [bool(v) for v in stored.on_frontier]
    chosen = chosen_by_k(choices)
    out["chosen_by"] = [" ".join(chosen.get(int(k), ())) for k in c.k]
    return out




def to_csv(columns: Mapping[str, Sequence[Any]]) -> str:
    """CSV text with a header row; None is an empty cell, floats keep full precision."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for values in zip(*columns.values()):
        writer.writerow(["" if v is None else repr(v) if isinstance(v, float) else v for v in values])
    return buffer.getvalue()


def to_pandas(columns: Mapping[str, Sequence[Any]]) -> Any:
    """A pandas DataFrame of the columns (pandas is the optional extra `infscale[pandas]`)."""
    try:
        import pandas
    except ImportError:
        raise InfscaleError("to_pandas() needs pandas: pip install 'infscale[pandas]'") from None
    return pandas.DataFrame(dict(columns))


def _flat_names(kind: type) -> list[str]:
    names = []
    for f in fields(kind):
        inner = _dataclass_type(kind, f.name)
        names.extend(_flat_names(inner) if inner is not None else [f.name])
    return names


def _flat_values(row: Any) -> list[Any]:
    values = []
    for f in fields(row):
        value = getattr(row, f.name)
        values.extend(_flat_values(value) if is_dataclass(value) else [value])
    return values


def _dataclass_type(kind: type, name: str) -> type | None:
    """The dataclass type of field `name`, if it is one (resolved from the type's annotations)."""
    import typing

    hint = typing.get_type_hints(kind).get(name)
    return hint if isinstance(hint, type) and is_dataclass(hint) else None
