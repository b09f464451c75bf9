"""An eval log's samples as the empirical model keeps them: compact arrays grouped by query.

`EmpiricalData` is what a catalog entry's `data: FILE` becomes (engine.validation, from the
EvalLog the readers built) and what a sweep stores with its spec (readers.stored_specs), so a
worker never reads the file. At most MAX_SAMPLES samples. The model itself (draws, exact
means) is engine.empirical.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from infscale.engine.errors import SpecError
from infscale.engine.evallog import EvalLog

MAX_SAMPLES = 100_000
"""Samples (rows) an empirical model may hold: its data is stored with the sweep, once in the
sweep's spec and once per run (about 11 bytes per sample and column as stored, base64)."""

COLUMNS = ("score", "input_tokens", "output_tokens", "latency_s")
_LABELS = {"score": "correct or score"}  # how a log names the column, in errors


@dataclass(frozen=True, eq=False)
class EmpiricalData:
    """An eval log's samples grouped by query (query i holds the next `counts[i]` samples).

    Columns are read-only float64 arrays, one value per sample, None when the log has no such
    column. Equal (and hashed) by content, so specs that carry it compare as values.
    """

    source: str  # the file the samples came from, for messages
    counts: np.ndarray  # int64 (queries,), each >= 1
    score: np.ndarray | None = None  # in [0, 1]; 0/1 for wrong/correct
    input_tokens: np.ndarray | None = None  # >= 0
    output_tokens: np.ndarray | None = None  # >= 0
    latency_s: np.ndarray | None = None  # >= 0, seconds per inference, everything included

    def __post_init__(self) -> None:
        counts = np.array(self.counts, dtype=np.int64)
        if counts.ndim != 1 or counts.size == 0 or np.any(counts < 1):
            raise ValueError("counts must be a non-empty array of positive sample counts per query")
        n = int(counts.sum())
        object.__setattr__(self, "counts", _frozen(counts))
        for name in COLUMNS:
            column = getattr(self, name)
            if column is None:
                continue
            column = np.array(column, dtype=np.float64)
            if column.shape != (n,) or not np.all(np.isfinite(column)) or np.any(column < 0):
                raise ValueError(f"{name} must hold {n} finite values >= 0")
            if name == "score" and np.any(column > 1):
                raise ValueError("score must be in [0, 1]")
            object.__setattr__(self, name, _frozen(column))
        digest = hashlib.sha256(self.source.encode())
        for name in ("counts", *COLUMNS):
            column = getattr(self, name)
            digest.update(name.encode() + (b"-" if column is None else b"+" + column.tobytes()))
        object.__setattr__(self, "_digest", digest.digest())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, EmpiricalData) and self._digest == other._digest  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._digest)  # type: ignore[attr-defined]

    @property
    def n_queries(self) -> int:
        return int(self.counts.size)

    @property
    def n_samples(self) -> int:
        return int(self.counts.sum())

    @property
    def starts(self) -> np.ndarray:
        """Index of each query's first sample."""
        return np.concatenate(([0], np.cumsum(self.counts)[:-1])).astype(np.int64)

    def query_means(self, values: np.ndarray) -> np.ndarray:
        """Each query's mean of per-sample `values`."""
        return np.add.reduceat(values, self.starts) / self.counts

    def mean_over_queries(self, values: np.ndarray) -> float:
        """E[value of one inference]: a uniform query, then a uniform sample of it."""
        return float(np.mean(self.query_means(values)))


def data_from_log(log: EvalLog, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> EmpiricalData:
    """The samples of `log` grouped by query (in order of first appearance; samples in file
    order), with the `required` columns (each in every row) and those `optional` ones the log
    has at all (then in every row). A missing column or value, or more than MAX_SAMPLES
    samples, is a SpecError naming the file (and row) and the column."""
    source = log.source()
    if log.samples > MAX_SAMPLES:
        raise SpecError(
            source, "", f"{log.samples} samples, over the limit of {MAX_SAMPLES} that an empirical model stores "
            "with its sweep (keep fewer queries or samples per query)",
        )
    codes = log.query_codes()
    order = np.argsort(codes, kind="stable")
    columns: dict[str, np.ndarray] = {}
    for name in required + optional:
        column = getattr(log, name)
        label = _LABELS.get(name, name)
        use = "accuracy_model empirical" if name == "score" else "lengths empirical"
        if column is None:
            if name in optional:
                continue
            raise SpecError(source, label, f"missing: {use} needs it in every row, and the log has no {label} column")
        missing = np.flatnonzero(np.isnan(column))
        if missing.size:
            file, place = log.rows[int(missing[0])]
            why = f"{use} needs it in every row" if name in required else "give it in every row or in none"
            raise SpecError(file, f"{place}, {label}", f"missing: {why}")
        columns[name] = column[order]
    return EmpiricalData(source=source, counts=np.bincount(codes), **columns)


def _frozen(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array
