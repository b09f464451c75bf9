"""Merged statistics of bounded size: consecutive blocks combined into at most MAX_BATCHES rows.

A group's merged partial keeps one row of sums per trial block, so it grew with the trial
count (57 KB per block at k_max 1024). Past MAX_BATCHES blocks, rows become batches: with
n blocks, batch j holds blocks [j W, (j + 1) W) for the smallest power of two W with
ceil(n / W) <= MAX_BATCHES (`batch_level`), so a merged partial never has more rows, and a
sweep of at most MAX_BATCHES blocks keeps one row per block, exactly as before.

A batch's statistics are the binary tree over its blocks: a node of 2^l aligned blocks
combines its two halves (trial counts and sums added, centred squares by Chan et al.'s
pairwise update, budget counts added), a half with no blocks passing the other through. The
tree depends on the block indices only, so the rows are the same bit for bit whatever the
shards, their order of arrival (merged in block order), or when the width doubled: a batch
of width 2W is one node above two batches of width W. Batches are consecutive trials, so
batch means (and paired differences between k within a batch, the same trials for every k)
stay valid statistics; a bootstrap over rows resamples batches.

`BlockMerger` takes partials in block order and keeps at most MAX_BATCHES closed batches
plus O(log W) nodes of the open one, and one histogram added in place: memory
O(MAX_BATCHES x K) whatever the number of blocks or shards.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np

from infscale.engine.errors import MergeError
from infscale.engine.statistics import Partial

MAX_BATCHES = 1024
"""Rows of a merged partial at most: up to 1,024 blocks (1,048,576 trials) one row per block."""


def batch_level(n_blocks: int) -> int:
    """log2 of the batch width for `n_blocks` blocks: the smallest l with ceil(n / 2^l) <= MAX_BATCHES."""
    level = 0
    while -(-n_blocks // (1 << level)) > MAX_BATCHES:
        level += 1
    return level


def merge_in_order(parts: Iterable[Partial]) -> Partial:
    """Merge partials given in block order (each starting after the previous ends)."""
    merger = BlockMerger()
    for part in parts:
        merger.add(part)
    return merger.result()


@dataclass(frozen=True)
class _Node:
    """Statistics of the blocks of one aligned range [start, start + 2^level) that are present."""

    start: int
    level: int
    count: int  # blocks present
    trials: int
    sums: np.ndarray  # (3, K)
    m2: np.ndarray  # (3, K)
    feasible: np.ndarray  # (S, K)

    @property
    def end(self) -> int:
        """End of the node's range: no later block may fall before it."""
        return self.start + (1 << self.level)


class BlockMerger:
    """Merges partials in block order into at most MAX_BATCHES rows (see module docstring)."""

    def __init__(self) -> None:
        self._nodes: list[_Node] = []  # sorted; closed batches first, then the open batch's nodes
        self._hist: np.ndarray | None = None
        self._blocks = 0

    def add(self, part: Partial) -> None:
        """Add a partial whose blocks all come after those added so far."""
        if self._hist is None:
            self._hist = part.hist.copy()
        elif part.hist.shape != self._hist.shape:
            raise MergeError(f"partials of different shapes: {sorted({part.hist.shape, self._hist.shape})}")
        else:
            self._hist += part.hist
        for i in range(part.blocks.size):
            node = _Node(
                int(part.blocks[i]), part.level, int(part.spans[i]) if part.spans is not None else 1,
                int(part.trials[i]), part.sums[i], part.m2[i], part.feasible[i],
            )
            if self._nodes and node.start < self._nodes[-1].end:
                raise MergeError(
                    f"partials overlap or come out of block order: block {node.start} after a batch ending at {self._nodes[-1].end}"
                )
            self._nodes.append(node)
            self._blocks += node.count
            self._carry()
        self._close_batches()

    @property
    def rows_held(self) -> int:
        """Rows in memory now: at most MAX_BATCHES + batch_level(blocks) + 1."""
        return len(self._nodes)

    def result(self) -> Partial:
        """The merged partial of everything added so far (the merger can take more after)."""
        if self._hist is None:
            raise MergeError("nothing to merge")
        level = batch_level(self._blocks)
        rows = [_tree(nodes, level) for nodes in _by_batch(self._nodes, level)]
        return Partial(
            blocks=np.array([r.start for r in rows], dtype=np.int64),
            trials=np.array([r.trials for r in rows], dtype=np.int64),
            sums=np.stack([r.sums for r in rows]),
            m2=np.stack([r.m2 for r in rows]),
            feasible=np.stack([r.feasible for r in rows]),
            hist=self._hist.copy(),
            level=level,
            spans=np.array([r.count for r in rows], dtype=np.int64) if level else None,
        )

    def _carry(self) -> None:
        """Two complete sibling nodes at the end become their parent, like a binary counter: the
        open batch holds O(log W) nodes, not W blocks."""
        level = batch_level(self._blocks)
        while len(self._nodes) >= 2:
            a, b = self._nodes[-2], self._nodes[-1]
            width = 1 << a.level
            if not (a.level == b.level < level and a.count == b.count == width
                    and a.start % (2 * width) == 0 and b.start == a.start + width):
                return
            self._nodes[-2:] = [_combine(a, b, a.level + 1)]

    def _close_batches(self) -> None:
        """Combine every batch that no later block can enter (all before the last node's)."""
        level = batch_level(self._blocks)
        if level == 0:
            return
        open_batch = self._nodes[-1].start >> level
        groups = _by_batch(self._nodes, level)
        closed = [g for g in groups if g[0].start >> level < open_batch]
        self._nodes = [_tree(g, level) for g in closed] + [n for g in groups if g[0].start >> level >= open_batch for n in g]


def _by_batch(nodes: list[_Node], level: int) -> list[list[_Node]]:
    """Consecutive nodes grouped by their batch of 2^level blocks."""
    groups: list[list[_Node]] = []
    for node in nodes:
        if node.level > level:
            raise MergeError(f"a batch of {1 << node.level} blocks cannot be part of batches of {1 << level}")
        if groups and groups[-1][0].start >> level == node.start >> level:
            groups[-1].append(node)
        else:
            groups.append([node])
    return groups


def _tree(nodes: list[_Node], level: int) -> _Node:
    """The node at `level` over `nodes` (all inside one aligned range): halves combined, an
    empty half passing the other through."""
    if len(nodes) == 1:
        return _relevel(nodes[0], level)
    half = level - 1
    mid = (nodes[0].start >> level << level) + (1 << half)
    left = [n for n in nodes if n.start < mid]
    right = [n for n in nodes if n.start >= mid]
    if not left:
        return _relevel(_tree(right, half), level)
    if not right:
        return _relevel(_tree(left, half), level)
    return _combine(_tree(left, half), _tree(right, half), level)


def _relevel(node: _Node, level: int) -> _Node:
    """The same statistics as the node of the wider range that holds no other blocks."""
    if node.level == level:
        return node
    return _Node(node.start >> level << level, level, node.count, node.trials, node.sums, node.m2, node.feasible)


def _combine(a: _Node, b: _Node, level: int) -> _Node:
    """Two adjacent halves: counts and sums added, centred squares by the pairwise update
    m2 = m2_a + m2_b + (mean_b - mean_a)^2 n_a n_b / n."""
    n = a.trials + b.trials
    delta = b.sums / b.trials - a.sums / a.trials
    m2 = a.m2 + b.m2 + np.square(delta) * (a.trials * b.trials / n)
    return _Node(a.start >> level << level, level, a.count + b.count, n, a.sums + b.sums, m2, a.feasible + b.feasible)
