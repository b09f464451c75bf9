"""Eval-log readers (readers/): per-sample JSONL and CSV, inspect-ai logs, lm-eval samples.

- The same samples as JSONL, CSV, an inspect-ai log and lm-eval samples files give the same
  catalog entries.
- The inspect-ai log is written by inspect-ai itself in the test, offline: a small task run
  against its built-in mock model whose outputs (and token usage) the test chooses.
- lm-evaluation-harness needs torch and hub datasets to run, so its samples files are built
  here from the schema its source defines (lm_eval/evaluator.py builds the per-document
  `example` dict: doc_id, doc, target, arguments, resps, filtered_resps, filter, metrics,
  doc_hash, prompt_hash, target_hash and one number per metric; lm_eval/loggers/
  evaluation_tracker.py writes one JSON line each to <output>/<model>/samples_<task>_<date>.jsonl).
- Every bad log is one line naming the file, the row and the field; FIFOs and oversized files
  are refused without reading them.
"""

from __future__ import annotations

import csv
import json
import os
import threading
from pathlib import Path

import numpy as np
import pytest

from infscale.engine.errors import InfscaleError, SpecError
from infscale.engine.model_fit import fit_model
from infscale.readers import files
from infscale.readers.evallogs import read_eval_logs
from tests.eval_logs import generated_log, rows_of_log

COLUMNS = ("query", "correct", "input_tokens", "output_tokens", "latency_s")


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def write_csv(path: Path, rows: list[dict], columns=COLUMNS) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(columns))
        writer.writeheader()
        writer.writerows(rows)
    return path


def same_entries(a, b) -> None:
    assert a.entry.keys() == b.entry.keys()
    for key in a.entry:
        if isinstance(a.entry[key], float):
            assert a.entry[key] == pytest.approx(b.entry[key], rel=1e-12), key
        else:
            assert a.entry[key] == b.entry[key], key


def test_jsonl_and_csv_give_the_same_samples_and_entries(tmp_path) -> None:
    rows = rows_of_log(generated_log(4, queries=60, samples=4))
    from_jsonl = read_eval_logs([str(write_jsonl(tmp_path / "m.jsonl", rows))])
    from_csv = read_eval_logs([str(write_csv(tmp_path / "m.csv", rows))])
    assert list(from_jsonl) == list(from_csv) == ["m"]
    a, b = from_jsonl["m"], from_csv["m"]
    assert a.queries == b.queries and a.samples == 240
    for column in ("score", "input_tokens", "output_tokens", "latency_s"):
        assert np.array_equal(getattr(a, column), getattr(b, column))
    assert a.rows[0] == (str(tmp_path / "m.jsonl"), "row 1") and b.rows[0] == (str(tmp_path / "m.csv"), "row 2")
    same_entries(fit_model(a), fit_model(b))


def test_model_column_splits_and_files_merge_by_model(tmp_path) -> None:
    first = rows_of_log(generated_log(1, queries=20, samples=2, model="alpha"), with_model=True)
    second = rows_of_log(generated_log(2, queries=20, samples=2, model="beta"), with_model=True)
    mixed = [r for pair in zip(first, second) for r in pair]
    more = rows_of_log(generated_log(3, queries=20, samples=1, model="alpha"), with_model=True)
    logs = read_eval_logs([str(write_jsonl(tmp_path / "a.jsonl", mixed)), str(write_jsonl(tmp_path / "b.jsonl", more))])
    assert list(logs) == ["alpha", "beta"]
    assert logs["alpha"].samples == 60 and logs["beta"].samples == 40
    # The same query names in two files are the same queries: 20 queries, 3 samples each.
    assert len(set(logs["alpha"].queries)) == 20


def test_score_and_true_false_columns(tmp_path) -> None:
    path = tmp_path / "s.jsonl"
    write_jsonl(path, [{"query": "a", "correct": True}, {"query": "a", "correct": "false"}, {"query": "b", "score": 0.25}])
    log = read_eval_logs([str(path)])["s"]
    assert log.score.tolist() == [1.0, 0.0, 0.25]
    assert log.input_tokens is None and log.latency_s is None


BAD_ROWS = [
    ('{"correct": 1}\n', "row 1, query: missing"),
    ('{"query": "a", "correct": 2}\n', "row 1, correct: must be 0, 1, true or false, got 2"),
    ('{"query": "a", "correct": 1}\n{"query": "a", "score": 1.5}\n', "row 2, score: must be a number in [0, 1]"),
    (
        '{"query": "a", "correct": 1}\n\n{"query": "b", "correct": 0, "output_tokens": -3}\n',
        "row 3, output_tokens: must be a number >= 0, got -3",
    ),
    ('{"query": "a", "latency_s": "fast"}\n', "row 1, latency_s: must be a number >= 0"),
    ('{"query": "a", "correct": 1, "score": 1}\n', "row 1, score: give correct or score, not both"),
    ('{"query": "a"\n', "row 1: not valid JSON"),
    ('[1, 2]\n', "row 1: must be a JSON object"),
]


@pytest.mark.parametrize("text, message", BAD_ROWS)
def test_bad_jsonl_rows_are_one_error_naming_file_row_and_field(tmp_path, text: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(text)
    with pytest.raises(SpecError) as info:
        read_eval_logs([str(path)])
    assert str(info.value).startswith(f"{path}: {message}")


def test_bad_csv_rows_are_one_error_naming_file_row_and_field(tmp_path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("id,correct\n1,1\n")
    with pytest.raises(SpecError, match=r"bad.csv: row 1, query: missing: the header row has no query column"):
        read_eval_logs([str(path)])
    path.write_text("query,correct,input_tokens\nq1,1,10\nq1,yes,10\n")
    with pytest.raises(SpecError, match=r"bad.csv: row 3, correct: must be 0, 1, true or false, got 'yes'"):
        read_eval_logs([str(path)])
    path.write_text("query,correct\nq1,1,7\n")
    with pytest.raises(SpecError, match=r"bad.csv: row 2: 3 values for the 2 columns"):
        read_eval_logs([str(path)])


def test_unknown_format_fifo_directory_and_size_limit_are_refused(tmp_path, monkeypatch) -> None:
    with pytest.raises(InfscaleError, match="unknown eval log format '.txt'"):
        read_eval_logs([str(tmp_path / "x.txt")])
    with pytest.raises(InfscaleError, match="cannot read eval log: No such file"):
        read_eval_logs([str(tmp_path / "missing.jsonl")])
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    # Nobody ever writes to the pipe: a reader that opened it for reading would block forever.
    done = threading.Event()
    errors: list[Exception] = []

    def read() -> None:
        try:
            read_eval_logs([str(fifo)])
        except InfscaleError as exc:
            errors.append(exc)
        done.set()

    threading.Thread(target=read, daemon=True).start()
    assert done.wait(30), "reading a FIFO blocked"
    assert "a pipe; an eval log must be a regular file" in str(errors[0])
    folder = tmp_path / "dir.jsonl"
    folder.mkdir()
    with pytest.raises(InfscaleError, match="a directory"):
        read_eval_logs([str(folder)])
    big = write_jsonl(tmp_path / "big.jsonl", [{"query": "q", "correct": 1}] * 100)
    monkeypatch.setattr(files, "MAX_LOG_BYTES", 1000)
    with pytest.raises(InfscaleError, match=r"big.jsonl: \d+ bytes, larger than the limit of 1000 bytes"):
        read_eval_logs([str(big)])


# --- lm-evaluation-harness -------------------------------------------------------------------


def lm_eval_line(doc_id: int, correct: int, filter_name: str = "strict-match", question: str = "") -> dict:
    """One line of samples_<task>_<date>.jsonl as lm-eval writes it for a generate_until task."""
    answer = "42" if correct else "41"
    return {
        "doc_id": doc_id,
        "doc": {"question": question or f"question {doc_id}", "answer": "#### 42"},
        "target": "42",
        "arguments": {"gen_args_0": {"arg_0": f"Q: question {doc_id}\nA:", "arg_1": {"until": ["\n\n"], "do_sample": True}}},
        "resps": [[f"The answer is {answer}."]],
        "filtered_resps": [answer],
        "filter": filter_name,
        "metrics": ["exact_match"],
        "doc_hash": f"{doc_id:064x}",
        "prompt_hash": f"{doc_id + 1:064x}",
        "target_hash": f"{42:064x}",
        "exact_match": float(correct),
    }


def test_lm_eval_samples_files_read_as_the_same_entries_as_jsonl(tmp_path) -> None:
    log = generated_log(7, queries=30, samples=3)
    rows = rows_of_log(log)
    folder = tmp_path / "results" / "my-model"
    folder.mkdir(parents=True)
    paths = []
    for run in range(3):  # three runs of the task: one sample of every document each
        lines = []
        for q in range(30):
            row = rows[q * 3 + run]
            lines.append(lm_eval_line(q, row["correct"]))
            lines.append(lm_eval_line(q, 1, filter_name="flexible-extract"))
        path = folder / f"samples_gsm8k_2026-01-0{run + 1}T00-00-00.jsonl"
        write_jsonl(path, lines)
        paths.append(str(path))
    both = r"\(the file has: exact_match,strict-match, exact_match,flexible-extract\)"
    with pytest.raises(SpecError, match=r"choose one metric with --scorer metric,filter " + both):
        read_eval_logs(paths)
    logs = read_eval_logs(paths, scorer="exact_match,strict-match")
    assert list(logs) == ["my-model"]
    lm = logs["my-model"]
    assert lm.samples == 90 and lm.input_tokens is None
    plain = [{"query": str(q), "correct": rows[q * 3 + run]["correct"]} for run in range(3) for q in range(30)]
    reference = read_eval_logs([str(write_jsonl(tmp_path / "plain.jsonl", plain))], model="my-model")["my-model"]
    same_entries(fit_model(lm), fit_model(reference))


def test_lm_eval_metric_outside_0_1_is_refused_naming_row_and_field(tmp_path) -> None:
    line = lm_eval_line(0, 1) | {"metrics": ["bleu"], "bleu": 37.5}
    del line["exact_match"]
    path = write_jsonl(tmp_path / "samples_t_x.jsonl", [line])
    with pytest.raises(SpecError, match=r"samples_t_x.jsonl: row 1, bleu: must be a number in \[0, 1\] to count as correctness, got 37.5"):
        read_eval_logs([str(path)])


# --- inspect-ai ------------------------------------------------------------------------------


def write_inspect_log(tmp_path: Path, log) -> tuple[str, list[dict]]:
    """Run a task of the log's queries (epochs = samples per query) against inspect-ai's mock
    model, answering each call as the log says (right or wrong, its token counts); returns the
    log's path and the samples as the per-sample format, in the order the calls happened."""
    import inspect_ai
    from inspect_ai.dataset import Sample
    from inspect_ai.model import ModelOutput, ModelUsage, get_model
    from inspect_ai.scorer import match
    from inspect_ai.solver import generate

    rows = rows_of_log(log)
    per_query: dict[str, list[dict]] = {}
    for row in rows:
        per_query.setdefault(row["query"], []).append(row)
    served: list[dict] = []

    def answer(messages, tools, tool_choice, config) -> ModelOutput:
        query = messages[-1].text.split()[-1]
        row = per_query[query][sum(1 for s in served if s["query"] == query)]
        served.append(row)
        output = ModelOutput.from_content(model="mockllm/model", content="yes" if row["correct"] else "no")
        output.usage = ModelUsage(
            input_tokens=row["input_tokens"], output_tokens=row["output_tokens"],
            total_tokens=row["input_tokens"] + row["output_tokens"],
        )
        return output

    samples_per_query = len(next(iter(per_query.values())))
    task = inspect_ai.Task(
        dataset=[Sample(id=q, input=f"Is this right? {q}", target="yes") for q in per_query],
        solver=generate(), scorer=match(), epochs=samples_per_query,
    )
    model = get_model("mockllm/model", custom_outputs=answer)
    [result] = inspect_ai.eval(task, model=model, log_dir=str(tmp_path / "logs"), display="none")
    assert result.status == "success", result.error
    return result.location, served


def test_inspect_ai_log_reads_as_the_same_entries_as_jsonl(tmp_path) -> None:
    from inspect_ai.log import read_eval_log

    path, served = write_inspect_log(tmp_path, generated_log(8, queries=12, samples=4))
    logs = read_eval_logs([path])
    assert list(logs) == ["mockllm/model"]
    log = logs["mockllm/model"]
    assert log.samples == 48 and sorted(log.queries) == sorted(r["query"] for r in served)
    # inspect-ai measures each call's time itself (output.time); the equivalent JSONL takes it
    # from inspect-ai's own reading of the log, paired by the (unique-enough) token counts.
    times = {
        (s.id, s.output.usage.input_tokens, s.output.usage.output_tokens): s.output.time
        for s in read_eval_log(path).samples
    }
    rows = [r | {"latency_s": times[(r["query"], r["input_tokens"], r["output_tokens"])]} for r in served]
    reference = read_eval_logs([str(write_jsonl(tmp_path / "same.jsonl", rows))], model="mockllm/model")["mockllm/model"]
    same_entries(fit_model(log), fit_model(reference))
    assert fit_model(log).entry["alpha"] > 0


def test_inspect_ai_log_with_several_scorers_needs_a_choice(tmp_path) -> None:
    import inspect_ai
    from inspect_ai.dataset import Sample
    from inspect_ai.model import get_model
    from inspect_ai.scorer import includes, match
    from inspect_ai.solver import generate

    task = inspect_ai.Task(dataset=[Sample(id="a", input="x", target="y")], solver=generate(), scorer=[match(), includes()])
    [result] = inspect_ai.eval(task, model=get_model("mockllm/model", custom_outputs=iter([_output()])),
                               log_dir=str(tmp_path), display="none")
    with pytest.raises(SpecError, match=r"scores: choose one scorer with --scorer \(the log has: match, includes\)"):
        read_eval_logs([result.location])
    assert read_eval_logs([result.location], scorer="includes")["mockllm/model"].score.tolist() == [0.0]


def _output():
    from inspect_ai.model import ModelOutput, ModelUsage

    output = ModelOutput.from_content(model="mockllm/model", content="n")
    output.usage = ModelUsage(input_tokens=3, output_tokens=1, total_tokens=4)
    return output
