"""Adaptive trials (`trials: auto`): simulate in rounds until every decision is sure enough.

A simulation group runs rounds of trial blocks (engine.plan owns them): blocks [0, 8) first, then the count doubles
each round, [8, 16), [16, 32), ..., up to the blocks of `max_trials`. After each round its
runs are decided on all blocks so far, with each choice's confidence (engine.confidence); the
group stops when every choice of every scenario it serves reaches `target_confidence`, or
when `max_trials` are used, and says which. Blocks are the same whatever the round they
are simulated in (their streams depend on seed, model and block index only), and the rule
reads nothing but the blocks so far, so a local and a distributed run stop at the same round
and give the same answer bit for bit.
"""

from __future__ import annotations

from typing import Sequence

from infscale.engine.plan import block_plan
from infscale.engine.selection import Decision
from infscale.engine.specs import AdaptiveTrials, ScenarioSpec, SweepSpec

def stop_reason(
    sweep: SweepSpec, done: int, scenarios: Sequence[ScenarioSpec], decisions: Sequence[Decision]
) -> str | None:
    """Why a group stops after blocks [0, done), or None to run the next round."""
    adaptive: AdaptiveTrials = sweep.adaptive
    plan = block_plan(sweep)
    trials = sum(plan.block_size(b) for b in range(done))
    lowest = min(
        ((c.confidence, s.name, c.method.value) for s, d in zip(scenarios, decisions) for c in d.choices),
        key=lambda t: -1.0 if t[0] is None else t[0],
    )
    if lowest[0] is not None and lowest[0] >= adaptive.target_confidence:
        return f"every method's confidence reached {adaptive.target_confidence:g} after {trials} trials"
    if done < plan.n_blocks:
        return None
    if lowest[0] is None:
        return f"max_trials {adaptive.max_trials} reached, too few blocks to measure confidence"
    return (
        f"max_trials {adaptive.max_trials} reached; lowest confidence {lowest[0]:.2f} "
        f"({lowest[1]}: {lowest[2]}, target {adaptive.target_confidence:g})"
    )
