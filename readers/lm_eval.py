"""lm-evaluation-harness per-sample logs (`--log_samples`: samples_<task>_<date>.jsonl).

lm-eval writes one JSON object per document and filter (lm_eval/evaluator.py, the `example`
dict; lm_eval/result_schema.py, `SampleResult`): `doc_id`, `doc`, `target`, `arguments`,
`resps`, `filtered_resps`, `filter` (e.g. "none", "strict-match"), `metrics` (the names of the
per-document metric values, e.g. ["exact_match"]), the three hashes, and one number per
metric. Older versions lack `filter` and `metrics` (the filter is then "none" and the
metrics are the numeric keys). A document's metric after its filter is one sample of the
query `doc_id`; several runs of the same task (files) give several samples per query.
lm-eval records no token counts or latencies, so those are not fitted from these files.

The metric is chosen as lm-eval's results name it, `metric,filter` (e.g.
`exact_match,strict-match`); with one metric and one filter in the file it is that one. The
model is `default_model` (lm-eval writes the files into a folder named for the model).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from infscale.engine.errors import SpecError
from infscale.engine.evallog import EvalLog
from infscale.readers.samples import jsonl_records

FIXED_KEYS = frozenset({
    "doc_id", "doc", "target", "arguments", "resps", "filtered_resps", "filter", "metrics",
    "doc_hash", "prompt_hash", "target_hash",
})


def looks_like_lm_eval(first_record: Any) -> bool:
    """Whether a JSONL file's first object is an lm-eval sample (it has doc_id and resps)."""
    return isinstance(first_record, dict) and "doc_id" in first_record and (
        "filtered_resps" in first_record or "resps" in first_record
    )


def lm_eval_logs(text: str, path: str, default_model: str, metric: str | None = None) -> list[EvalLog]:
    """The chosen metric per document of one samples file's text as one EvalLog (module docstring)."""
    records = list(jsonl_records(text, path))
    for number, record in records:
        if "doc_id" not in record:
            raise SpecError(path, f"row {number}, doc_id", "missing: every lm-eval sample has a doc_id")
    if not records:
        raise SpecError(path, "", "no samples")
    available = list(dict.fromkeys(f"{m},{r.get('filter', 'none')}" for _, r in records for m in _metrics(r)))
    chosen = _choose(available, metric, path)
    name, filter_name = chosen.split(",", 1)
    queries, rows, scores = [], [], []
    for number, record in records:
        if record.get("filter", "none") != filter_name or name not in record:
            continue
        where = f"row {number}"
        value = record[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 1.0:
            raise SpecError(path, f"{where}, {name}", f"must be a number in [0, 1] to count as correctness, got {value!r}")
        queries.append(str(record["doc_id"]))
        rows.append((path, where))
        scores.append(float(value))
    return [EvalLog(model=default_model, queries=tuple(queries), rows=tuple(rows), score=np.array(scores))]


def _metrics(record: dict[str, Any]) -> list[str]:
    names = record.get("metrics")
    if isinstance(names, list):
        return [str(n) for n in names]
    return [k for k, v in record.items() if k not in FIXED_KEYS and isinstance(v, (int, float)) and not isinstance(v, bool)]


def _choose(available: list[str], metric: str | None, path: str) -> str:
    if metric is not None:
        # `exact_match` alone means its only filter.
        matches = [a for a in available if a == metric or a.split(",", 1)[0] == metric]
        if len(matches) == 1:
            return matches[0]
        what = "no metric" if not matches else "several filters for"
        raise SpecError(path, "metrics", f"{what} {metric!r} (the file has: {', '.join(available) or 'none'}); give metric,filter")
    if len(available) != 1:
        raise SpecError(
            path, "metrics", f"choose one metric with --scorer metric,filter (the file has: {', '.join(available) or 'none'})",
        )
    return available[0]
