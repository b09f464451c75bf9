"""inspect-ai eval logs (.eval or .json), read with inspect-ai's own reader.

inspect-ai is an optional extra (`pip install 'infscale[inspect]'`). One sample of the log is
one sample here: its id is the query (epochs give several samples per query), its score is
the chosen scorer's value as inspect-ai converts it to a number (C 1, I 0, P 0.5, N 0), and
its tokens and latency are those of its final model output (`output.usage.input_tokens`,
`output_tokens`, `output.time`): one inference per sample, as best-of-k assumes. The model is
the log's `eval.model`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from infscale.engine.errors import InfscaleError, SpecError
from infscale.engine.evallog import EvalLog
from infscale.readers.files import check_regular_file
from infscale.readers.samples import non_negative


def read_inspect_log(path: str, scorer: str | None = None) -> list[EvalLog]:
    """The samples of one inspect-ai log as one EvalLog (module docstring)."""
    try:
        from inspect_ai.log import read_eval_log
        from inspect_ai.scorer import value_to_float
    except ImportError:
        raise InfscaleError(
            f"{path}: an inspect-ai log; reading it needs inspect-ai: pip install 'infscale[inspect]'"
        ) from None
    check_regular_file(path)
    try:
        log = read_eval_log(path)
    except Exception as exc:  # inspect-ai raises many kinds for a file that is not its log
        raise SpecError(path, "", f"not a readable inspect-ai log: {type(exc).__name__}: {exc}") from None
    samples = log.samples or []
    if not samples:
        raise SpecError(path, "samples", "the log has no samples (was it written with --no-log-samples?)")
    name = _scorer(samples, path, scorer)
    to_float = value_to_float()
    queries, rows, scores, l_in, l_out, latency = [], [], [], [], [], []
    for i, sample in enumerate(samples, start=1):
        where = f"sample {i} (id {sample.id!r}, epoch {sample.epoch})"
        queries.append(str(sample.id))
        rows.append((path, where))
        score = (sample.scores or {}).get(name)
        scores.append(_score(score, to_float, path, f"{where}, scores.{name}"))
        usage = sample.output.usage if sample.output is not None else None
        l_in.append(non_negative(getattr(usage, "input_tokens", None), path, f"{where}, output.usage.input_tokens"))
        l_out.append(non_negative(getattr(usage, "output_tokens", None), path, f"{where}, output.usage.output_tokens"))
        seconds = sample.output.time if sample.output is not None else None
        latency.append(non_negative(seconds, path, f"{where}, output.time"))
    return [EvalLog(
        model=log.eval.model,
        queries=tuple(queries),
        rows=tuple(rows),
        score=_column(scores),
        input_tokens=_column(l_in),
        output_tokens=_column(l_out),
        latency_s=_column(latency),
    )]


def _scorer(samples: list[Any], path: str, chosen: str | None) -> str:
    names = list(dict.fromkeys(n for s in samples for n in (s.scores or {})))
    if chosen is not None:
        if chosen not in names:
            raise SpecError(path, "scores", f"no scorer {chosen!r} (the log has: {', '.join(names) or 'none'})")
        return chosen
    if len(names) != 1:
        have = ", ".join(names) if names else "none"
        raise SpecError(path, "scores", f"choose one scorer with --scorer (the log has: {have})")
    return names[0]


def _score(score: Any, to_float: Any, path: str, where: str) -> float:
    if score is None:
        return math.nan  # an errored or unscored sample: missing, not wrong
    try:
        value = float(to_float(score.value))
    except (TypeError, ValueError):
        raise SpecError(path, where, f"not a single value in [0, 1]: {score.value!r}") from None
    if not 0.0 <= value <= 1.0:
        raise SpecError(path, where, f"must be in [0, 1], got {value:g} (from {score.value!r})")
    return value


def _column(values: list[float]) -> np.ndarray | None:
    array = np.array(values, dtype=np.float64)
    return None if np.all(np.isnan(array)) else array
