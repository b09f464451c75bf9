"""Spec validation: every bad input is a SpecError naming its source file and field path, and the
reference notebook's catalog file loads unchanged as the built-in catalog."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from infscale.engine.catalog import builtin_catalog
from infscale.engine.errors import SpecError
from infscale.engine.plan import BLOCK_TRIALS, check_memory
from infscale.engine.specs import KGrid, Mode, SweepSpec
from infscale.readers.sweep_files import catalog_from_yaml, sweep_from_yaml

REPO = Path(__file__).resolve().parents[1]
REFERENCE_CATALOG = Path(__file__).resolve().parent / "data" / "reference-config.yaml"
"""The reference notebook's model table, copied verbatim from shared/reference/ (data only)."""
SWEEP = "sweeps/bad.yaml"
CATALOG = "catalogs/mine.yaml"

VALID_MODEL: dict[str, Any] = {
    "name": "Mine", "c_in": 1e-6, "c_out": 2e-6, "t_in": 1e-3, "t_out": 2e-3, "mu_Lin": 100,
    "sigma_Lin": 10, "mu_Lout": 200, "sigma_Lout": 20, "acc_mean": 0.9, "acc_std": 0.05,
}
VALID_SCENARIO: dict[str, Any] = {
    "name": "s", "max_total_cost": 0.5, "max_total_time": 60, "min_accuracy": 0.88, "k_max": 16, "parallelism": 4,
}


def catalog_text(**model: Any) -> str:
    return yaml.safe_dump({"models": {"mine": {**VALID_MODEL, **model}}}, sort_keys=False)


def sweep_text(scenario: dict[str, Any] | None = None, **top: Any) -> str:
    data = {
        "name": "t", "catalog": "builtin:paper", "models": ["gpt5"],
        "scenarios": [{**VALID_SCENARIO, **(scenario or {})}], "trials": 1000, "seed": 1, **top,
    }
    return yaml.safe_dump(data, sort_keys=False)


def load_sweep(text: str, catalog: str = catalog_text()) -> SweepSpec:
    files = {CATALOG: catalog}

    def read_text(path: str) -> str:
        if path not in files:
            raise FileNotFoundError(2, "No such file or directory", path)
        return files[path]

    return sweep_from_yaml(text, SWEEP, read_text)


def spec_error(call: Callable[[], Any], source: str) -> SpecError:
    """The SpecError `call` raises; its message starts with the source and the field."""
    with pytest.raises(SpecError) as info:
        call()
    error = info.value
    assert error.source == source
    assert str(error).startswith(f"{source}: {error.field}: "), str(error)
    return error


def test_valid_sweep_loads() -> None:
    sweep = load_sweep(sweep_text(mode="legacy", scenario={"k_grid": "all", "min_probability": 0.9}))
    assert sweep.source == SWEEP and sweep.trials == 1000 and sweep.seed == 1 and sweep.mode is Mode.LEGACY
    assert [m.key for m in sweep.models] == ["gpt5"]
    (scenario,) = sweep.scenarios
    assert (scenario.k_max, scenario.parallelism, scenario.k_grid, scenario.min_probability) == (16, 4, KGrid.ALL, 0.9)


def test_example_sweep_loads() -> None:
    examples = REPO / "examples"
    sweep = sweep_from_yaml((examples / "paper.yaml").read_text(), "examples/paper.yaml", lambda p: (examples / p).read_text())
    assert len(sweep.models) == 9 and [s.name for s in sweep.scenarios] == ["balanced", "latency-critical", "accuracy-critical"]


@pytest.mark.parametrize(
    "text, field",
    [
        pytest.param("name: t\nscenarios: [balanced\ntrials: 10\n", "line 3", id="malformed-yaml"),
        pytest.param("name: !!python/object/apply:os.system [echo hi]\ntrials: 10\n", "line 1", id="python-tag"),
        pytest.param("- a list\n- not a mapping\n", "(top level)", id="not-a-mapping"),
        pytest.param(sweep_text(models=["gpt6"]), "models[0]", id="unknown-model"),
        pytest.param(sweep_text(models=["gpt5", "gpt5"]), "models[1]", id="model-twice"),
        pytest.param(sweep_text(scenarios=["balanced", "fast"]), "scenarios[1]", id="unknown-scenario-name"),
        pytest.param(sweep_text(scenarios="builtin:fast"), "scenarios", id="unknown-scenario-set"),
        pytest.param(sweep_text(catalog="builtin:other"), "catalog", id="unknown-builtin-catalog"),
        pytest.param(sweep_text(catalog="missing.yaml"), "catalog", id="unreadable-catalog"),
        pytest.param(sweep_text(scenario={"min_accuracy": 1.2}), "scenarios[0].min_accuracy", id="min-accuracy-above-1"),
        pytest.param(sweep_text(scenario={"min_accuracy": -0.1}), "scenarios[0].min_accuracy", id="min-accuracy-below-0"),
        pytest.param(sweep_text(scenario={"max_total_cost": -1}), "scenarios[0].max_total_cost", id="negative-cost-budget"),
        pytest.param(sweep_text(scenario={"max_total_time": 0}), "scenarios[0].max_total_time", id="zero-time-budget"),
        pytest.param(sweep_text(scenario={"k_max": 0}), "scenarios[0].k_max", id="k-max-0"),
        pytest.param(sweep_text(scenario={"k_max": 8.5}), "scenarios[0].k_max", id="k-max-not-integer"),
        pytest.param(sweep_text(scenario={"parallelism": 0}), "scenarios[0].parallelism", id="parallelism-0"),
        pytest.param(sweep_text(scenario={"k_max": 3, "parallelism": 4}), "scenarios[0].k_max", id="k-max-below-p"),
        pytest.param(sweep_text(scenario={"k_grid": "odd"}), "scenarios[0].k_grid", id="unknown-k-grid"),
        pytest.param(sweep_text(scenario={"min_probability": 0}), "scenarios[0].min_probability", id="probability-0"),
        pytest.param(sweep_text(scenario={"max_total_cst": 1}), "scenarios[0].max_total_cst", id="scenario-typo"),
        pytest.param(sweep_text(trials=0), "trials", id="trials-0"),
        pytest.param(sweep_text(trials=2.5), "trials", id="trials-not-integer"),
        pytest.param(sweep_text(trials="many"), "trials", id="trials-string"),
        pytest.param(sweep_text(trials=True), "trials", id="trials-bool"),
        pytest.param(sweep_text(seed=-1), "seed", id="negative-seed"),
        pytest.param(sweep_text(mode="fast"), "mode", id="unknown-mode"),
        pytest.param(sweep_text(trails=10), "trails", id="top-level-typo"),
    ],
)
def test_bad_sweep_names_source_and_field(text: str, field: str) -> None:
    assert spec_error(lambda: load_sweep(text), SWEEP).field == field


def test_k_max_below_parallelism_is_fine_with_every_k() -> None:
    (scenario,) = load_sweep(sweep_text(scenario={"k_max": 3, "parallelism": 4, "k_grid": "all"})).scenarios
    assert scenario.grid().tolist() == [1, 2, 3]


@pytest.mark.parametrize(
    "model, field",
    [
        pytest.param({"c_in": -1e-6}, "c_in", id="negative-input-price"),
        pytest.param({"c_out": -1e-6}, "c_out", id="negative-output-price"),
        pytest.param({"t_in": -1e-3}, "t_in", id="negative-input-time"),
        pytest.param({"t_out": -1e-3}, "t_out", id="negative-output-time"),
        pytest.param({"sigma_Lin": -1}, "sigma_Lin", id="negative-sigma-in"),
        pytest.param({"sigma_Lout": -1}, "sigma_Lout", id="negative-sigma-out"),
        pytest.param({"acc_std": -0.01}, "acc_std", id="negative-acc-std"),
        pytest.param({"acc_mean": 1.01}, "acc_mean", id="acc-mean-above-1"),
        pytest.param({"acc_mean": -0.5}, "acc_mean", id="acc-mean-below-0"),
        pytest.param({"mu_Lin": 0}, "mu_Lin", id="no-input-tokens"),
        pytest.param({"c_in": float("nan")}, "c_in", id="nan-price"),
        pytest.param({"c_in": "cheap"}, "c_in", id="price-string"),
        pytest.param({"c_in": None}, "c_in", id="missing-price"),
        pytest.param({"default_parallel": 0}, "default_parallel", id="default-parallel-0"),
        pytest.param({"acc_mena": 0.9}, "acc_mena", id="model-typo"),
    ],
)
def test_bad_catalog_entry_names_source_and_field(model: dict[str, Any], field: str) -> None:
    text = catalog_text(**model)
    assert spec_error(lambda: catalog_from_yaml(text, CATALOG), CATALOG).field == f"models.mine.{field}"
    # Named by a sweep, the catalog file is still the source of the error.
    sweep = sweep_text(catalog=CATALOG, models=["mine"])
    assert spec_error(lambda: load_sweep(sweep, catalog=text), CATALOG).field == f"models.mine.{field}"


@pytest.mark.parametrize(
    "text, field",
    [
        pytest.param("models: {mine: [1, 2}\n", "line 1", id="malformed-yaml"),
        pytest.param("models: !!python/object:os.system {}\n", "line 1", id="python-tag"),
        pytest.param("models: {}\n", "models", id="no-models"),
        pytest.param("modles: {}\n", "modles", id="top-level-typo"),
    ],
)
def test_bad_catalog_file_names_source_and_field(text: str, field: str) -> None:
    assert spec_error(lambda: catalog_from_yaml(text, CATALOG), CATALOG).field == field


def test_reference_catalog_loads_unchanged_as_the_builtin_catalog() -> None:
    loaded = catalog_from_yaml(REFERENCE_CATALOG.read_text(), str(REFERENCE_CATALOG))
    builtin = builtin_catalog("builtin:paper")
    assert list(loaded) == list(builtin) and len(loaded) == 9
    for key in builtin:
        assert loaded[key] == builtin[key], key


def test_user_catalog_file_loads_through_a_sweep() -> None:
    sweep = load_sweep(sweep_text(catalog=CATALOG, models=["mine"]))
    (model,) = sweep.models
    assert model.key == "mine" and model.c_out == 2e-6 and model.default_parallel == 1


def test_check_memory_names_trials_when_statistics_would_not_fit() -> None:
    sweep = load_sweep(sweep_text(trials=50 * BLOCK_TRIALS, scenario={"k_max": 8, "parallelism": 1}))
    check_memory(sweep)  # fits the default limit
    assert spec_error(lambda: check_memory(sweep, limit_bytes=100_000), SWEEP).field == "trials"


def test_check_memory_names_k_max_when_one_block_would_not_fit() -> None:
    # One block each: balanced (k_max 128) needs about 6.5 MB, the second scenario 12.7 MB.
    sweep = load_sweep(sweep_text(trials=BLOCK_TRIALS, scenarios=["balanced", {**VALID_SCENARIO, "k_max": 4096}]))
    assert spec_error(lambda: check_memory(sweep, limit_bytes=10 << 20), SWEEP).field == "scenarios[1].k_max"
