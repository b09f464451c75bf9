"""Model prices as data: what a price source quotes for a model, and the model repriced by it.

A model's prices are `c_in`, `c_out` ($ per input / output token) and, when the source says,
`t_in`, `t_out` (s per token). Prices change; everything else about a model (token lengths,
accuracy) does not, and the random streams of a simulation depend only on (seed, model key,
block). So a model repriced here and simulated again with the same seed gives exactly what a
fresh sweep with the new prices gives.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Mapping

from infscale.engine.errors import SpecError
from infscale.engine.specs import ModelSpec, SweepSpec

PRICE_FIELDS = ("c_in", "c_out", "t_in", "t_out")


@dataclass(frozen=True)
class Prices:
    """One model's prices; `t_in` / `t_out` None: the source does not say (keep the model's)."""

    c_in: float
    c_out: float
    t_in: float | None = None
    t_out: float | None = None

    def over(self, previous: "Prices | None") -> "Prices":
        """These prices, with the times this source leaves open taken from `previous`."""
        if previous is None:
            return self
        return replace(
            self,
            t_in=previous.t_in if self.t_in is None else self.t_in,
            t_out=previous.t_out if self.t_out is None else self.t_out,
        )


@dataclass(frozen=True)
class PriceQuote:
    """A price source's prices for one model of a catalog (by model key)."""

    model: str
    prices: Prices


def prices_of(model: ModelSpec) -> Prices:
    """The prices a model was specified (or computed) with."""
    return Prices(model.c_in, model.c_out, model.t_in, model.t_out)


def reprice(model: ModelSpec, prices: Prices) -> ModelSpec:
    """The model with these prices (times the prices leave open stay as they are)."""
    return replace(
        model,
        c_in=prices.c_in,
        c_out=prices.c_out,
        t_in=model.t_in if prices.t_in is None else prices.t_in,
        t_out=model.t_out if prices.t_out is None else prices.t_out,
    )


def is_stale(model: ModelSpec, prices: Prices) -> bool:
    """Whether a result computed with `model` is out of date under `prices` (exact comparison:
    prices are stored and compared as the same doubles, never rounded)."""
    return reprice(model, prices) != model


def price_sweep(sweep: SweepSpec, prices: Mapping[str, Prices]) -> SweepSpec:
    """The sweep with each model that has no prices of its own (a `litellm_key` instead of
    c_in, c_out) priced by `prices` (model key -> the version in force). A model with no price
    known is one SpecError naming it and the key its price is looked up by."""
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
        models.append(reprice(model, quote))
    return replace(sweep, models=tuple(models))


def unpriced_models(sweep: SweepSpec) -> tuple[ModelSpec, ...]:
    """The models priced from the price history (no c_in, c_out of their own)."""
    return tuple(m for m in sweep.models if m.c_in is None or m.c_out is None)
