"""Per-sample eval records, as every eval-log reader produces them (readers/).

One sample is one inference on one query: whether it was right (a score in [0, 1]; 0/1 for
correct/wrong), its token counts and its latency. A column the log does not have is None; a
value missing in some rows of a present column is NaN. `rows` names each sample's file and
row, so the fits can point at the data behind a problem.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NUMERIC_COLUMNS = ("score", "input_tokens", "output_tokens", "latency_s")


@dataclass(frozen=True, eq=False)
class EvalLog:
    """One model's samples. Arrays are aligned, one entry per sample."""

    model: str
    queries: tuple[str, ...]  # query name per sample
    rows: tuple[tuple[str, str], ...]  # (file, place) per sample
    score: np.ndarray | None = None
    input_tokens: np.ndarray | None = None
    output_tokens: np.ndarray | None = None
    latency_s: np.ndarray | None = None

    def __post_init__(self) -> None:
        for name in NUMERIC_COLUMNS:
            column = getattr(self, name)
            if column is not None and len(column) != len(self.queries):
                raise ValueError(f"{name} has {len(column)} values for {len(self.queries)} samples")

    @property
    def samples(self) -> int:
        return len(self.queries)

    def query_codes(self) -> np.ndarray:
        """An integer per sample, equal for samples of the same query (first-seen order)."""
        codes: dict[str, int] = {}
        return np.array([codes.setdefault(q, len(codes)) for q in self.queries], dtype=np.int64)

    def source(self) -> str:
        """The file(s) the samples came from, for messages."""
        files = list(dict.fromkeys(f for f, _ in self.rows))
        return files[0] if len(files) == 1 else f"{files[0]} (+{len(files) - 1} more)"


def merge_logs(logs: list[EvalLog]) -> EvalLog:
    """The samples of several logs of one model, in order; a column missing from one log is
    NaN in its rows (present if any log has it)."""
    if not logs:
        raise ValueError("no logs to merge")
    if len(logs) == 1:
        return logs[0]
    columns: dict[str, np.ndarray | None] = {}
    for name in NUMERIC_COLUMNS:
        if all(getattr(log, name) is None for log in logs):
            columns[name] = None
            continue
        columns[name] = np.concatenate([
            getattr(log, name) if getattr(log, name) is not None else np.full(log.samples, np.nan) for log in logs
        ])
    return EvalLog(
        model=logs[0].model,
        queries=tuple(q for log in logs for q in log.queries),
        rows=tuple(r for log in logs for r in log.rows),
        **columns,
    )
