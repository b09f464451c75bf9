"""Any eval log a user names: the format from the file, the samples as EvalLogs per model.

- `.csv`, `.jsonl`: per-sample rows (readers.samples), or lm-evaluation-harness samples when
  the first object has lm-eval's fields (readers.lm_eval);
- `.eval`, `.json`: inspect-ai logs (readers.inspect_logs).
Logs of the same model from several files are merged (their queries match by name).
"""

from __future__ import annotations

import json
from pathlib import Path

from infscale.engine.errors import InfscaleError
from infscale.engine.evallog import EvalLog, merge_logs
from infscale.readers.files import read_text
from infscale.readers.inspect_logs import read_inspect_log
from infscale.readers.lm_eval import lm_eval_logs, looks_like_lm_eval
from infscale.readers.samples import sample_rows_logs

SUFFIXES = (".jsonl", ".csv", ".eval", ".json")


def read_eval_logs(paths: list[str], model: str | None = None, scorer: str | None = None) -> dict[str, EvalLog]:
    """Every file's samples, merged per model key (in order of first appearance). `model`
    names the samples whose log does not (default: the file's stem; for lm-eval, the folder
    lm-eval named for the model); `scorer` picks an inspect-ai scorer or an lm-eval metric."""
    by_model: dict[str, list[EvalLog]] = {}
    for path in paths:
        for log in read_eval_log(path, model, scorer):
            by_model.setdefault(log.model, []).append(log)
    return {key: merge_logs(logs) for key, logs in by_model.items()}


def read_eval_log(path: str, model: str | None = None, scorer: str | None = None) -> list[EvalLog]:
    """One file's samples, one EvalLog per model (module docstring)."""
    suffix = Path(path).suffix.lower()
    if suffix in (".eval", ".json"):
        return read_inspect_log(path, scorer)
    if suffix not in SUFFIXES:
        raise InfscaleError(f"{path}: unknown eval log format {suffix or '(no suffix)'!r} (known: {', '.join(SUFFIXES)})")
    text = read_text(path, "eval log")
    if suffix == ".jsonl" and looks_like_lm_eval(_first_object(text)):
        folder = Path(path).resolve().parent.name
        return lm_eval_logs(text, path, model or folder or Path(path).stem, scorer)
    return sample_rows_logs(text, path, model or Path(path).stem)


def _first_object(text: str) -> object:
    for line in text.splitlines():
        if line.strip():
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                return None
    return None
