"""The column rule for cents gives each amount's exact cents, for any amounts a record may hold."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taxi_stream.core.money import MAX_AMOUNT_USD
from taxi_stream.core.money import cents as exact_cents
from taxi_stream.function import cents


def near_halves(rng: random.Random, count: int) -> list[float]:
    """Amounts whose product by 100 lands on, or a few ulps from, a half cent or the edge of
    the fast rule's band (a millionth of a cent from a half), on either side of zero."""
    out = []
    for _ in range(count):
        whole = rng.randint(-MAX_AMOUNT_USD * 100, MAX_AMOUNT_USD * 100 - 1)
        offset = rng.choice([0.5, 0.499999, 0.4999989, 0.5000011, 0.500001, 0.4999990001])
        value = (whole + offset) / 100
        for _ in range(rng.randint(0, 3)):
            value = math.nextafter(value, rng.choice([-math.inf, math.inf]))
        out.append(value)
    return out


def expected(column: list[Any]) -> list[int]:
    """Each amount by the core's exact rule (decimal halves away from zero), None as 0."""
    return [0 if value is None else exact_cents(value, "fareAmount") for value in column]


amounts = st.one_of(
    st.floats(-MAX_AMOUNT_USD, MAX_AMOUNT_USD, allow_nan=False),
    st.integers(-10_000, 10_000).map(lambda c: c / 100),
    st.sampled_from([0.0, -0.0, 5e-324, 1e-7, 0.005, 1.005, 2.675, 12.345, 99.995, 0.125]),
    st.sampled_from([MAX_AMOUNT_USD * 1.0, -MAX_AMOUNT_USD * 1.0, 99_999.995, -99_999.995]),
    st.none(),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(amounts, max_size=40))
def test_a_column_of_any_amounts_gives_each_amounts_exact_cents(column: list[Any]) -> None:
    """Whole cents, half cents, float noise, zeros, the bounds and absent amounts: the column's
    cents and their sum are the core's exact cents of each amount."""
    assert cents.cents_column(column, "fareAmount") == expected(column)
    assert cents.cents_sum(column, "fareAmount") == sum(expected(column))


@pytest.mark.parametrize("seed", range(6))
def test_amounts_at_the_edge_of_the_band_take_the_exact_rule(seed: int) -> None:
    """Products a few ulps from a half cent or from the band's edge, alone or among whole cents
    (where the rest of the column stays on the fast rule): every one gives its exact cents."""
    rng = random.Random(seed)
    edges = near_halves(rng, 50)
    clean = [rng.randint(-9_999_999, 9_999_999) / 100 for _ in range(200)]
    for column in (edges, [*clean, edges[0]], clean, [edges[1], None, *clean]):
        assert cents.cents_column(column, "tipAmount") == expected(column)
        assert cents.cents_sum(column, "tipAmount") == sum(expected(column))


def test_whole_cents_take_the_column_rule_without_the_per_amount_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A column of whole cents is decided by its two sums alone (the per-amount rule unused),
    so the comparisons above do test the column rule."""
    rng = random.Random(3)
    clean = [rng.randint(-9_999_999, 9_999_999) / 100 for _ in range(500)]

    def refuse(dollars: float, name: str) -> int:
        raise AssertionError("the per-amount rule was used")

    monkeypatch.setattr(cents, "cent", refuse)
    assert cents.cents_sum(clean, "fareAmount") == sum(expected(clean))
    assert cents.cents_column(clean, "fareAmount") == expected(clean)
