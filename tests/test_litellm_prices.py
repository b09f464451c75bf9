"""A catalog model priced by its LiteLLM key (`litellm_key` instead of c_in, c_out).

- The catalog loads without prices; a run prices it from the price history (the version in
  force for the model) and refuses, in one line naming the model and the key, while no price
  is known.
- `prices import` says which key it looked for and suggests near matches from the file.
"""

from __future__ import annotations

import dataclasses
import json

import pytest
import yaml

from infscale.engine.errors import SpecError
from infscale.engine.prices import Prices, price_sweep
from infscale.engine.validation import catalog_from_mapping
from tests.engine_fixtures import make_scenario, make_sweep

ENTRY = dict(
    name="GPT-4o", t_in=1e-4, t_out=1e-2, mu_Lin=800, sigma_Lin=100, mu_Lout=300, sigma_Lout=50,
    acc_mean=0.8, acc_std=0.1,
)


def test_a_keyed_model_loads_without_prices_and_is_priced_from_the_history() -> None:
    (model,) = catalog_from_mapping({"models": {"gpt4o": {**ENTRY, "litellm_key": "gpt-4o"}}}, "cat.yaml").values()
    assert model.c_in is None and model.c_out is None and model.litellm_key == "gpt-4o"
    sweep = make_sweep([model], [make_scenario()], 10)
    with pytest.raises(SpecError) as info:
        price_sweep(sweep, {})
    assert str(info.value) == (
        "test: models.gpt4o: no price known for litellm_key 'gpt-4o': import a price map first "
        "(infscale prices import model_prices_and_context_window.json --catalog CATALOG)"
    ).replace("test: ", f"{sweep.source}: ")
    priced = price_sweep(sweep, {"gpt4o": Prices(2.5e-6, 1e-5)})
    assert (priced.models[0].c_in, priced.models[0].c_out) == (2.5e-6, 1e-5)
    assert priced.models[0].t_in == 1e-4  # a price map without times keeps the catalog's


def test_prices_of_its_own_win_and_half_a_price_is_an_error() -> None:
    (model,) = catalog_from_mapping(
        {"models": {"m": {**ENTRY, "litellm_key": "gpt-4o", "c_in": 1e-6, "c_out": 2e-6}}}, "cat.yaml"
    ).values()
    sweep = make_sweep([model], [make_scenario()], 10)
    assert price_sweep(sweep, {"m": Prices(9.0, 9.0)}) == sweep
    with pytest.raises(SpecError, match=r"cat.yaml: models.m.c_out: is required"):
        catalog_from_mapping({"models": {"m": {**ENTRY, "litellm_key": "gpt-4o", "c_in": 1e-6}}}, "cat.yaml")
    with pytest.raises(SpecError, match=r"cat.yaml: models.m.c_in: is required"):
        catalog_from_mapping({"models": {"m": ENTRY}}, "cat.yaml")


# --- through the CLI -------------------------------------------------------------------------

KEYED = {
    "name": "GPT-5 priced by LiteLLM", "t_in": 0.0001, "t_out": 0.005, "mu_Lin": 1000, "sigma_Lin": 200,
    "mu_Lout": 500, "sigma_Lout": 100, "acc_mean": 0.9, "acc_std": 0.05,
}
CATALOG = yaml.safe_dump({"models": {
    "gpt5-keyed": {**KEYED, "litellm_key": "gpt-5"},
    "typo": {**KEYED, "name": "a key LiteLLM does not have", "litellm_key": "GPT-5-nanno", "c_in": 1e-7, "c_out": 1e-6},
}}, sort_keys=False)
SWEEP = """\
name: keyed
catalog: catalog.yaml
models: [gpt5-keyed]
scenarios: [{name: s, max_total_cost: 1, max_total_time: 100, min_accuracy: 0.5, k_max: 8, parallelism: 2}]
mode: exact
"""


def test_run_refuses_until_a_price_map_is_imported_then_uses_its_prices(tmp_path) -> None:
    from infscale.engine.exact import expected_cost
    from tests.test_prices import SAMPLE, cli, cli_json

    (tmp_path / "catalog.yaml").write_text(CATALOG)
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(SWEEP)
    url = f"sqlite:///{tmp_path / 'p.db'}"
    code, out, err = cli("run", str(sweep), "--db", url)
    assert (code, out) == (2, "") and err.count("\n") == 1
    assert err == (
        f"infscale: error: {sweep}: models.gpt5-keyed: no price known for litellm_key 'gpt-5': import a price map "
        "first (infscale prices import model_prices_and_context_window.json --catalog CATALOG)\n"
    )
    assert "no finished sweep" in cli("results", "--db", url)[2]  # nothing was stored
    # submit refuses the same way, before it stores or enqueues anything (no broker is asked).
    code, out, err = cli("submit", str(sweep), "--db", url, "--broker", "redis://127.0.0.1:9/0")
    assert code == 2 and "models.gpt5-keyed: no price known for litellm_key 'gpt-5'" in err

    imported = cli_json("prices", "import", str(SAMPLE), "--catalog", str(tmp_path / "catalog.yaml"), "--db", url)
    assert imported["changed"] == ["gpt5-keyed"]
    [typo] = imported["missing_keys"]
    assert typo["model"] == "typo" and typo["litellm_key"] == "GPT-5-nanno" and typo["near"][0] == "gpt-5-nano"
    code, text, _ = cli("prices", "import", str(SAMPLE), "--catalog", str(tmp_path / "catalog.yaml"), "--db", url)
    assert "typo: looked for 'GPT-5-nanno', not in the file; near: 'gpt-5-nano'" in text

    doc = cli_json("run", str(sweep), "--db", url)
    sample = json.loads(SAMPLE.read_text())["gpt-5"]
    model = catalog_from_mapping(yaml.safe_load(CATALOG), "c")["gpt5-keyed"]
    priced = dataclasses.replace(model, c_in=sample["input_cost_per_token"], c_out=sample["output_cost_per_token"])
    cube = next(r for r in doc["results"] if r["method"] == "max_cube")
    assert cube["total_cost"] == pytest.approx(expected_cost(priced, cube["k"]), rel=1e-9)


# --- the cached-input price (input_billing: cached) from LiteLLM's cache_read_input_token_cost ---

CACHED_CATALOG = yaml.safe_dump({"models": {
    "gpt5-cached": {**KEYED, "litellm_key": "gpt-5", "input_billing": "cached"},
    "nano-cached": {**KEYED, "litellm_key": "openrouter/nvidia/nemotron-nano-9b-v2", "input_billing": "cached"},
}}, sort_keys=False)


def test_a_keyed_model_billing_cached_input_takes_the_cached_price_from_the_map(tmp_path) -> None:
    from infscale.engine.exact import expected_cost
    from infscale.engine.specs import InputBilling
    from tests.test_prices import SAMPLE, cli, cli_json

    (tmp_path / "catalog.yaml").write_text(CACHED_CATALOG)
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(SWEEP.replace("[gpt5-keyed]", "[gpt5-cached]"))
    url = f"sqlite:///{tmp_path / 'p.db'}"
    assert cli("db", "upgrade", "--db", url)[0] == 0
    imported = cli_json("prices", "import", str(SAMPLE), "--catalog", str(tmp_path / "catalog.yaml"), "--db", url)
    assert sorted(imported["changed"]) == ["gpt5-cached", "nano-cached"]
    listed = {p["model"]: p for p in cli_json("prices", "list", "--db", url)["prices"]}
    sample = json.loads(SAMPLE.read_text())
    assert listed["gpt5-cached"]["c_in_cached"] == sample["gpt-5"]["cache_read_input_token_cost"]
    assert listed["nano-cached"]["c_in_cached"] is None  # OpenRouter quotes no cached price

    doc = cli_json("run", str(sweep), "--db", url)
    model = catalog_from_mapping(yaml.safe_load(CACHED_CATALOG), "c")["gpt5-cached"]
    gpt5 = sample["gpt-5"]
    priced = dataclasses.replace(model, c_in=gpt5["input_cost_per_token"], c_out=gpt5["output_cost_per_token"],
                                 c_in_cached=gpt5["cache_read_input_token_cost"])
    each = dataclasses.replace(priced, input_billing=InputBilling.EACH)
    cube = next(r for r in doc["results"] if r["method"] == "max_cube")
    assert cube["k"] > 1  # so that the cached price matters
    assert cube["total_cost"] == pytest.approx(expected_cost(priced, cube["k"]), rel=1e-9)
    assert cube["total_cost"] < expected_cost(each, cube["k"]) * (1 - 1e-6)

    # A model whose map entry has no cached price, billing cached: one line naming it and its key.
    sweep.write_text(SWEEP.replace("[gpt5-keyed]", "[nano-cached]"))
    code, out, err = cli("run", str(sweep), "--db", url)
    assert (code, out) == (2, "") and err.count("\n") == 1
    assert f"{sweep}: models.nano-cached: input_billing cached needs a cached-input price" in err
    assert "'openrouter/nvidia/nemotron-nano-9b-v2'" in err and "cache_read_input_token_cost" in err


def test_a_catalog_cached_price_is_kept_where_the_map_says_none_and_a_bad_one_rejects_the_file(tmp_path) -> None:
    from infscale.engine.specs import InputBilling
    from infscale.readers.price_files import parse_price_file

    (model,) = catalog_from_mapping(
        {"models": {"m": {**ENTRY, "litellm_key": "gpt-4o", "input_billing": "cached", "c_in_cached": 3e-7}}}, "cat.yaml"
    ).values()
    sweep = make_sweep([model], [make_scenario()], 10)
    assert price_sweep(sweep, {"m": Prices(2.5e-6, 1e-5)}).models[0].c_in_cached == 3e-7
    assert price_sweep(sweep, {"m": Prices(2.5e-6, 1e-5, c_in_cached=1e-7)}).models[0].c_in_cached == 1e-7
    # A scenario billing each overrides the model's cached billing: no cached price needed.
    (bare,) = catalog_from_mapping(
        {"models": {"m": {**ENTRY, "litellm_key": "gpt-4o", "input_billing": "cached"}}}, "cat.yaml").values()
    each = make_sweep([bare], [dataclasses.replace(make_scenario(), input_billing=InputBilling.EACH)], 10)
    assert price_sweep(each, {"m": Prices(2.5e-6, 1e-5)}).models[0].c_in_cached is None
    with pytest.raises(SpecError, match="models.m: input_billing cached needs a cached-input price"):
        price_sweep(make_sweep([bare], [make_scenario()], 10), {"m": Prices(2.5e-6, 1e-5)})
    bad = json.dumps({"gpt-4o": {"input_cost_per_token": 2.5e-6, "output_cost_per_token": 1e-5,
                                 "cache_read_input_token_cost": -1}})
    with pytest.raises(SpecError, match=r'p.json: "gpt-4o".cache_read_input_token_cost: must be a finite number >= 0'):
        parse_price_file(bad, "p.json", {"m": model}, "cat.yaml")


def test_a_new_cached_price_recomputes_only_the_runs_billed_cached(tmp_path) -> None:
    """A price map that adds a cached-input price changes no run billed each or once (it does not
    enter their cost), so recalc leaves them; a run billed cached is recomputed with it."""
    from tests.test_prices import SAMPLE, cli, cli_json

    catalog = yaml.safe_dump({"models": {
        "gpt5-each": {**KEYED, "litellm_key": "gpt-5", "c_in": 1.25e-6, "c_out": 1e-5},
        "gpt5-cached": {**KEYED, "litellm_key": "gpt-5", "c_in": 1.25e-6, "c_out": 1e-5,
                        "input_billing": "cached", "c_in_cached": 2.5e-7},
    }}, sort_keys=False)
    (tmp_path / "catalog.yaml").write_text(catalog)
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(SWEEP.replace("[gpt5-keyed]", "[gpt5-each, gpt5-cached]"))
    url = f"sqlite:///{tmp_path / 'p.db'}"
    before = {(r["model"], r["method"]): r for r in cli_json("run", str(sweep), "--db", url)["results"]}
    cli_json("prices", "import", str(SAMPLE), "--catalog", str(tmp_path / "catalog.yaml"), "--db", url)
    report = cli_json("recalc", "--db", url)
    [done] = report["sweeps"]
    assert done["models"] == ["gpt5-cached"]  # same $ per token; only its cached price moved
    after = {(r["model"], r["method"]): r for r in cli_json("results", "--db", url)["results"]}
    for method in ("max_accuracy", "max_cube", "utopia", "knee"):
        assert after["gpt5-each", method] == before["gpt5-each", method]
    from infscale.engine.exact import expected_cost
    model = catalog_from_mapping(yaml.safe_load(catalog), "c")["gpt5-cached"]
    cheaper = dataclasses.replace(model, c_in_cached=1.25e-7)  # the map's, half the catalog's
    for method in ("max_accuracy", "max_cube", "utopia"):
        k = after["gpt5-cached", method]["k"]
        assert after["gpt5-cached", method]["total_cost"] == pytest.approx(expected_cost(cheaper, k), rel=1e-9)
        assert before["gpt5-cached", method]["total_cost"] == pytest.approx(
            expected_cost(model, before["gpt5-cached", method]["k"]), rel=1e-9)
    assert cli("recalc", "--db", url)[0] == 0 and cli_json("recalc", "--db", url)["sweeps"] == []
