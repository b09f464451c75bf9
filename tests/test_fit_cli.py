"""`infscale fit LOG...`: catalog YAML ready for a sweep, the JSON document, and bad logs.

- A fitted catalog (with prices given) loads as a catalog and runs in a sweep; its entries
  are those of engine.model_fit; --json has the documented shape.
- Every bad log is one line naming the file, row and field, exit code 2, and no file written.
"""

from __future__ import annotations

import json

import pytest
import yaml

from infscale.engine.model_fit import fit_model
from infscale.readers.evallogs import read_eval_logs
from infscale.readers.sweep_files import catalog_from_yaml
from tests.eval_logs import generated_log, rows_of_log
from tests.test_cli import run_cli


@pytest.fixture()
def log_path(tmp_path):
    rows = rows_of_log(generated_log(5, queries=80, samples=5, model="fitted-model"), with_model=True)
    path = tmp_path / "evals.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_fit_writes_a_catalog_that_a_sweep_runs(tmp_path, capsys, log_path) -> None:
    out_file = tmp_path / "catalog.yaml"
    code, out, err = run_cli(capsys, "fit", str(log_path), "--c-in", "1.25e-6", "--c-out", "1e-5", "-o", str(out_file))
    assert code == 0, err
    assert out.startswith(f"wrote {out_file}: 1 model(s) (fitted-model)")
    catalog = catalog_from_yaml(out_file.read_text(), str(out_file))
    model = catalog["fitted-model"]
    expected = fit_model(read_eval_logs([str(log_path)])["fitted-model"]).entry
    assert model.alpha == pytest.approx(expected["alpha"], rel=1e-5) and model.c_in == 1.25e-6
    assert model.t_fixed == pytest.approx(expected["t_fixed"], rel=1e-5)
    assert "# fitted-model: 80 queries, 400 samples" in out_file.read_text()
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(
        f"name: fitted\ncatalog: {out_file.name}\nmodels: [fitted-model]\n"
        "scenarios: [{name: s, max_total_cost: 1, max_total_time: 120, min_accuracy: 0.5, k_max: 8, parallelism: 2}]\n"
        "trials: 2000\nseed: 1\n"
    )
    code, out, err = run_cli(capsys, "run", str(sweep), "--db", f"sqlite:///{tmp_path / 'x.db'}", "--json")
    assert code == 0, err
    assert {r["model"] for r in json.loads(out)["results"]} == {"fitted-model"}


def test_fit_json_has_entries_standard_errors_goodness_of_fit_and_warnings(capsys, log_path) -> None:
    code, out, err = run_cli(capsys, "fit", str(log_path), "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert set(doc) == {"models", "fit"}
    entry, fit = doc["models"]["fitted-model"], doc["fit"]["fitted-model"]
    assert set(fit) >= {"standard_errors", "goodness_of_fit", "warnings"}
    assert set(fit["standard_errors"]) == set(entry) - {"name", "accuracy_model"}
    assert fit["goodness_of_fit"]["difficulty"]["test"].startswith("pearson chi-square")
    assert 0 <= fit["goodness_of_fit"]["difficulty"]["p_value"] <= 1
    assert fit["missing"] == ["c_in", "c_out"] and any("c_in and c_out" in w for w in fit["warnings"])


def test_fit_without_prices_prints_yaml_with_what_is_missing(capsys, log_path) -> None:
    code, out, err = run_cli(capsys, "fit", str(log_path))
    assert code == 0, err
    doc = yaml.safe_load(out)
    assert set(doc["models"]["fitted-model"]) >= {"alpha", "beta", "t_in", "t_out", "mu_Lin", "sigma_Lout"}
    assert "# fitted-model:" in out and "#   warning: a sweep still needs: c_in, c_out" in out


@pytest.mark.parametrize("text, where", [
    ('{"correct": 1}\n', "row 1, query: missing"),
    ('{"query": "a", "correct": 3}\n', "row 1, correct: must be 0, 1, true or false"),
    ('{"query": "a", "correct": 1, "input_tokens": -5}\n', "row 1, input_tokens: must be a number >= 0"),
    ("".join(f'{{"query": "q{i}", "correct": {i % 2}}}\n' for i in range(30)), "row 1, query: query 'q0' has 1 sample, like every query"),
    ("".join(f'{{"query": "q{i % 3}", "correct": {i % 2}}}\n' for i in range(30)), "row 1, query: 3 queries have a score"),
])
def test_bad_logs_are_one_line_exit_2_and_nothing_written(tmp_path, capsys, text: str, where: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(text)
    out_file = tmp_path / "catalog.yaml"
    code, out, err = run_cli(capsys, "fit", str(path), "-o", str(out_file))
    assert (code, out) == (2, "")
    assert err == f"infscale: error: {path}: {where}" + err.split(where, 1)[1] and err.count("\n") == 1, err
    assert not out_file.exists()


def test_price_options_come_in_pairs(capsys, log_path) -> None:
    code, out, err = run_cli(capsys, "fit", str(log_path), "--c-in", "1e-6")
    assert code == 2 and "give both --c-in and --c-out" in err


def test_a_litellm_key_stands_for_the_prices(tmp_path, capsys, log_path) -> None:
    code, out, err = run_cli(capsys, "fit", str(log_path), "--litellm-key", "gpt-5")
    assert code == 0, err
    entry = yaml.safe_load(out)["models"]["fitted-model"]
    assert entry["litellm_key"] == "gpt-5" and "c_in" not in entry and "a sweep still needs" not in out
    model = catalog_from_yaml(out, "fitted.yaml")["fitted-model"]
    assert model.c_in is None and model.litellm_key == "gpt-5"
    code, out, err = run_cli(capsys, "fit", str(log_path), "--litellm-key", "gpt-5", "--c-in", "1", "--c-out", "1")
    assert code == 2 and "not both" in err
