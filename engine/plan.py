"""From a sweep to simulation groups, trial blocks, rounds and shards: the one owner of the plan.

Trials are cut into fixed-size blocks; a block is the unit of randomness (its streams are
derived from seed, model and block index) and of statistics. A group simulates its blocks in
rounds: all of them at once for a fixed trial count; for `trials: auto`, blocks [0, 8), then
as many again each round up to the cap (engine.adaptive decides when to stop). Each round is
cut into shards, contiguous runs of blocks numbered on from the shards before, so how a sweep
is sharded never changes its answer. `plan_sweep` is what submit and the stored sweep use,
`shards` what every round (first or later) is cut with.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from infscale.engine.errors import SpecError
from infscale.engine.specs import InputBilling, KGrid, Latency, Mode, ModelSpec, ScenarioSpec, SweepSpec

BLOCK_TRIALS = 1024
"""Trials per block in standard mode. Fixed: changing it changes every stored result."""

N_METRICS = 3  # cost, time, accuracy
N_BINS = 256
"""Interior bins of each per-k histogram (plus one underflow and one overflow bin)."""

DEFAULT_MEMORY_LIMIT = 4 << 30

ROW_CHUNK = 64
"""Inferences simulated at once within a block (engine.simulation): bounds a block's working memory."""

FIRST_ROUND_BLOCKS = 8
"""Blocks of a `trials: auto` group's first round: enough for a first estimate of its confidence."""


@dataclass(frozen=True)
class SimulationGroup:
    """Scenarios that share one simulation: same model, parallelism, k_max, k grid and latency model."""

    model: ModelSpec
    parallelism: int
    k_max: int
    k_grid: KGrid
    scenarios: tuple[ScenarioSpec, ...]

    @property
    def key(self) -> str:
        """A readable, unique name within a sweep (shown in task arguments and logs).

        The paper's latency adds nothing, so keys stored before latency models existed still match.
        """
        key = f"{self.model.key}/P{self.parallelism}/k{self.k_max}/{self.k_grid.value}"
        if self.latency is not Latency.PAPER:
            key = f"{key}/{self.latency.value}"
        return key if self.billing is InputBilling.EACH else f"{key}/billing-{self.billing.value}"

    @property
    def latency(self) -> Latency:
        """The latency model, the same for every scenario of the group."""
        return self.scenarios[0].latency

    @property
    def billing(self) -> InputBilling:
        """How prompts are billed: the scenarios' input_billing (the same for the group), else the model's."""
        return self.model.billing(self.scenarios[0].input_billing)

    def grid(self) -> np.ndarray:
        return self.scenarios[0].grid()


@dataclass(frozen=True)
class BlockPlan:
    """How a group's trials are cut into blocks."""

    trials: int
    block_trials: int

    @property
    def n_blocks(self) -> int:
        return -(-self.trials // self.block_trials)

    def block_size(self, block: int) -> int:
        if not 0 <= block < self.n_blocks:
            raise IndexError(block)
        return min(self.block_trials, self.trials - block * self.block_trials)


def simulation_groups(sweep: SweepSpec) -> tuple[SimulationGroup, ...]:
    """Group the sweep's model x scenario runs by the simulation they can share."""
    groups: dict[tuple[str, int, int, KGrid, Latency, InputBilling], list[ScenarioSpec]] = {}
    for model in sweep.models:
        for scenario in sweep.scenarios:
            key = (
                model.key, scenario.parallelism, scenario.k_max, scenario.k_grid, scenario.latency,
                model.billing(scenario.input_billing),
            )
            groups.setdefault(key, []).append(scenario)
    by_key = {m.key: m for m in sweep.models}
    return tuple(
        SimulationGroup(by_key[mk], p, kmax, grid, tuple(scen))
        for (mk, p, kmax, grid, _, _), scen in groups.items()
    )


def block_plan(sweep: SweepSpec) -> BlockPlan:
    """Standard mode: fixed blocks. Legacy mode: one block, as the notebook runs trials in one loop."""
    if sweep.mode is Mode.LEGACY:
        return BlockPlan(sweep.trials, sweep.trials)
    return BlockPlan(sweep.trials, BLOCK_TRIALS)


def shard_ranges(n_blocks: int, blocks_per_shard: int) -> list[range]:
    """Contiguous block ranges of at most `blocks_per_shard` blocks, in block order."""
    if blocks_per_shard < 1:
        raise ValueError("blocks_per_shard must be >= 1")
    return [range(s, min(s + blocks_per_shard, n_blocks)) for s in range(0, n_blocks, blocks_per_shard)]


@dataclass(frozen=True)
class Shard:
    """One task's worth of a group's blocks: shard `index` of the group (counting every round)."""

    index: int
    blocks: range


@dataclass(frozen=True)
class GroupPlan:
    """A simulation group and the shards of its first round."""

    group: SimulationGroup
    blocks: range  # of the first round: all of them unless `trials: auto`; none in exact mode
    shards: tuple[Shard, ...]

    @property
    def n_blocks(self) -> int:
        return self.blocks.stop


@dataclass(frozen=True)
class SweepPlan:
    """What a sweep runs first: every group's first-round shards. `blocks_per_shard` None: one
    shard per round."""

    sweep: SweepSpec
    blocks_per_shard: int | None
    block_trials: int
    groups: tuple[GroupPlan, ...]


def plan_sweep(sweep: SweepSpec, blocks_per_shard: int | None = None) -> SweepPlan:
    """The sweep's groups with their first-round shards of `blocks_per_shard` blocks."""
    blocks = first_round(sweep)
    return SweepPlan(
        sweep, blocks_per_shard, block_plan(sweep).block_trials,
        tuple(GroupPlan(g, blocks, shards(blocks, blocks_per_shard)) for g in simulation_groups(sweep)),
    )


def shards(blocks: range, blocks_per_shard: int | None, first_index: int = 0) -> tuple[Shard, ...]:
    """Cut one round's `blocks` into shards of at most `blocks_per_shard` (None: one shard),
    numbered from `first_index` (the shards of the group's earlier rounds come first)."""
    per_shard = blocks_per_shard or max(len(blocks), 1)  # exact mode simulates no block
    return tuple(
        Shard(first_index + i, range(blocks.start + r.start, blocks.start + r.stop))
        for i, r in enumerate(shard_ranges(len(blocks), per_shard))
    )


def grown_shards(sweep: SweepSpec, n_blocks: int, blocks_per_shard: int | None) -> tuple[Shard, ...]:
    """Every shard of a group whose plan has grown to blocks [0, n_blocks): its rounds, in order,
    each cut as `shards` cut it when the round was sent (so shard i here is shard i there)."""
    rounds = [first_round(sweep)]
    while rounds[-1].stop < n_blocks:
        rounds.append(next_round(sweep, rounds[-1].stop))
        if len(rounds[-1]) == 0:
            break
    if rounds[-1].stop != n_blocks:
        raise ValueError(f"{n_blocks} blocks are not a whole number of rounds")
    cut: list[Shard] = []
    for blocks in rounds:
        cut += shards(blocks, blocks_per_shard, first_index=len(cut))
    return tuple(cut)


def first_round(sweep: SweepSpec) -> range:
    """The blocks every group simulates first: all of them for a fixed trial count."""
    n_blocks = block_plan(sweep).n_blocks
    if sweep.adaptive is None:
        return range(n_blocks)
    return range(min(FIRST_ROUND_BLOCKS, n_blocks))


def next_round(sweep: SweepSpec, done: int) -> range:
    """The blocks of the round after blocks [0, done): as many again, up to the cap."""
    return range(done, min(2 * done, block_plan(sweep).n_blocks))


def is_round_end(sweep: SweepSpec, done: int) -> bool:
    """Whether blocks [0, done) are exactly the blocks of some number of whole rounds."""
    end = first_round(sweep).stop
    while end < done:
        following = next_round(sweep, end).stop
        if following == end:  # no round after the last
            return False
        end = following
    return end == done


def model_stream_key(model_key: str) -> int:
    """A stable 63-bit integer for a model key, part of every random stream's seed."""
    return int.from_bytes(hashlib.sha256(model_key.encode()).digest()[:8], "big") >> 1


def partial_bytes(group: SimulationGroup, n_blocks: int) -> int:
    """Memory of a group's merged partial statistics as a reduce holds them (engine.batches):
    at most MAX_BATCHES rows plus the open batch's O(log W) nodes, and three histograms (the
    merger's, the result's copy and the shard being decoded)."""
    from infscale.engine.batches import MAX_BATCHES, batch_level  # batches builds on this module's groups

    k = group.grid().size
    per_row = 8 * (2 + 2 * N_METRICS * k + len(group.scenarios) * k)
    rows = min(n_blocks, MAX_BATCHES) + batch_level(n_blocks) + 1
    return rows * per_row + 3 * 8 * N_METRICS * k * (N_BINS + 2)


def working_bytes(group: SimulationGroup, plan: BlockPlan, mode: Mode) -> int:
    """Peak memory of simulating one block of the group."""
    if mode is Mode.LEGACY:
        return 8 * 6 * plan.trials + 8 * group.k_max * 8
    rows = min(ROW_CHUNK, group.k_max)
    need = 8 * 12 * rows * plan.block_trials
    if group.model.data is not None:  # the empirical model: sample indices, per-sample costs and times
        need += 8 * rows * plan.block_trials + 8 * 4 * group.model.data.n_samples
    return need


def check_memory(sweep: SweepSpec, limit_bytes: int = DEFAULT_MEMORY_LIMIT) -> None:
    """Refuse a sweep whose blocks or merged statistics would not fit in `limit_bytes`."""
    plan = block_plan(sweep)
    for group in simulation_groups(sweep):
        need = partial_bytes(group, plan.n_blocks) + working_bytes(group, plan, sweep.mode)
        if need > limit_bytes:
            index = sweep.scenarios.index(group.scenarios[0])
            field = "trials" if plan.n_blocks > group.grid().size else f"scenarios[{index}].k_max"
            raise SpecError(
                sweep.source, field,
                f"{group.key} with {sweep.trials} trials needs {need / 2**30:.1f} GiB of statistics, "
                f"over the memory limit of {limit_bytes / 2**30:.1f} GiB (INFSCALE_MEMORY_LIMIT_MB)",
            )
