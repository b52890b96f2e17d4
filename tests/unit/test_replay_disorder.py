"""The disorder a replay measures equals a row-by-row count, however its pickups come in blocks."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from itertools import pairwise

import numpy as np
import pytest

from taxi_stream.core.watermarks import MAX_BOUND_S
from taxi_stream.sources.replay.disorder import Disorder, DisorderMeter
from taxi_stream.sources.replay.records import NO_TIME

NOW_MS = 1_764_547_200_000  # 2025-12-01, the wall clock the meter is given
START_MS = 1_730_419_200_000  # 2024-11-01
DAY_MS = 86_400_000
EARLY_MS = 1_199_145_600_000  # 2008-01-01: dead-lettered on the event clock
TLC_START_MS = int(datetime(2009, 1, 1, 5, tzinfo=UTC).timestamp() * 1000)  # New York midnight


def reference(pickups: list[int]) -> Disorder:
    """Row by row: how far each counted pickup fell behind the latest counted one before it."""
    counted = [p for p in pickups if p != NO_TIME and TLC_START_MS <= p <= NOW_MS + DAY_MS]
    latest: int | None = None
    behind: list[int] = []
    for pickup in counted:
        latest = pickup if latest is None else max(latest, pickup)
        behind.append(latest - pickup)
    allowed = len(counted) // 100
    needed = None
    for bound_s in range(0, MAX_BOUND_S + 1, 60):
        if sum(1 for b in behind if b > bound_s * 1000) <= allowed:
            needed = bound_s
            break
    largest = max(behind, default=0)
    return Disorder(len(counted), needed, (largest + 999) // 1000)


def hostile(rng: random.Random, rows: int) -> list[int]:
    """Pickups roughly in order with stragglers, shuffled stretches, gaps, far-off and no times."""
    out, clock = [], START_MS
    for _ in range(rows):
        clock += rng.choice([0, 1, 999, 1000, 1001, 60_000, 59_999, 60_001])
        kind = rng.random()
        if kind < 0.05:
            out.append(NO_TIME)
        elif kind < 0.07:
            out.append(EARLY_MS)
        elif kind < 0.09:
            out.append(NOW_MS + 2 * DAY_MS)  # over a day past the wall clock
        elif kind < 0.15:
            out.append(clock - rng.randrange(0, 9 * DAY_MS))  # a straggler, up to 9 days back
        elif kind < 0.17:
            clock += rng.randrange(0, 3 * DAY_MS)  # a jump ahead
            out.append(clock)
        else:
            out.append(clock - rng.randrange(0, 3_600_000))
    return out


def measured(pickups: list[int], cuts: list[int]) -> Disorder:
    """The meter's summary with the pickups given in blocks cut at ``cuts``."""
    meter = DisorderMeter()
    edges = [0, *sorted(cuts), len(pickups)]
    for start, end in pairwise(edges):
        meter.note(np.array(pickups[start:end], dtype=np.int64), NOW_MS)
    return meter.summary()


@pytest.mark.parametrize("seed", range(12))
def test_hostile_pickups_in_any_blocks_give_the_row_by_row_disorder(seed: int) -> None:
    """Stragglers, jumps, no times, 2008 and far-future pickups, cut anywhere: the same counts."""
    rng = random.Random(seed)
    pickups = hostile(rng, rng.randrange(0, 1_500))
    cuts = [rng.randrange(0, len(pickups) + 1) for _ in range(rng.randrange(0, 6))]
    assert measured(pickups, cuts) == reference(pickups)


def test_edges_of_the_minute_and_of_the_maximum_bound() -> None:
    """60 s behind needs 60, 60.001 s needs 120; over a week behind for more than 1 %: None."""
    base = [START_MS + i * 1000 for i in range(99)]
    assert measured([*base, base[-1] - 60_000, base[-1] - 60_000], []).needed_s == 60
    assert measured([*base, base[-1] - 60_001, base[-1] - 60_001], []).needed_s == 120
    week = MAX_BOUND_S * 1000
    assert measured([START_MS + week + 1, START_MS, START_MS], []).needed_s is None
    assert measured([START_MS + week, START_MS, START_MS], []).needed_s == MAX_BOUND_S
    assert measured([], []) == Disorder(0, 0, 0)


def test_a_day_ahead_is_judged_against_each_blocks_arrival() -> None:
    """A trip two days past the first block's arrival counts when its own block arrives later,
    as the handler judges it by its record's arrival: it drags the watermark like any trip."""
    meter = DisorderMeter("dropoff")
    meter.note(np.array([START_MS], dtype=np.int64), START_MS)
    meter.note(np.array([START_MS + 2 * DAY_MS], dtype=np.int64), START_MS)  # dead-lettered
    meter.note(np.array([START_MS + 3 * DAY_MS], dtype=np.int64), START_MS + 2 * DAY_MS + 1)
    meter.note(np.array([START_MS + DAY_MS], dtype=np.int64), START_MS + 2 * DAY_MS + 1)
    assert meter.summary() == Disorder(3, 2 * 86_400, 2 * 86_400, "dropoff")  # none may lag
