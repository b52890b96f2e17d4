"""The handler's event clock: trips into event-time windows under their shard's watermark.

``fold`` adds the trips of one window part, in shard order. Before a trip is added it is
checked against the range rule (an event time before 2009-01-01 in New York, when TLC records
began, or more than a day after the record's arrival, when that is known (from 2009 on), is a
dead letter: such a trip would drag the watermark years ahead) and then against the part's
running
watermark: a trip whose window ended (plus the allowed lateness) at or before that watermark is
late. A late trip is added to its window and counted as late, or, with the dead-letter policy,
rejected with reason ``late``. Then the watermark rises to the trip's event time minus the
out-of-orderness.

The part's watermark starts from the store's (read once when the part begins, see
``Watermark.start_for``) and travels in the part's state, so every invoke of a part, and every
redelivery of it, judges the same trips late.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from taxi_stream.core import watermarks
from taxi_stream.core.errors import Reason, RecordError
from taxi_stream.core.timefmt import iso_utc
from taxi_stream.core.watermarks import LatePolicy, Watermark
from taxi_stream.core.windows import LAST_INSTANT_MS, window_start_ms
from taxi_stream.function.codec import TripValues
from taxi_stream.function.state import LATE, Part

# TLC records begin at 2009-01-01 00:00 New York time (EST, UTC-5); the value lives in core
FIRST_EVENT_MS: Final = watermarks.FIRST_EVENT_MS
MAX_AHEAD_MS: Final = watermarks.MAX_AHEAD_MS  # this far past a record's arrival is absurd


@dataclass(frozen=True, slots=True)
class EventRules:
    """The event clock's settings, in ms: windows, out-of-orderness, lateness, late policy."""

    size_ms: int
    out_of_orderness_ms: int
    allowed_lateness_ms: int
    late: LatePolicy


def begin(part: Part, stored: Watermark | None, first_sequence: str) -> None:
    """Start a part's watermark from the store's, as its first record's part sees it."""
    start = None if stored is None else stored.start_for(first_sequence)
    part.watermark_start_ms = start
    part.watermark_ms = start


def fold(part: Part, rules: EventRules, trip: TripValues, arrival_ms: int) -> RecordError | None:
    """Add one trip to its event-time window; the RecordError of one that becomes a dead letter."""
    vendor, event_ms, distance, duration, passengers, fare, tip, amount = trip
    why = _out_of_range(event_ms, arrival_ms)
    if why is not None:
        return why
    start = window_start_ms(event_ms, rules.size_ms // 1000)
    mark = part.watermark_ms
    late = mark is not None and mark >= start + rules.size_ms + rules.allowed_lateness_ms
    if late and rules.late is LatePolicy.DEAD_LETTER:
        return RecordError(
            Reason.LATE,
            f"its window {iso_utc(start)} had closed: the shard's watermark was"
            f" {iso_utc(mark or 0)}",
        )
    part.last_arrival_ms = max(part.last_arrival_ms, arrival_ms)
    candidate = event_ms - rules.out_of_orderness_ms
    if mark is None or candidate > mark:
        part.watermark_ms = candidate
    key = (vendor, start)
    cell = part.cells.get(key)
    if cell is None:
        cell = part.cells[key] = part.new_cell()
    cell[0] += 1
    cell[1] += distance
    cell[2] += duration
    cell[3] += passengers
    cell[4] += fare
    cell[5] += tip
    cell[6] += amount
    if late:
        cell[LATE] += 1
    return None


def watermark_of(part: Part, stream: str, shard: str) -> Watermark | None:
    """The watermark the part's contributions are written with (None: the part saw no trip)."""
    if part.watermark_ms is None or part.first_sequence is None:
        return None
    return Watermark(
        stream,
        shard,
        part.watermark_ms,
        part.first_sequence,
        part.watermark_start_ms,
        part.last_arrival_ms,
    )


def _out_of_range(event_ms: int, arrival_ms: int) -> RecordError | None:
    if event_ms < FIRST_EVENT_MS:
        return RecordError(
            Reason.EVENT_TOO_EARLY,
            f"event time {iso_utc(event_ms)} is before 2009-01-01 00:00 New York time,"
            " when TLC records begin",
        )
    ahead = arrival_ms >= FIRST_EVENT_MS and event_ms > arrival_ms + MAX_AHEAD_MS
    if ahead or event_ms >= LAST_INSTANT_MS:
        return RecordError(
            Reason.EVENT_IN_FUTURE,
            f"event time {iso_utc(event_ms)} is over a day after the record arrived",
        )
    return None
