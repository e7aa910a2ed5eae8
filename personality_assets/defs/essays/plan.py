"""Which essays a topic gets: cells of the stance x evidence x style x quality grid, in a seeded
order whose prefixes are balanced (each dimension's levels used equally, within one essay of each
other for as long as the grid allows, within two in any prefix). A plan of size n is the first n
cells of that order (the whole grid for n = grid size; replicates of it beyond), so a larger plan
extends a smaller one with the same seed, and a re-run plans nothing new."""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Greedy orders of different shuffles stay exactly balanced for different lengths; the plan keeps
# the longest of this many (with the shipped 5 x 4 x 4 x 4 grid: the first 99 essays for each of
# 200 seeds tried, against 19 for the worst single shuffle).
CANDIDATE_ORDERS = 8


@dataclass(frozen=True)
class Cell:
    levels: tuple[int, ...]  # an index into each dimension's levels, in DIMENSION_TABLES order
    replicate: int
    position: int  # place in the plan


def greedy_order(sizes: Sequence[int], seed: int) -> list[tuple[int, ...]]:
    """Every cell of the grid once. Each next cell is the one whose levels are least ahead of their
    dimension's least-used level (the largest lead first, then their sum, then their use), ties
    broken by a seeded shuffle."""
    cells = list(itertools.product(*(range(size) for size in sizes)))
    random.Random(seed).shuffle(cells)
    dimension_of = np.repeat(np.arange(len(sizes)), sizes)
    # Each cell's levels as indexes into one vector of use counts (dimension after dimension).
    slots = np.array(cells) + np.concatenate([[0], np.cumsum(sizes)[:-1]])
    counts = np.zeros(int(sum(sizes)), dtype=np.int64)
    taken = np.zeros(len(cells), dtype=bool)
    order = []
    for _ in cells:
        least_used = np.array([counts[dimension_of == d].min() for d in range(len(sizes))])
        lead = (counts - least_used[dimension_of])[slots]
        key = lead.max(axis=1) * 10**9 + lead.sum(axis=1) * 10**5 + counts[slots].sum(axis=1)
        key[taken] = np.iinfo(np.int64).max
        best = int(np.argmin(key))  # the first of equals: the shuffle breaks ties
        taken[best] = True
        counts[slots[best]] += 1
        order.append(cells[best])
    return order


def balanced_prefix(order: Sequence[tuple[int, ...]], sizes: Sequence[int]) -> int:
    """How many of the order's first cells use each dimension's levels within one of each other."""
    counts = [[0] * size for size in sizes]
    for position, cell in enumerate(order):
        for d, level in enumerate(cell):
            counts[d][level] += 1
        if any(max(used) - min(used) > 1 for used in counts):
            return position
    return len(order)


def balanced_order(sizes: Sequence[int], seed: int) -> list[tuple[int, ...]]:
    """The grid's order for ``seed``: of CANDIDATE_ORDERS greedy orders, the one balanced longest."""
    candidates = [greedy_order(sizes, seed * CANDIDATE_ORDERS + k) for k in range(CANDIDATE_ORDERS)]
    return max(candidates, key=lambda order: balanced_prefix(order, sizes))


def plan_cells(sizes: Sequence[int], essays: int | None, seed: int) -> list[Cell]:
    """The first ``essays`` cells (default: the whole grid); beyond the grid, replicates follow in
    the same order."""
    order = balanced_order(sizes, seed)
    total = len(order) if essays is None else essays
    return [Cell(order[i % len(order)], i // len(order), i) for i in range(total)]
