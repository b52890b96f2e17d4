"""Event time: watermarks per shard, late trips never lost, the same verdicts on redelivery."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from taxi_stream.core.errors import Reason
from taxi_stream.core.timefmt import iso_utc
from taxi_stream.function.handler import HandlerConfig, TumblingWindowHandler
from taxi_stream.stores.memory import MemoryStore
from tests.support.disorder import (
    STREAM,
    Trip,
    disordered_trips,
    expected_late,
    parts,
    run_part,
    sums,
)

SHARD = "shardId-000000000000"
OOO_S = 300  # out-of-orderness: the 5 minutes of jitter are not late, the 1% delayed ones are


def config(**overrides: Any) -> HandlerConfig:
    """The event clock in 60 s windows, 5 minutes of out-of-orderness, overridable."""
    settings: dict[str, Any] = {"max_out_of_orderness_s": OOO_S, **overrides}
    return HandlerConfig(clock="event", window_seconds=60, **settings)


def play(store: MemoryStore, handler: TumblingWindowHandler, trips: list[Trip]) -> list[Any]:
    """Every shard's trips in window parts of 97 records; returns each part's final event."""
    finals = []
    for shard in sorted({t.shard_id for t in trips}):
        for n, records in enumerate(parts(trips, shard, 97)):
            finals.append(run_part(handler, records, shard, 1_000_000 + n * 60_000))
    return finals


def stored(store: MemoryStore) -> tuple[dict[tuple[str, int], tuple[int, ...]], dict[Any, int]]:
    """(the four sums, the late trips) per (vendor, window start), as the store holds them."""
    windows = store.windows()
    totals = {(w.vendor_id, w.window_start_ms): tuple(w.totals.as_list()[:4]) for w in windows}
    late = {(w.vendor_id, w.window_start_ms): w.totals.late_trips for w in windows}
    return totals, {key: n for key, n in late.items() if n}


def late_by_window(trips: list[Trip], late: set[str]) -> dict[tuple[str, int], int]:
    """How many of the late trips each (vendor, window start) holds, counted by hand."""
    out: dict[tuple[str, int], int] = {}
    for t in trips:
        if t.trip_id in late:
            key = (t.vendor, t.pickup_ms - t.pickup_ms % 60_000)
            out[key] = out.get(key, 0) + 1
    return out


@pytest.fixture(scope="module")
def trips() -> list[Trip]:
    """3,000 trips on two shards, up to 5 minutes out of order, 1% 15 to 40 minutes late."""
    return disordered_trips(seed=9, count=3_000, shards=(SHARD, "shardId-000000000001"))


@pytest.fixture(scope="module")
def late(trips: list[Trip]) -> set[str]:
    """The late trips by the rule, computed apart from the handler."""
    found = expected_late(trips, window_s=60, out_of_orderness_s=OOO_S, allowed_lateness_s=0)
    assert 15 <= len(found) <= 45  # about the 1% delayed, none of the merely jittered
    return found


def test_late_trips_still_count_and_each_window_says_how_many(
    trips: list[Trip], late: set[str]
) -> None:
    """With --late count, totals are plain sums over every trip; lateTrips per window by rule."""
    store = MemoryStore()
    play(store, TumblingWindowHandler(store, config()), trips)
    totals, late_trips = stored(store)
    assert totals == sums(trips, 60)
    assert late_trips == late_by_window(trips, late)
    assert store.counts() == (len(trips), 0)


def test_late_dead_letter_moves_exactly_the_late_trips(trips: list[Trip], late: set[str]) -> None:
    """With --late dead-letter, exactly the late trips are dead letters `late`; the rest count."""
    store = MemoryStore()
    play(store, TumblingWindowHandler(store, config(late="dead-letter")), trips)
    letters = store.dead_letters()
    by_sequence = {str(t.sequence): t.trip_id for t in trips}
    assert {by_sequence[d.origin.sequence_number] for d in letters} == late
    assert {d.reason for d in letters} == {Reason.LATE}
    totals, late_trips = stored(store)
    assert totals == sums([t for t in trips if t.trip_id not in late], 60)
    assert late_trips == {}


def test_a_redelivered_part_judges_the_same_trips_late(trips: list[Trip]) -> None:
    """A part read again from its start after its contributions and watermark were written (a
    crash before its checkpoint): the same trips are late, so none is counted and dead."""
    store = MemoryStore()
    handler = TumblingWindowHandler(store, config(late="dead-letter"))
    play(store, handler, trips)
    before = (stored(store), store.counts(), store.watermarks())
    last = list(parts(trips, SHARD, 97))[-1]
    run_part(handler, last, SHARD, 1_000_000 + (len(trips) // 2 // 97) * 60_000)
    assert (stored(store), store.counts(), store.watermarks()) == before
    counted, dead = store.counts()
    assert counted + dead == len(trips)


def test_the_watermark_item_names_the_part_that_raised_it(trips: list[Trip]) -> None:
    """The watermark item names the part that raised it: a later part starts from its value."""
    store = MemoryStore()
    play(store, TumblingWindowHandler(store, config()), trips)
    mark = store.watermark(STREAM, SHARD)
    assert mark is not None
    assert mark.start_for("another part") == mark.watermark_ms
    assert mark.previous_ms is not None
    assert mark.start_for(mark.part) == mark.previous_ms
    assert mark.previous_ms < mark.watermark_ms


@pytest.mark.parametrize(
    "extra",
    [{}, {"pickupLongitude": " -73.98"}],  # the clean form (fast path), a quirk (core rules)
    ids=["clean", "quirk"],
)
def test_dropoff_event_time_windows_trips_by_their_dropoff(extra: dict[str, Any]) -> None:
    """--event-time dropoff: dropoffDate picks the window, else pickup plus the duration."""
    base = {"vendorId": 1, "gcDistance": 1.0, "tripDuration": 120, **extra}
    with_dropoff = {**base, "pickupDate": "2024-11-01T08:59:30Z",
                    "dropoffDate": "2024-11-01T09:01:10Z"}  # fmt: skip
    without = {**base, "pickupDate": "2024-11-01T09:58:30Z"}  # + 120 s: 10:00:30
    store = MemoryStore()
    handler = TumblingWindowHandler(store, config(event_time="dropoff"))
    records = [
        {"kinesis": {"sequenceNumber": str(n), "approximateArrivalTimestamp": 1_730_455_200.0,
                     "data": base64.b64encode(json.dumps(trip).encode()).decode()}}
        for n, trip in enumerate((with_dropoff, without), start=1)
    ]  # fmt: skip
    run_part(handler, records, SHARD, 1_000_000)
    starts = [iso_utc(w.window_start_ms) for w in store.windows()]
    assert starts == ["2024-11-01T09:01:00Z", "2024-11-01T10:00:00Z"]


def test_trips_from_2008_and_2088_are_dead_letters_and_move_no_watermark() -> None:
    """A pickup before 2009 or over a day after its arrival is dead-lettered with its reason;
    the watermark stays with the trip of 2024 (else every later trip would be late)."""
    trips = ["2008-12-31T23:59:59Z", "2024-11-01T09:00:00Z", "2088-01-01T00:00:00Z"]
    arrival_s = 1_730_451_600.0  # 2024-11-01T09:00:00Z
    records = [
        {"kinesis": {"sequenceNumber": str(n), "approximateArrivalTimestamp": arrival_s,
                     "data": base64.b64encode(json.dumps(
                         {"vendorId": 1, "pickupDate": pickup, "gcDistance": 1.0,
                          "tripDuration": 60}).encode()).decode()}}
        for n, pickup in enumerate(trips, start=1)
    ]  # fmt: skip
    store = MemoryStore()
    run_part(TumblingWindowHandler(store, config(max_out_of_orderness_s=0)), records, SHARD, 0)
    reasons = {d.origin.sequence_number: d.reason for d in store.dead_letters()}
    assert reasons == {"1": Reason.EVENT_TOO_EARLY, "3": Reason.EVENT_IN_FUTURE}
    assert store.counts() == (1, 2)
    (mark,) = store.watermarks()
    assert iso_utc(mark.watermark_ms) == "2024-11-01T09:00:00Z"


def test_each_invocation_reports_the_late_trips_it_counted(
    trips: list[Trip], late: set[str]
) -> None:
    """The invocation stats (the metrics' source) count, over the run, exactly the late trips."""
    store = MemoryStore()
    handler = TumblingWindowHandler(store, config())
    seen: list[int] = []

    def invoke(event: Any) -> Any:
        response = handler(event)
        seen.append(handler.stats.late_trips)
        return response

    for shard in sorted({t.shard_id for t in trips}):
        for n, records in enumerate(parts(trips, shard, 97)):
            run_part(invoke, records, shard, 1_000_000 + n * 60_000)
    assert sum(seen) == len(late)
