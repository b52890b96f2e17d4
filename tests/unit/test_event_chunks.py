"""The event clock's column fold against its trip-by-trip fold: the same part after any chunks."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest

from taxi_stream.core.watermarks import LatePolicy
from taxi_stream.function import columns, eventtime
from taxi_stream.function.eventtime import EventRules
from taxi_stream.function.state import Part

BASE_MS = 1_732_521_600_000  # 2024-11-25T08:00:00Z, a whole hour


def rules(rng: random.Random) -> EventRules:
    """Windows of 1 s to 15 min, out-of-orderness and allowed lateness of 0 up to minutes."""
    size = rng.choice([1, 5, 60, 900]) * 1000
    out_of_orderness = rng.choice([0, 1000, 60_000, rng.randrange(200_000)])
    lateness = rng.choice([0, 1000, 30_000, rng.randrange(100_000)])
    return EventRules(size, out_of_orderness, lateness, rng.choice(list(LatePolicy)))


def chunk(
    rng: random.Random, rule: EventRules, around_ms: int
) -> tuple[columns.Columns, list[int]]:
    """A chunk of clean trips near ``around_ms``: in one window, a few or many, some late or
    on a window's edge; and their arrivals (never before the event)."""
    n = rng.randint(1, 12)
    spread = rng.choice([0, 10, 1000, rule.size_ms, 5 * rule.size_ms])
    event = [around_ms + rng.randint(-spread, spread) for _ in range(n)]
    money = [[rng.choice([None, round(rng.uniform(-5, 50), 2)]) for _ in range(n)] for _ in "ftt"]
    found = columns.Columns(
        index=list(range(n)),
        vendor=[rng.randint(1, 3) for _ in range(n)],
        event_ms=event,
        miles=[rng.uniform(0, 20) for _ in range(n)],
        duration_s=[rng.randint(0, 5000) for _ in range(n)],
        passengers=[rng.choice([None, 0, 1, 5]) for _ in range(n)],
        dollars=money,
    )
    return found, [ms + rng.randint(0, 100_000) for ms in event]


def one_by_one(part: Part, rule: EventRules, found: columns.Columns, arrivals: list[int]) -> bool:
    """``eventtime.fold`` of each trip in order; False if any became a dead letter."""
    values = found.values()
    letters = []
    for k, (vendor, event_ms) in enumerate(zip(found.vendor, found.event_ms, strict=True)):
        trip: Any = (str(vendor), event_ms, *(column[k] for column in values))
        letters.append(eventtime.fold(part, rule, trip, arrivals[k]))
    return all(letter is None for letter in letters)


def seen(part: Part) -> tuple[object, ...]:
    return part.cells, part.watermark_ms, part.last_arrival_ms


@pytest.mark.parametrize("seed", range(8))
def test_chunks_fold_by_columns_as_trip_by_trip(seed: int) -> None:
    """Chunks in turn from the shard's first record (no watermark) or a stored watermark, on
    or near window ends: the same cells, late counts, watermark and newest arrival as trip by
    trip; a chunk the columns decline holds a dead letter trip by trip."""
    rng = random.Random(seed)
    taken = declined = 0
    for _ in range(400):
        rule = rules(rng)
        around = BASE_MS + rng.randrange(-3 * rule.size_ms, 3 * rule.size_ms)
        around -= around % rng.choice([1, 1000, rule.size_ms])
        mark = around - rule.out_of_orderness_ms  # the watermark ``around`` would leave
        edges = [mark, mark + rule.size_ms, around - rule.size_ms - rule.allowed_lateness_ms]
        stored = rng.choice([None, *edges, around + rng.randint(-9, 9) * 1000])
        fast = Part("1", 0, {}, stored, stored, 0)
        exact = copy.deepcopy(fast)
        for _ in range(rng.randint(1, 4)):
            found, arrivals = chunk(rng, rule, around + rng.randint(-1, 2) * rule.size_ms)
            before = seen(copy.deepcopy(fast))
            if columns.fold(fast, rule, found, arrivals):
                taken += 1
                assert one_by_one(exact, rule, found, arrivals)
            else:
                declined += 1
                assert seen(fast) == before  # untouched
                assert not one_by_one(exact, rule, found, arrivals)
                fast = copy.deepcopy(exact)
            assert seen(fast) == seen(exact)
    assert taken > 100
    assert declined > 10
