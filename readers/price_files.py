"""Price files -> price quotes, in the project's catalog format or LiteLLM's price list.

Two formats, told apart by their shape:

- a catalog file (`models: {key: {c_in, c_out, t_in, t_out, ...}}`), validated exactly as a
  catalog named in a sweep; every model of it is quoted with all four prices;
- LiteLLM's `model_prices_and_context_window.json`: a mapping of provider model name ->
  fields, with USD per token in `input_cost_per_token` / `output_cost_per_token`, and the
  cached-input price (for `input_billing: cached`) in `cache_read_input_token_cost` where the
  provider has one. The catalog
  given alongside says which LiteLLM name is which model (`litellm_key`); names it does not
  mention are reported, never matched by guesswork. Only the entries of those models are
  read: one without both per-token prices is skipped and reported; one with a price that is
  not a finite number >= 0 rejects the whole file.

A file with a `.json` name is read as JSON, anything else as YAML (which also reads JSON).
"""

from __future__ import annotations

import difflib
import json
import math
from dataclasses import dataclass
from enum import Enum
from typing import Any, Mapping

from infscale.engine.errors import SpecError
from infscale.engine.prices import PriceQuote, Prices, prices_of
from infscale.engine.specs import MAX_USD_PER_TOKEN, ModelSpec
from infscale.engine.validation import shown, catalog_from_mapping
from infscale.readers.files import read_text
from infscale.readers.structured_text import parse_json, parse_yaml
from infscale.readers.sweep_files import load_catalog_file

STORED_MODELS = "the models of the stored sweeps"
"""What maps LiteLLM names to models when no catalog is named: each model's latest stored run."""

LITELLM_INPUT = "input_cost_per_token"
LITELLM_OUTPUT = "output_cost_per_token"
LITELLM_CACHED = "cache_read_input_token_cost"
LITELLM_TIERS = "tiered_pricing"


class PriceFormat(str, Enum):
    CATALOG = "catalog"
    LITELLM = "litellm"


@dataclass(frozen=True)
class PriceFile:
    """What a price file quotes, and what it leaves out."""

    source: str
    format: PriceFormat
    quotes: tuple[PriceQuote, ...]
    ignored: tuple[str, ...] = ()  # LiteLLM names no catalog model has as its litellm_key
    no_token_price: tuple[str, ...] = ()  # LiteLLM names of catalog models without per-token prices
    unpriced: tuple[str, ...] = ()  # catalog models the file gives no price
    missing_keys: tuple[KeyLookup, ...] = ()  # catalog models whose litellm_key the file does not have
    first_tier: tuple[str, ...] = ()  # LiteLLM names priced from the first tier of their tiered_pricing


@dataclass(frozen=True)
class KeyLookup:
    """A catalog model's litellm_key that a LiteLLM file does not have, with the names in the
    file closest to it (difflib, case-insensitive), best first."""

    model: str
    litellm_key: str
    near: tuple[str, ...]


def load_price_file(path: str, stored_models: Mapping[str, ModelSpec], catalog: str | None = None) -> PriceFile:
    """Read and validate a price file. `catalog` (builtin:... or a path) says which LiteLLM name
    is which model; None: the `litellm_key` of `stored_models` (the stored sweeps' models)."""
    models = stored_models if catalog is None else load_catalog_file(catalog)
    return parse_price_file(read_text(path, "price file"), str(path), models, catalog or STORED_MODELS)


def parse_price_file(text: str, source: str, catalog: Mapping[str, ModelSpec], catalog_name: str) -> PriceFile:
    """A price file's text -> its quotes; `catalog` maps LiteLLM names to models."""
    data = _load(text, source)
    if isinstance(data, Mapping) and "models" in data:
        models = catalog_from_mapping(data, source)
        # A model priced by its litellm_key has no prices here to quote.
        return PriceFile(source, PriceFormat.CATALOG, tuple(
            PriceQuote(m.key, prices_of(m)) for m in models.values() if m.c_in is not None
        ), unpriced=tuple(m.key for m in models.values() if m.c_in is None))
    return _litellm(data, source, catalog, catalog_name)


# --- private helpers -------------------------------------------------------------------------


def _load(text: str, source: str) -> Any:
    if not source.lower().endswith(".json"):
        return parse_yaml(text, source)
    return parse_json(text, source)


def _litellm(data: Any, source: str, catalog: Mapping[str, ModelSpec], catalog_name: str) -> PriceFile:
    if not isinstance(data, Mapping) or not data:
        raise SpecError(
            source, "(top level)",
            "must be a catalog (models: ...) or a LiteLLM price list (a mapping of model name -> prices)",
        )
    models_of: dict[str, list[str]] = {}
    for model in catalog.values():
        if model.litellm_key is not None:
            models_of.setdefault(model.litellm_key, []).append(model.key)
    if not models_of:
        raise SpecError(
            catalog_name, "models.*.litellm_key",
            f"no model has a litellm_key, so no entry of the LiteLLM file {source} can be mapped "
            "(name a catalog with litellm_key values, e.g. --catalog examples/catalog-litellm.yaml)",
        )
    quotes, ignored, no_token_price, first_tier = [], [], [], []
    for name, entry in data.items():
        name = str(name)
        if name not in models_of:
            ignored.append(name)
            continue
        if not isinstance(entry, Mapping):
            raise SpecError(source, json.dumps(name), f"must be a mapping of fields, got {type(entry).__name__}")
        cached = _price(entry, LITELLM_CACHED, source, name) if entry.get(LITELLM_CACHED) is not None else None
        if entry.get(LITELLM_INPUT) is None or entry.get(LITELLM_OUTPUT) is None:
            entry = _first_tier(entry)
            if entry is None:
                no_token_price.append(name)
                continue
            first_tier.append(name)
            if entry.get(LITELLM_CACHED) is not None:  # the tier's own cached price, if it has one
                cached = _price(entry, LITELLM_CACHED, source, name)
        prices = Prices(
            _price(entry, LITELLM_INPUT, source, name), _price(entry, LITELLM_OUTPUT, source, name), c_in_cached=cached,
        )
        quotes += [PriceQuote(model, prices) for model in models_of[name]]
    quoted = {q.model for q in quotes}
    unpriced = tuple(key for key in catalog if key not in quoted)
    names = [str(n) for n in data]
    missing = tuple(
        KeyLookup(model.key, model.litellm_key, _near(model.litellm_key, names))
        for model in catalog.values() if model.litellm_key is not None and model.litellm_key not in data
    )
    return PriceFile(
        source, PriceFormat.LITELLM, tuple(quotes), tuple(ignored), tuple(no_token_price), unpriced, missing,
        tuple(first_tier),
    )


def _first_tier(entry: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The tier of `tiered_pricing` that starts lowest (what a query of ordinary length pays),
    if it has both per-token prices; None otherwise."""
    tiers = entry.get(LITELLM_TIERS)
    if not isinstance(tiers, list):
        return None
    usable = [t for t in tiers if isinstance(t, Mapping) and t.get(LITELLM_INPUT) is not None and t.get(LITELLM_OUTPUT) is not None]
    if not usable:
        return None

    def start(tier: Mapping[str, Any]) -> float:
        bounds = tier.get("range")
        return float(bounds[0]) if isinstance(bounds, list) and bounds and isinstance(bounds[0], (int, float)) else 0.0

    return min(usable, key=start)


def _near(key: str, names: list[str], n: int = 3) -> tuple[str, ...]:
    """Names like `key` (difflib's ratio >= 0.6, case-insensitive), best first."""
    by_lower: dict[str, str] = {}
    for name in names:
        by_lower.setdefault(name.lower(), name)
    return tuple(by_lower[m] for m in difflib.get_close_matches(key.lower(), list(by_lower), n=n, cutoff=0.6))


def _price(entry: Mapping[str, Any], field: str, source: str, name: str) -> float:
    value = entry[field]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise SpecError(source, f"{json.dumps(name)}.{field}", f"must be a finite number >= 0 (USD per token), got {shown(value)}")
    if value > MAX_USD_PER_TOKEN:
        raise SpecError(
            source, f"{json.dumps(name)}.{field}",
            f"must be at most {MAX_USD_PER_TOKEN:g} $ per token (a plausible value), got {value:g}",
        )
    return float(value)
