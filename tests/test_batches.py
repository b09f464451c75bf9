"""Merged statistics of bounded size (engine/batches.py), with MAX_BATCHES made small.

- Rows never exceed MAX_BATCHES; each batch holds exactly its blocks' trials and budget counts,
  and the curves equal those of the unbatched blocks (means and standard errors to rounding,
  quantiles and budget probabilities exactly).
- Bit-identical whatever the sharding, order of the parts, or when the width doubled (the
  adaptive rounds' case: a merger that went on after a first result equals a fresh one); a
  local run equals its shards reduced in reverse order.
- Blocks out of order or overlapping are refused, and so are batched parts that cut a batch.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from infscale.engine import batches
from infscale.engine.batches import BlockMerger, batch_level, merge_in_order
from infscale.engine.errors import MergeError
from infscale.engine.pipeline import finish_group, simulate_shard
from infscale.engine.plan import BLOCK_TRIALS, BlockPlan, shard_ranges
from infscale.engine.simulation import simulate_blocks
from infscale.engine.specs import KGrid
from infscale.engine.statistics import Partial, bins_for, merge, summarize
from infscale.scheduler.local import run_local
from tests.engine_fixtures import PAPER_MODELS, assert_curves_identical, make_scenario, make_sweep, only_group

N_BLOCKS = 23
SEED = 5


@pytest.fixture(scope="module")
def singles():
    """23 blocks (the last short) of a small group with a budget that binds part-way."""
    scenario = make_scenario("s", max_total_cost=0.01, max_total_time=30.0, min_accuracy=0.95, k_max=12, parallelism=2)
    trials = (N_BLOCKS - 1) * BLOCK_TRIALS + 100
    group = only_group(make_sweep([PAPER_MODELS["gpt5-nano"]], [scenario], trials, SEED))
    bins = bins_for(group)
    plan = BlockPlan(trials, BLOCK_TRIALS)
    return group, bins, plan, [simulate_blocks(group, SEED, plan, [b], bins) for b in range(N_BLOCKS)]


@pytest.fixture
def four_batches(monkeypatch):
    monkeypatch.setattr(batches, "MAX_BATCHES", 4)


def assert_identical(a: Partial, b: Partial) -> None:
    assert a.equals(b), (a.blocks.tolist(), b.blocks.tolist())


def test_batch_level() -> None:
    assert [batch_level(n) for n in (1, 1024, 1025, 2048, 2049, 97_657)] == [0, 0, 1, 1, 2, 7]


def test_rows_are_bounded_and_hold_exactly_their_blocks(singles, four_batches) -> None:
    group, bins, plan, parts = singles
    merged = merge_in_order(parts)
    width = 1 << merged.level
    assert merged.level == 3 and merged.blocks.tolist() == [0, 8, 16]  # 23 blocks: batches of 8
    assert merged.spans.tolist() == [8, 8, 7] and merged.n_blocks == N_BLOCKS
    for row, start in enumerate(merged.blocks):
        members = parts[start:start + width]
        assert merged.trials[row] == sum(int(p.trials[0]) for p in members)
        assert np.array_equal(merged.feasible[row], sum(p.feasible[0] for p in members))
        np.testing.assert_allclose(merged.sums[row], sum(p.sums[0] for p in members), rtol=1e-13)
    flat = merge(parts[:4])  # few enough blocks: one row each, as before batches existed
    assert flat.level == 0 and flat.spans is None and flat.blocks.tolist() == [0, 1, 2, 3]


def test_batched_curves_equal_the_blocks_curves(singles, four_batches, monkeypatch) -> None:
    group, bins, plan, parts = singles
    batched = summarize(merge_in_order(parts), group, bins)[0]
    monkeypatch.setattr(batches, "MAX_BATCHES", 1024)
    flat = summarize(merge(parts), group, bins)[0]
    assert batched.trials == flat.trials
    assert np.array_equal(batched.feasible_probability, flat.feasible_probability)
    for name in ("cost", "time", "accuracy"):
        a, b = getattr(batched, name), getattr(flat, name)
        np.testing.assert_allclose(a.mean, b.mean, rtol=1e-12)
        np.testing.assert_allclose(a.se, b.se, rtol=1e-9)
        for q in ("p05", "p50", "p95"):
            assert np.array_equal(getattr(a, q), getattr(b, q))


def test_any_sharding_and_order_give_the_same_bits(singles, four_batches) -> None:
    group, bins, plan, parts = singles
    reference = merge_in_order(parts)
    shards = [simulate_blocks(group, SEED, plan, r, bins) for r in shard_ranges(N_BLOCKS, 3)]
    shuffled = parts[:]
    random.Random(1).shuffle(shuffled)
    assert_identical(merge_in_order(shards), reference)
    assert_identical(merge(shuffled), reference)
    assert_identical(merge([merge(parts[:8]), merge(parts[8:])]), reference)  # batched parts, cut at a batch edge
    assert_identical(merge([simulate_blocks(group, SEED, plan, range(N_BLOCKS), bins)]), reference)


def test_a_merger_that_went_on_after_a_result_equals_a_fresh_one(singles, four_batches) -> None:
    group, bins, plan, parts = singles
    merger = BlockMerger()
    for p in parts[:8]:  # a first round of 8 blocks: batches of 2
        merger.add(p)
    assert merger.result().level == 1
    for p in parts[8:]:  # the width doubles twice on the way
        merger.add(p)
        assert merger.rows_held <= 4 + batch_level(int(p.blocks[-1]) + 1) + 1
    assert_identical(merger.result(), merge_in_order(parts))


def test_out_of_order_and_overlapping_blocks_are_refused(singles, four_batches) -> None:
    group, bins, plan, parts = singles
    merger = BlockMerger()
    merger.add(parts[5])
    with pytest.raises(MergeError, match="block order"):
        merger.add(parts[4])
    with pytest.raises(MergeError):
        merge([merge_in_order(parts[:10]), parts[9]])
    with pytest.raises(MergeError):  # batches of 4: the batch of blocks 8-11 is cut between the parts
        merge([merge(parts[:9]), merge(parts[9:])])


def test_a_local_run_equals_shards_reduced_in_any_order_when_batched(four_batches) -> None:
    scenario = make_scenario("s", max_total_cost=0.01, max_total_time=30.0, min_accuracy=0.95, k_max=12, parallelism=2)
    sweep = make_sweep([PAPER_MODELS["gpt5-nano"]], [scenario], 19 * BLOCK_TRIALS, SEED)
    group = only_group(sweep)
    (local,) = run_local(sweep, workers=1).runs
    shards = [simulate_shard(sweep, group, r) for r in shard_ranges(19, 3)]
    (reduced,) = finish_group(sweep, group, shards[::-1])
    assert_curves_identical(local.curves, reduced.curves)
    assert local.decision.choices == reduced.decision.choices  # confidence (bootstrap over rows) included
    assert np.array_equal(local.decision.frontier, reduced.decision.frontier)
