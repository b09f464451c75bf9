"""engine/fused.py: `load` compiles exactly what the kernel runs, so a forked worker inherits it.

A pass called later with other argument types (say a non-contiguous array) would compile a
second version inside a worker's shard: after `load`, simulating every kind of run (both
latency models, both accuracy kinds, legacy mode) must add no signature.
"""

from __future__ import annotations

import numba

from infscale.engine import fused
from infscale.engine.specs import Mode
from tests.engine_fixtures import PAPER_MODELS, make_scenario, run_one
from tests.kernel_pin import cases, compute


def test_load_compiles_every_signature_the_kernel_uses() -> None:
    fused.load()
    passes = {
        name: f for name in dir(fused)
        if isinstance(f := getattr(fused, name), numba.core.registry.CPUDispatcher) and not name.startswith("_")
    }
    assert len(passes) == 6
    assert all(len(f.signatures) == 1 for f in passes.values())
    for group in cases().values():
        compute(group)
    run_one(PAPER_MODELS["gpt5"], make_scenario(k_max=8), trials=50, mode=Mode.LEGACY)
    assert {name: len(f.signatures) for name, f in passes.items()} == {name: 1 for name in passes}


def test_budget_counts_are_the_counts_of_every_trial_compared() -> None:
    """The range shortcut (a scenario every trial of a row meets, or none does, counted at once)
    gives the count of comparing each trial, budgets inside, outside and across the rows'
    ranges, with ties on the bounds and rows holding a NaN."""
    import numpy as np

    rng = np.random.default_rng(14)
    for case in range(200):
        rows, n, scenarios = rng.integers(1, 6), rng.integers(1, 40), rng.integers(1, 12)
        cost, time, acc = (np.round(rng.normal(1.0, 0.3, (rows, n)), 1) for _ in range(3))
        if case % 7 == 0:
            (cost, time, acc)[case % 3][0, rng.integers(n)] = np.nan
        budgets = np.round(rng.normal(1.0, 0.6, (scenarios, 3)), 1)  # rounded like the values: ties
        budgets[::4] = (9.0, 9.0, -9.0)  # every trial meets these
        out = np.empty((scenarios, rows), dtype=np.int64)
        fused.budget_counts(cost, time, acc, budgets, out)
        meets = (cost <= budgets[:, 0, None, None]) & (time <= budgets[:, 1, None, None]) & (acc >= budgets[:, 2, None, None])
        assert np.array_equal(out, meets.sum(axis=-1)), case
