"""Model prices as data: what a price source quotes for a model, and the model repriced by it.

A model's prices are `c_in`, `c_out` ($ per input / output token) and, when the source says,
`t_in`, `t_out` (s per token) and `c_in_cached` ($ per input token read from the provider's
prompt cache, what `input_billing: cached` bills the k - 1 repeated prompts). Prices change; everything else about a model (token lengths,
accuracy) does not, and the random streams of a simulation depend only on (seed, model key,
block). So a model repriced here and simulated again with the same seed gives exactly what a
fresh sweep with the new prices gives.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Mapping

from infscale.engine.errors import SpecError
from infscale.engine.specs import InputBilling, ModelSpec, SweepSpec

@dataclass(frozen=True)
class Prices:
    """One model's prices; `t_in`, `t_out` or `c_in_cached` None: the source does not say
    (keep the model's)."""

    c_in: float
    c_out: float
    t_in: float | None = None
    t_out: float | None = None
    c_in_cached: float | None = None

    def over(self, previous: "Prices | None") -> "Prices":
        """These prices, with the fields this source leaves open taken from `previous`."""
        if previous is None:
            return self
        return replace(self, **{f: getattr(previous, f) for f in _OPTIONAL if getattr(self, f) is None})


@dataclass(frozen=True)
class PriceQuote:
    """A price source's prices for one model of a catalog (by model key)."""

    model: str
    prices: Prices


_OPTIONAL = ("t_in", "t_out", "c_in_cached")
"""Prices a source may leave open."""


def prices_of(model: ModelSpec) -> Prices:
    """The prices a model was specified (or computed) with."""
    return Prices(model.c_in, model.c_out, model.t_in, model.t_out, model.c_in_cached)


def reprice(model: ModelSpec, prices: Prices) -> ModelSpec:
    """The model with these prices (fields the prices leave open stay as they are)."""
    return replace(model, c_in=prices.c_in, c_out=prices.c_out, **{
        f: getattr(model, f) if getattr(prices, f) is None else getattr(prices, f) for f in _OPTIONAL
    })


def is_stale(model: ModelSpec, prices: Prices, billing: InputBilling | None = None) -> bool:
    """Whether a result computed with `model` is out of date under `prices` (exact comparison:
    prices are stored and compared as the same doubles, never rounded). `billing` is the run's
    scenario's (None: the model's own); a cached-input price only matters to a run billed
    `cached`, so a map that adds one does not recompute every run billed each or once."""
    repriced = reprice(model, prices)
    if model.billing(billing) is not InputBilling.CACHED:
        repriced = replace(repriced, c_in_cached=model.c_in_cached)
    return repriced != model


def price_sweep(sweep: SweepSpec, prices: Mapping[str, Prices]) -> SweepSpec:
    """The sweep with each model that has no prices of its own (a `litellm_key` instead of
    c_in, c_out) priced by `prices` (model key -> the version in force). A model with no price
    known, or with no cached-input price where it bills cached input, is one SpecError naming
    it and the key its price is looked up by."""
    models = []
    for model in sweep.models:
        if model.c_in is not None and model.c_out is not None:
            models.append(model)
            continue
        quote = prices.get(model.key)
        if quote is None:
            raise SpecError(
                sweep.source, f"models.{model.key}",
                f"no price known for litellm_key {model.litellm_key!r}: import a price map first "
                "(infscale prices import model_prices_and_context_window.json --catalog CATALOG)",
            )
        priced = reprice(model, quote)
        if priced.c_in_cached is None and _bills_cached(priced, sweep):
            raise SpecError(
                sweep.source, f"models.{model.key}",
                f"input_billing cached needs a cached-input price, and the prices imported for litellm_key "
                f"{model.litellm_key!r} have none (LiteLLM's cache_read_input_token_cost): give c_in_cached "
                "in the catalog entry",
            )
        models.append(priced)
    return replace(sweep, models=tuple(models))


def _bills_cached(model: ModelSpec, sweep: SweepSpec) -> bool:
    """Whether some scenario bills this model's repeated prompts at the cached price (a
    scenario's input_billing, when it has one, overrides the model's)."""
    return any(model.billing(s.input_billing) is InputBilling.CACHED for s in sweep.scenarios)


def unpriced_models(sweep: SweepSpec) -> tuple[ModelSpec, ...]:
    """The models priced from the price history (no c_in, c_out of their own)."""
    return tuple(m for m in sweep.models if m.c_in is None or m.c_out is None)
