"""Adaptive trials (`trials: auto`): simulate in rounds until every decision is sure enough.

A simulation group runs rounds of trial blocks (engine.plan owns them): blocks [0, 8) first, then the count doubles
each round, [8, 16), [16, 32), ..., up to the blocks of `max_trials`. After each round its
runs are decided on all blocks so far, with each choice's confidence (engine.confidence: the
estimated probability that it is right); the group stops early when every choice of every
scenario it serves reaches `stopping_level` (the target with its error 1 - target spread over
the rounds, so that stopping on a wrong decision at any round has probability at most
1 - target), or when `max_trials` are used, and says which. Blocks are the same whatever the round they
are simulated in (their streams depend on seed, model and block index only), and the rule
reads nothing but the blocks so far, so a local and a distributed run stop at the same round
and give the same answer bit for bit.
"""

from __future__ import annotations

from typing import Sequence

from infscale.engine.plan import block_plan, first_round, next_round
from infscale.engine.selection import Decision
from infscale.engine.specs import AdaptiveTrials, ScenarioSpec, SweepSpec

def n_rounds(sweep: SweepSpec) -> int:
    """How many rounds a group may run before it reaches max_trials."""
    n_blocks, end, rounds = block_plan(sweep).n_blocks, first_round(sweep).stop, 1
    while end < n_blocks:
        end, rounds = next_round(sweep, end).stop, rounds + 1
    return rounds


def stopping_level(sweep: SweepSpec) -> float:
    """The confidence every decision needs to stop early: the error 1 - target_confidence spent
    evenly over the rounds that may stop early (all but the last, which stops anyway), so the
    chance of ever stopping on a wrong decision, over all rounds, is at most 1 - target
    (a union bound: alpha-spending with a flat spending function)."""
    early = max(n_rounds(sweep) - 1, 1)
    return 1.0 - (1.0 - sweep.adaptive.target_confidence) / early


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
    level = stopping_level(sweep)
    if lowest[0] is not None and lowest[0] >= level and done < plan.n_blocks:
        return (
            f"every method's confidence reached {level:.4g} after {trials} trials "
            f"(target {adaptive.target_confidence:g}, its error spread over {max(n_rounds(sweep) - 1, 1)} rounds)"
        )
    if done < plan.n_blocks:
        return None
    if lowest[0] is None:
        return f"max_trials {adaptive.max_trials} reached, too few blocks to measure confidence"
    return (
        f"max_trials {adaptive.max_trials} reached; lowest confidence {lowest[0]:.2f} "
        f"({lowest[1]}: {lowest[2]}, target {adaptive.target_confidence:g})"
    )
