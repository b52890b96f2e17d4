"""Integer sums grouped by key, by C-level passes, and their adding into a part's cells.

Totals are integers, so a group's sums do not depend on the order or the grouping of its rows:
a few keys are summed by one mask each, more by one sort of the rows by key.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from itertools import accumulate, compress, repeat
from operator import eq
from typing import Any, Final, TypeVar

from taxi_stream.function.state import Part

FEW_KEYS: Final = 8  # up to this many groups are summed by masks, more by one sort

K = TypeVar("K", bound=Hashable)


def masks(keys: Sequence[K]) -> dict[K, tuple[int, list[bool]]] | None:
    """Per key: (its rows, the mask of its rows); None for one key or more than FEW_KEYS."""
    counts = Counter(keys)
    if len(counts) == 1 or len(counts) > FEW_KEYS:
        return None
    return {key: (count, list(map(eq, keys, repeat(key)))) for key, count in counts.items()}


def group_sums(keys: list[K], columns: Sequence[Sequence[int]]) -> dict[K, list[int]]:
    """Per key: [rows, then the sum of each column over the key's rows]."""
    counts = Counter(keys)
    if len(counts) == 1:
        return {key: [count, *map(sum, columns)] for key, count in counts.items()}
    if len(counts) <= FEW_KEYS:
        sums: dict[K, list[int]] = {}
        for key, count in counts.items():
            mask = list(map(eq, keys, repeat(key)))
            sums[key] = [count, *(sum(compress(column, mask)) for column in columns)]
        return sums
    order = sorted(range(len(keys)), key=keys.__getitem__)  # type: ignore[arg-type]  # K sorts
    ranked: list[Any] = sorted(counts)
    bounds = list(accumulate(map(counts.__getitem__, ranked), initial=0))
    ordered = [list(map(column.__getitem__, order)) for column in columns]
    return {
        key: [counts[key], *(sum(column[lo:hi]) for column in ordered)]
        for key, lo, hi in zip(ranked, bounds, bounds[1:])  # noqa: B905 -- one bound more
    }


def add_cells(part: Part, sums: dict[tuple[str, int], list[int]]) -> None:
    """Add grouped sums (each a cell's leading values) into the part's cells."""
    cells = part.cells
    for key, values in sums.items():
        cell = cells.get(key)
        if cell is None:
            cell = cells[key] = part.new_cell()
        for at, value in enumerate(values):
            cell[at] += value
