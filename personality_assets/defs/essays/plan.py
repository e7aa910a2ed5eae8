"""Which essays a topic gets: cells of the stance x evidence x style x quality grid, in a seeded
order whose every prefix is nearly balanced (each dimension's levels used within one essay of each
other in small plans, within two in any). A plan of size n is the first n cells of that order (the
whole grid for n = grid size; replicates of it beyond), so a larger plan extends a smaller one with
the same seed, and a re-run plans nothing new."""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Cell:
    levels: tuple[int, ...]  # an index into each dimension's levels, in DIMENSION_TABLES order
    replicate: int
    position: int  # place in the plan


def balanced_order(sizes: Sequence[int], seed: int) -> list[tuple[int, ...]]:
    """Every cell of the grid once. Each next cell is the one whose levels have been used least so
    far (its most-used level first, then the sum), ties broken by a seeded shuffle: any prefix uses
    each level of each dimension as evenly as the grid allows."""
    cells = list(itertools.product(*(range(size) for size in sizes)))
    random.Random(seed).shuffle(cells)
    counts = [[0] * size for size in sizes]
    order: list[tuple[int, ...]] = []
    remaining = cells
    while remaining:
        best_index, best_key = 0, None
        for index, cell in enumerate(remaining):
            used = [counts[d][level] for d, level in enumerate(cell)]
            key = (max(used), sum(used))
            if best_key is None or key < best_key:
                best_index, best_key = index, key
                if key == (0, 0):
                    break
        cell = remaining.pop(best_index)
        order.append(cell)
        for d, level in enumerate(cell):
            counts[d][level] += 1
    return order


def plan_cells(sizes: Sequence[int], essays: int | None, seed: int) -> list[Cell]:
    """The first ``essays`` cells (default: the whole grid); beyond the grid, replicates follow in
    the same order."""
    order = balanced_order(sizes, seed)
    total = len(order) if essays is None else essays
    return [Cell(order[i % len(order)], i // len(order), i) for i in range(total)]
