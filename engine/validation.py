"""Plain mappings (what `yaml.safe_load` returns) -> validated specs (engine.specs).

Every constructor here raises `SpecError` naming the source and the field path on the first
problem, and never echoes a stray file's content (`shown`).
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from typing import Any, Mapping

import numpy as np

from infscale.engine.empirical_data import EmpiricalData, data_from_log
from infscale.engine.errors import SpecError
from infscale.engine.evallog import EvalLog
from infscale.engine.specs import (
    AccuracyModel,
    AdaptiveTrials,
    DEFAULT_ACCURACY_TOLERANCE,
    DEFAULT_TARGET_CONFIDENCE,
    InputBilling,
    KGrid,
    Knee,
    Latency,
    Lengths,
    MAX_INT64,
    MAX_K,
    MAX_NAME_LENGTH,
    MAX_SECONDS_PER_TOKEN,
    MAX_USD_PER_TOKEN,
    Mode,
    ModelSpec,
    ScenarioSpec,
    SweepSpec,
)


MODEL_FIELDS = (
    "name", "c_in", "c_out", "t_in", "t_out", "mu_Lin", "sigma_Lin", "mu_Lout",
    "sigma_Lout", "acc_mean", "acc_std", "default_parallel", "litellm_key", "accuracy_model", "alpha", "beta",
    "t_fixed", "input_billing", "c_in_cached", "lengths", "data",
)
SCENARIO_FIELDS = (
    "name", "max_total_cost", "max_total_time", "min_accuracy", "k_max", "parallelism",
    "k_grid", "min_probability", "latency", "accuracy_tolerance", "input_billing",
)
SWEEP_FIELDS = (
    "name", "description", "catalog", "models", "scenarios", "trials", "seed", "mode", "target_confidence",
    "max_trials", "knee",
)


def model_from_mapping(key: str, data: Any, source: str, where: str) -> ModelSpec:
    """Validate one catalog entry; `where` is its field path (e.g. `models.gpt5`)."""
    _require_mapping(data, source, where)
    _reject_unknown(data, MODEL_FIELDS, source, where)
    num = _Numbers(data, source, where)
    lengths, empirical = _empirical_data(data, source, where)
    times_from_data = lengths is Lengths.EMPIRICAL and empirical is not None and empirical.latency_s is not None
    if times_from_data:
        _refuse_fields(data, ("t_in", "t_out", "t_fixed"), "the data's latency_s is each inference's time", source, where)
    # Keyword arguments are evaluated in order: fields are checked in the catalog's order.
    return ModelSpec(
        key=key,
        name=_string(data.get("name", key), source, f"{where}.name"),
        # A model with a litellm_key and neither price is priced from the price history.
        c_in=None if _priced_by_key(data) else num.get("c_in", lo=0.0, hi=MAX_USD_PER_TOKEN, unit="$ per token"),
        c_out=None if _priced_by_key(data) else num.get("c_out", lo=0.0, hi=MAX_USD_PER_TOKEN, unit="$ per token"),
        t_in=0.0 if times_from_data else num.get("t_in", lo=0.0, hi=MAX_SECONDS_PER_TOKEN, unit="seconds per token"),
        t_out=0.0 if times_from_data else num.get("t_out", lo=0.0, hi=MAX_SECONDS_PER_TOKEN, unit="seconds per token"),
        **_length_fields(data, num, lengths, empirical, source, where),
        **_accuracy_fields(data, num, source, where, empirical),
        default_parallel=_integer(data.get("default_parallel", 1), source, f"{where}.default_parallel", lo=1),
        litellm_key=(
            None if data.get("litellm_key") is None
            else _string(data["litellm_key"], source, f"{where}.litellm_key")
        ),
        **_billing_fields(data, num, source, where),
        lengths=lengths,
        data=empirical,
    )


def catalog_from_mapping(data: Any, source: str) -> dict[str, ModelSpec]:
    """A catalog file: a top-level `models:` mapping of key -> model fields."""
    _require_mapping(data, source, "")
    _reject_unknown(data, ("models",), source, "")
    models = data.get("models")
    if not isinstance(models, Mapping) or not models:
        raise SpecError(source, "models", "must be a non-empty mapping of model key -> fields")
    return {
        str(key): model_from_mapping(str(key), fields, source, f"models.{key}")
        for key, fields in models.items()
    }


def scenario_from_mapping(data: Any, source: str, where: str) -> ScenarioSpec:
    """Validate one scenario mapping; `where` is its field path (e.g. `scenarios[1]`)."""
    _require_mapping(data, source, where)
    _reject_unknown(data, SCENARIO_FIELDS, source, where)
    num = _Numbers(data, source, where)
    grid_name = data.get("k_grid", KGrid.MULTIPLES.value)
    try:
        grid = KGrid(grid_name)
    except ValueError:
        raise SpecError(source, f"{where}.k_grid", f"must be 'multiples' or 'all', got {shown(grid_name)}") from None
    latency_name = data.get("latency", Latency.PAPER.value)
    try:
        latency = Latency(latency_name)
    except ValueError:
        raise SpecError(source, f"{where}.latency", f"must be 'paper' or 'waves', got {shown(latency_name)}") from None
    min_probability = data.get("min_probability")
    scenario = ScenarioSpec(
        name=_string(_required(data, "name", source, where), source, f"{where}.name"),
        max_total_cost=num.get("max_total_cost", lo=0.0, open_lo=True),
        max_total_time=num.get("max_total_time", lo=0.0, open_lo=True),
        min_accuracy=num.get("min_accuracy", lo=0.0, hi=1.0),
        k_max=_integer(_required(data, "k_max", source, where), source, f"{where}.k_max", lo=1, hi=MAX_K),
        parallelism=_integer(_required(data, "parallelism", source, where), source, f"{where}.parallelism", lo=1),
        k_grid=grid,
        min_probability=(
            None if min_probability is None
            else num.get("min_probability", lo=0.0, hi=1.0, open_lo=True)
        ),
        latency=latency,
        accuracy_tolerance=(
            num.get("accuracy_tolerance", lo=0.0, hi=1.0) if "accuracy_tolerance" in data
            else DEFAULT_ACCURACY_TOLERANCE
        ),
        input_billing=None if "input_billing" not in data else _input_billing(data, source, where),
    )
    if scenario.grid().size == 0:
        raise SpecError(
            source, f"{where}.k_max",
            f"no k to search: k_max {scenario.k_max} is below parallelism {scenario.parallelism} "
            "(use k_grid: all, or raise k_max)",
        )
    return scenario


def sweep_from_mapping(
    data: Any,
    source: str,
    catalog: Mapping[str, ModelSpec],
    builtin_scenarios: Mapping[str, ScenarioSpec],
    catalog_name: str,
) -> SweepSpec:
    """Validate a sweep mapping against an already-loaded catalog."""
    _require_mapping(data, source, "")
    _reject_unknown(data, SWEEP_FIELDS, source, "")
    name = _string(_required(data, "name", source, ""), source, "name")
    models = _select_models(data.get("models", "all"), catalog, source)
    scenarios = _select_scenarios(_required(data, "scenarios", source, ""), builtin_scenarios, source)
    mode_name = data.get("mode", Mode.STANDARD.value)
    try:
        mode = Mode(mode_name)
    except ValueError:
        raise SpecError(source, "mode", f"must be 'standard', 'legacy' or 'exact', got {shown(mode_name)}") from None
    _check_billing(models, scenarios, source)
    if mode is Mode.LEGACY:
        _check_legacy(models, scenarios, source)
        _refuse_keys(data.get("scenarios"), ("accuracy_tolerance",), "the notebook's argmax", source)
        scenarios = tuple(replace(s, accuracy_tolerance=0.0) for s in scenarios)
    if mode is Mode.EXACT:
        _check_exact(data, scenarios, source)
    knee = _knee(data, mode, source)
    trials, adaptive = (0, None) if mode is Mode.EXACT else _trials(data, source)
    if adaptive is not None and mode is Mode.LEGACY:
        raise SpecError(source, "trials", "legacy mode runs a fixed number of trials in one block; 'auto' needs standard mode")
    return SweepSpec(
        name=name,
        catalog=catalog_name,
        models=models,
        scenarios=scenarios,
        trials=trials,
        seed=_integer(data.get("seed", 0), source, "seed", lo=0, hi=MAX_INT64),
        mode=mode,
        adaptive=adaptive,
        source=source,
        knee=knee,
    )


# --- private helpers -------------------------------------------------------------------------


def _empirical_data(data: Mapping[str, Any], source: str, where: str) -> tuple[Lengths, EmpiricalData | None]:
    """`lengths` and the eval log's samples (`data`) of a catalog entry: None unless lengths or
    accuracy_model is empirical. The catalog reader has replaced the file's path by its
    samples (readers.sweep_files); what each use needs of them is checked here."""
    name = data.get("lengths", Lengths.NORMAL.value)
    try:
        lengths = Lengths(name)
    except ValueError:
        raise SpecError(source, f"{where}.lengths", f"must be 'normal' or 'empirical', got {shown(name)}") from None
    accuracy = data.get("accuracy_model") == AccuracyModel.EMPIRICAL.value
    log = data.get("data")
    if lengths is Lengths.NORMAL and not accuracy:
        if log is not None:
            raise SpecError(source, f"{where}.data", "is used only with lengths: empirical or accuracy_model: empirical")
        return lengths, None
    if log is None:
        uses = " and ".join(u for u, on in (("lengths: empirical", lengths is Lengths.EMPIRICAL), ("accuracy_model: empirical", accuracy)) if on)
        raise SpecError(source, f"{where}.data", f"is required with {uses}: an eval log (JSONL or CSV, one row per sample)")
    if isinstance(log, EmpiricalData):
        return lengths, log
    if not isinstance(log, EvalLog):
        raise SpecError(source, f"{where}.data", f"names an eval log, which is read only where a catalog file is loaded (got {shown(log)})")
    required = (("score",) if accuracy else ()) + (("input_tokens", "output_tokens") if lengths is Lengths.EMPIRICAL else ())
    optional = ("latency_s",) if lengths is Lengths.EMPIRICAL else ()
    return lengths, data_from_log(log, required, optional)


def _length_fields(
    data: Mapping[str, Any], num: "_Numbers", lengths: Lengths, empirical: EmpiricalData | None, source: str, where: str
) -> dict[str, float]:
    """mu_Lin, sigma_Lin, mu_Lout, sigma_Lout: given, or with `lengths: empirical` the data's
    (a uniform query, then a uniform sample: what one simulated inference draws)."""
    keys = ("mu_Lin", "sigma_Lin", "mu_Lout", "sigma_Lout")
    if lengths is Lengths.NORMAL:
        return {key: num.get(key, lo=1.0 if key.startswith("mu") else 0.0) for key in keys}
    _refuse_fields(data, keys, "the lengths are the data's", source, where)
    mu_in, sd_in = _moments(empirical, empirical.input_tokens)
    mu_out, sd_out = _moments(empirical, empirical.output_tokens)
    return dict(mu_Lin=mu_in, sigma_Lin=sd_in, mu_Lout=mu_out, sigma_Lout=sd_out)


def _moments(data: EmpiricalData, values: np.ndarray) -> tuple[float, float]:
    mean = data.mean_over_queries(values)
    return mean, math.sqrt(max(data.mean_over_queries(values * values) - mean * mean, 0.0))


def _refuse_fields(data: Mapping[str, Any], keys: tuple[str, ...], why: str, source: str, where: str) -> None:
    for key in keys:
        if key in data:
            raise SpecError(source, f"{where}.{key}", f"not used here ({why}); remove it")


def _accuracy_fields(
    data: Mapping[str, Any], num: "_Numbers", source: str, where: str, empirical: EmpiricalData | None = None
) -> dict[str, Any]:
    """acc_mean, acc_std, accuracy_model, alpha and beta of a catalog entry.

    A correctness model without acc_mean / acc_std gets the mean and standard deviation of its
    difficulty p ~ Beta(alpha, beta): its pass@1 and how much that varies between queries.
    The empirical model gets the mean and standard deviation of its queries' mean scores.
    """
    if data.get("accuracy_model") == AccuracyModel.EMPIRICAL.value:
        _refuse_fields(data, ("acc_mean", "acc_std", "alpha", "beta"), "the accuracy is the data's", source, where)
        p = empirical.query_means(empirical.score)
        return dict(acc_mean=float(p.mean()), acc_std=float(p.std()), accuracy_model=AccuracyModel.EMPIRICAL, alpha=None, beta=None)
    accuracy_model, alpha, beta = _accuracy_model(data, num, source, where)
    if not accuracy_model.is_correctness:
        acc_mean, acc_std = num.get("acc_mean", lo=0.0, hi=1.0), num.get("acc_std", lo=0.0)
    else:
        total = alpha + beta
        acc_mean = num.get("acc_mean", lo=0.0, hi=1.0) if "acc_mean" in data else alpha / total
        acc_std = (
            num.get("acc_std", lo=0.0) if "acc_std" in data
            else math.sqrt(alpha * beta / (total * total * (total + 1.0)))
        )
    return dict(acc_mean=acc_mean, acc_std=acc_std, accuracy_model=accuracy_model, alpha=alpha, beta=beta)


def _priced_by_key(data: Mapping[str, Any]) -> bool:
    return data.get("litellm_key") is not None and data.get("c_in") is None and data.get("c_out") is None


def _billing_fields(data: Mapping[str, Any], num: "_Numbers", source: str, where: str) -> dict[str, Any]:
    """t_fixed, input_billing and c_in_cached of a catalog entry (all optional)."""
    billing = _input_billing(data, source, where)
    cached = num.get("c_in_cached", lo=0.0, hi=MAX_USD_PER_TOKEN, unit="$ per token") if data.get("c_in_cached") is not None else None
    # A model priced by its litellm_key may get its cached price from the price map
    # (engine.prices.price_sweep checks it there).
    if billing is InputBilling.CACHED and cached is None and not _priced_by_key(data):
        raise SpecError(source, f"{where}.c_in_cached", "is required with input_billing: cached ($ per cached input token)")
    return dict(
        t_fixed=num.get("t_fixed", lo=0.0, hi=3600.0, unit="seconds per inference") if data.get("t_fixed") is not None else 0.0,
        input_billing=billing,
        c_in_cached=cached,
    )


def _input_billing(data: Mapping[str, Any], source: str, where: str) -> InputBilling:
    name = data.get("input_billing", InputBilling.EACH.value)
    try:
        return InputBilling(name)
    except ValueError:
        known = ", ".join(b.value for b in InputBilling)
        raise SpecError(source, f"{where}.input_billing", f"must be one of {known}, got {shown(name)}") from None


def _check_billing(models: tuple[ModelSpec, ...], scenarios: tuple[ScenarioSpec, ...], source: str) -> None:
    """A scenario that bills cached input needs every model's cached-input price (a model
    priced by its litellm_key: checked when priced, engine.prices.price_sweep)."""
    for i, scenario in enumerate(scenarios):
        if scenario.input_billing is not InputBilling.CACHED:
            continue
        for model in models:
            if model.c_in_cached is None and model.c_in is not None:
                raise SpecError(
                    source, f"scenarios[{i}].input_billing",
                    f"cached needs c_in_cached ($ per cached input token) of every model; {model.key!r} has none",
                )


def _accuracy_model(
    data: Mapping[str, Any], num: "_Numbers", source: str, where: str
) -> tuple[AccuracyModel, float | None, float | None]:
    """The entry's accuracy model and its Beta difficulty (None for the Gaussian model)."""
    name = data.get("accuracy_model", AccuracyModel.GAUSSIAN_BEST_OF_K.value)
    try:
        model = AccuracyModel(name)
    except ValueError:
        known = ", ".join(m.value for m in AccuracyModel)
        raise SpecError(source, f"{where}.accuracy_model", f"unknown accuracy model {shown(name)} (known: {known})") from None
    if not model.is_correctness:
        for key in ("alpha", "beta"):
            if key in data:
                raise SpecError(
                    source, f"{where}.{key}",
                    f"only the pass_at_k and majority_vote accuracy models use {key} (this model is {model.value})",
                )
        return model, None, None
    return model, num.get("alpha", lo=0.0, open_lo=True), num.get("beta", lo=0.0, open_lo=True)


def _check_legacy(models: tuple[ModelSpec, ...], scenarios: tuple[ScenarioSpec, ...], source: str) -> None:
    """Legacy mode is the notebook's algorithm, exactly: it knows no other latency or accuracy model."""
    for model in models:
        if model.lengths is Lengths.EMPIRICAL:
            raise SpecError(source, "models", f"legacy mode has only the notebook's normal token lengths; {model.key!r} uses lengths: empirical")
        if model.accuracy_model is not AccuracyModel.GAUSSIAN_BEST_OF_K:
            raise SpecError(
                source, "models",
                f"legacy mode has only the notebook's gaussian_best_of_k accuracy; "
                f"{model.key!r} uses {model.accuracy_model.value}",
            )
        if model.t_fixed != 0.0 or model.input_billing is not InputBilling.EACH:
            what = "t_fixed" if model.t_fixed != 0.0 else f"input_billing {model.input_billing.value}"
            raise SpecError(
                source, "models",
                f"legacy mode is the notebook's model only (no t_fixed, every prompt billed); {model.key!r} has {what}",
            )
    for i, scenario in enumerate(scenarios):
        if scenario.latency is not Latency.PAPER:
            raise SpecError(
                source, f"scenarios[{i}].latency",
                f"legacy mode has only the notebook's 'paper' latency, got {scenario.latency.value!r}",
            )
        if scenario.input_billing not in (None, InputBilling.EACH):
            raise SpecError(
                source, f"scenarios[{i}].input_billing",
                f"legacy mode bills every prompt (each), got {scenario.input_billing.value!r}",
            )


def _knee(data: Mapping[str, Any], mode: Mode, source: str) -> Knee:
    """`knee: chord | curvature`; legacy mode has the notebook's knee and refuses the key."""
    if mode is Mode.LEGACY:
        if "knee" in data:
            raise SpecError(source, "knee", "legacy mode uses the notebook's knee; remove knee")
        return Knee.CURVATURE_2D
    name = data.get("knee", Knee.CHORD.value)
    if name not in (Knee.CHORD.value, Knee.CURVATURE.value):
        raise SpecError(source, "knee", f"must be 'chord' or 'curvature', got {shown(name)}")
    return Knee(name)


def _check_exact(data: Mapping[str, Any], scenarios: tuple[ScenarioSpec, ...], source: str) -> None:
    """Exact mode samples nothing: no trial count, and no chance constraint (it needs the joint law)."""
    for key in ("trials", "max_trials", "target_confidence"):
        if key in data:
            raise SpecError(source, key, "exact mode samples nothing; remove it (or use mode: standard)")
    for i, scenario in enumerate(scenarios):
        if scenario.min_probability is not None:
            raise SpecError(
                source, f"scenarios[{i}].min_probability",
                "a chance constraint needs sampling; exact mode decides from exact means (use mode: standard)",
            )


def _refuse_keys(items: Any, keys: tuple[str, ...], what: str, source: str) -> None:
    """Legacy mode is the notebook's algorithm, exactly: refuse scenario keys that would change it."""
    for i, item in enumerate(items if isinstance(items, list) else ()):
        for key in keys:
            if isinstance(item, Mapping) and key in item:
                raise SpecError(source, f"scenarios[{i}].{key}", f"legacy mode uses {what}; remove {key}")


def _trials(data: Mapping[str, Any], source: str) -> tuple[int, AdaptiveTrials | None]:
    """`trials: N`, or `trials: auto` with `max_trials` (required) and `target_confidence`."""
    value = _required(data, "trials", source, "")
    if value != "auto":
        for key in ("target_confidence", "max_trials"):
            if key in data:
                raise SpecError(source, key, f"only with trials: auto (trials is {value!r})")
        if isinstance(value, str):
            raise SpecError(source, "trials", f"must be an integer or 'auto', got {shown(value)}")
        return _integer(value, source, "trials", lo=1, hi=MAX_INT64), None
    max_trials = _integer(_required(data, "max_trials", source, ""), source, "max_trials", lo=1)
    target = (
        _Numbers(data, source, "").get("target_confidence", lo=0.0, hi=1.0, open_lo=True)
        if "target_confidence" in data else DEFAULT_TARGET_CONFIDENCE
    )
    return max_trials, AdaptiveTrials(target, max_trials)


def _select_models(value: Any, catalog: Mapping[str, ModelSpec], source: str) -> tuple[ModelSpec, ...]:
    if value == "all":
        return tuple(catalog.values())
    if not isinstance(value, list) or not value:
        raise SpecError(source, "models", "must be 'all' or a non-empty list of model keys")
    chosen = []
    for i, key in enumerate(value):
        if not isinstance(key, str) or key not in catalog:
            known = ", ".join(catalog)
            raise SpecError(source, f"models[{i}]", f"unknown model {shown(key)} (catalog has: {known})")
        if catalog[key] in chosen:
            raise SpecError(source, f"models[{i}]", f"model {key!r} is listed twice")
        chosen.append(catalog[key])
    return tuple(chosen)


def _select_scenarios(
    value: Any, builtin: Mapping[str, ScenarioSpec], source: str
) -> tuple[ScenarioSpec, ...]:
    if isinstance(value, str):
        if value != "builtin:paper":
            raise SpecError(source, "scenarios", f"unknown scenario set {shown(value)} (known: builtin:paper)")
        return tuple(builtin.values())
    if not isinstance(value, list) or not value:
        raise SpecError(source, "scenarios", "must be 'builtin:paper' or a non-empty list")
    scenarios: list[ScenarioSpec] = []
    names: set[str] = set()  # a set, not a scan of the list: 20,000 scenarios validate in linear time
    for i, item in enumerate(value):
        where = f"scenarios[{i}]"
        if isinstance(item, str):
            if item not in builtin:
                known = ", ".join(builtin)
                raise SpecError(source, where, f"unknown scenario {shown(item)} (built in: {known})")
            scenario = builtin[item]
        else:
            scenario = scenario_from_mapping(item, source, where)
        if scenario.name in names:
            raise SpecError(source, f"{where}.name", f"scenario name {scenario.name!r} is used twice")
        names.add(scenario.name)
        scenarios.append(scenario)
    return tuple(scenarios)


def _require_mapping(data: Any, source: str, where: str) -> None:
    if not isinstance(data, Mapping):
        kind = "empty" if data is None else type(data).__name__
        raise SpecError(source, where or "(top level)", f"must be a mapping, got {kind}")


def _reject_unknown(data: Mapping[str, Any], allowed: tuple[str, ...], source: str, where: str) -> None:
    for key in data:
        if key not in allowed:
            if _NAME.fullmatch(str(key)):
                path = f"{where}.{key}" if where else str(key)
                raise SpecError(source, path, f"unknown field (allowed: {', '.join(allowed)})")
            # Not a field name at all (a file that is not a spec): never echo what the file holds.
            raise SpecError(source, where or "(top level)", f"has a key that is not a field name (allowed: {', '.join(allowed)})")


def _required(data: Mapping[str, Any], key: str, source: str, where: str) -> Any:
    if key not in data or data[key] is None:
        raise SpecError(source, f"{where}.{key}" if where else key, "is required")
    return data[key]


def _string(value: Any, source: str, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise SpecError(source, where, f"must be a non-empty string, got {shown(value)}")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise SpecError(source, where, "must not contain a control character (a NUL, a newline, ...)")
    if len(value) > MAX_NAME_LENGTH:
        raise SpecError(source, where, f"must be at most {MAX_NAME_LENGTH} characters, got {len(value)}")
    return value


def _integer(value: Any, source: str, where: str, lo: int, hi: int = MAX_INT64) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(source, where, f"must be an integer, got {shown(value)}")
    if value < lo:
        raise SpecError(source, where, f"must be >= {lo}, got {value}")
    if value > hi:
        raise SpecError(source, where, f"must be <= {hi}, got {value}")
    return value


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]{0,63}")


def shown(value: Any) -> str:
    """A value as an error message may show it: numbers and short plain strings as they are,
    anything else by its type, so a message never echoes a stray file's content."""
    if isinstance(value, (bool, int, float)) or value is None:
        return repr(value)
    if isinstance(value, str) and len(value) <= 64 and re.fullmatch(r"[\w .,:+\-/]*", value):
        return repr(value)
    return f"a {type(value).__name__}"


class _Numbers:
    """Reads required real numbers from one mapping with range checks."""

    def __init__(self, data: Mapping[str, Any], source: str, where: str) -> None:
        self.data, self.source, self.where = data, source, where

    def get(
        self, key: str, lo: float | None = None, hi: float | None = None, open_lo: bool = False, unit: str = ""
    ) -> float:
        path = f"{self.where}.{key}" if self.where else key
        value = _required(self.data, key, self.source, self.where)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise SpecError(self.source, path, f"must be a finite number, got {shown(value)}")
        value = float(value)
        if lo is not None and (value < lo or (open_lo and value == lo)):
            bound = f"> {lo:g}" if open_lo else f">= {lo:g}"
            if hi is not None and not unit:  # a unit marks `hi` as a plausibility cap, said apart
                bound = f"in {'(' if open_lo else '['}{lo:g}, {hi:g}]"
            raise SpecError(self.source, path, f"must be {bound}, got {value:g}")
        if hi is not None and value > hi:
            if unit:
                raise SpecError(self.source, path, f"must be at most {hi:g} {unit} (a plausible value), got {value:g}")
            raise SpecError(self.source, path, f"must be in [{lo:g}, {hi:g}], got {value:g}")
        return value
