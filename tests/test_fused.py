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
