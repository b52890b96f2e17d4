"""A column of dollar amounts in cents, as ``codec._fast`` gives them, by C-level passes.

``codec._fast`` takes ``round(x)`` of the product x = ``dollars * 100`` when x - round(x) lies
within (-NEAR_HALF, NEAR_HALF), else ``core.money.cents``. Here ``floor(x + lo)`` and
``floor(x + hi)`` (``lo`` just under NEAR_HALF, ``hi`` just over 1 - NEAR_HALF, by MARGIN) are
one integer k only when x - k lies within that range, and then k is ``round(x)``. Float addition
is monotone, so each ``floor(x + hi)`` is at least its ``floor(x + lo)``, and equal sums of the
two over a column mean every amount's are equal: two streamed sums check a whole column. A
column where they differ takes ``_fast``'s own rule for every amount (``cent``). Amounts reach
here range-checked (at most 100,000 dollars), where a float's error is far below MARGIN.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import repeat
from math import floor
from operator import add, mul
from typing import Any, Final

from taxi_stream.core.money import cents
from taxi_stream.function.codec import NEAR_HALF

MARGIN: Final = 1e-7  # of a cent, inside NEAR_HALF: far above a float's error on any amount


def cents_column(dollars: Sequence[Any], name: str) -> list[int]:
    """Each amount in cents as ``codec._fast`` gives it (None: 0)."""
    if None in dollars:
        dollars = [0.0 if value is None else value for value in dollars]
    low, high = _bounds()
    scaled = list(map(mul, dollars, repeat(100.0)))
    whole: list[int] = list(map(floor, map(add, scaled, repeat(low))))
    if sum(map(floor, map(add, scaled, repeat(high)))) != sum(whole):
        return [cent(value, name) for value in dollars]  # some amount is near a half cent
    return whole


def cent(dollars: float, name: str) -> int:
    """``codec._fast``'s own rule for one amount."""
    near = round(dollars * 100)
    if -NEAR_HALF < dollars * 100 - near < NEAR_HALF:
        return near
    return cents(dollars, name)


def cents_sum(dollars: Sequence[float | None], name: str) -> int:
    """The sum of ``cents_column(dollars, name)``, with no list of the cents."""
    scaled = list(map(mul, filter(None, dollars), repeat(100.0)))  # None and 0 add nothing
    low, high = _bounds()
    whole: int = sum(map(floor, map(add, scaled, repeat(low))))
    if sum(map(floor, map(add, scaled, repeat(high)))) != whole:
        return sum(cent(value, name) for value in filter(None, dollars))  # near a half cent
    return whole


def _bounds() -> tuple[float, float]:
    """(lo, hi) of the module docstring's cents rule, from NEAR_HALF as it is now."""
    return NEAR_HALF - MARGIN, 1 - NEAR_HALF + MARGIN
