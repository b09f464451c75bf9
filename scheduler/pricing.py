"""Pricing a sweep before it runs: models with a `litellm_key` and no c_in, c_out of their own
get the price version in force in the store (engine.prices.price_sweep). A sweep with no such
model never reads the store here."""

from __future__ import annotations

from typing import Any

from infscale.engine.prices import price_sweep, unpriced_models
from infscale.engine.specs import SweepSpec


def priced(sweep: SweepSpec, store: Any) -> SweepSpec:
    """The sweep, every model priced; SpecError naming the model and its key if one has no price."""
    if not unpriced_models(sweep):
        return sweep
    return price_sweep(sweep, {key: row.prices for key, row in store.prices().items()})
