"""`mode: exact` against Monte Carlo: wherever the Monte Carlo confidence is >= 0.99, the exact
decision is the same (status and k), method by method and across models.

At 65,536 trials for the nine bundled models under balanced, and (slow) at 1,000,000 trials
for GPT-5 and Nemotron Nano 9B v2 under the three bundled scenarios.
"""

from __future__ import annotations

import pytest

from infscale.engine.pipeline import run_sweep
from infscale.engine.specs import Mode
from tests.engine_fixtures import PAPER_MODELS, PAPER_SCENARIOS, make_sweep


def assert_sure_decisions_agree(models, scenarios, trials: int, seed: int) -> int:
    mc = run_sweep(make_sweep(models, scenarios, trials, seed))
    exact = run_sweep(make_sweep(models, scenarios, 0, mode=Mode.EXACT))
    sure = 0
    for got, want in zip(mc.runs, exact.runs):
        assert (got.model.key, got.scenario.name) == (want.model.key, want.scenario.name)
        for c, e in zip(got.decision.choices, want.decision.choices):
            if c.confidence is not None and c.confidence >= 0.99:
                sure += 1
                assert (c.status, c.k) == (e.status, e.k), (got.model.key, got.scenario.name, c, e)
    for got, want in zip(mc.recommendations, exact.recommendations):
        if got.confidence is not None and got.confidence >= 0.99:
            sure += 1
            assert (got.status, got.model, got.k) == (want.status, want.model, want.k), (got, want)
    return sure


def test_sure_decisions_equal_the_exact_ones_at_65536_trials() -> None:
    sure = assert_sure_decisions_agree(list(PAPER_MODELS.values()), [PAPER_SCENARIOS["balanced"]], 65536, seed=3)
    assert sure >= 30


@pytest.mark.slow
def test_sure_decisions_equal_the_exact_ones_at_a_million_trials() -> None:
    models = [PAPER_MODELS["gpt5"], PAPER_MODELS["nvidia-nemotron-nano-9b-v2"]]
    sure = assert_sure_decisions_agree(models, list(PAPER_SCENARIOS.values()), 1_000_000, seed=4)
    assert sure >= 20
