"""A seeded out-of-order trip stream, Lambda-style parts over it, and the late rule by hand.

The trips of each shard are in rough pickup order: each is up to ``jitter_s`` earlier than its
place in the stream says, and a fraction of them ``delay_s`` later still (the stragglers that
must come late). ``expected_late`` applies DESIGN section 4's rule with a plain loop, written
apart from the handler, so the tests compare the two.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from taxi_stream.core.records import StreamRecord
from taxi_stream.core.timefmt import iso_utc
from taxi_stream.function.contract import KinesisEvent, WindowResponse
from taxi_stream.runner.events import kinesis_records, stream_arn, window_event

STREAM = "disorder-stream"
START_MS = 1_730_419_200_000  # 2024-11-01T00:00:00Z


@dataclass(frozen=True, slots=True)
class Trip:
    """One generated trip as the test knows it: where it goes and what it adds."""

    trip_id: str
    shard_id: str
    sequence: int
    vendor: str
    pickup_ms: int
    distance_milli: int
    duration_s: int
    passengers: int
    arrival_ms: int

    def wire(self) -> bytes:
        """The trip as our producer writes it."""
        return json.dumps(
            {
                "id": self.trip_id,
                "vendorId": int(self.vendor),
                "pickupDate": iso_utc(self.pickup_ms),
                "passengerCount": self.passengers,
                "gcDistance": self.distance_milli / 1000,
                "tripDuration": self.duration_s,
            }
        ).encode()


def disordered_trips(
    *,
    seed: int,
    count: int,
    shards: tuple[str, ...] = ("shardId-000000000000",),
    jitter_s: int = 300,
    late_fraction: float = 0.01,
    delay_s: tuple[int, int] = (900, 2400),
) -> list[Trip]:
    """``count`` trips over the shards, a second apart in stream order, seeded."""
    rng = random.Random(seed)
    trips = []
    for i in range(count):
        shard = shards[i % len(shards)]
        back_ms = rng.randint(0, jitter_s) * 1000
        if rng.random() < late_fraction:
            back_ms += rng.randint(*delay_s) * 1000
        place = START_MS + 3_600_000 + i * 1000
        trips.append(
            Trip(
                trip_id=f"t{i}",
                shard_id=shard,
                sequence=i + 1,
                vendor=str(rng.randint(1, 2)),
                pickup_ms=place - back_ms,
                distance_milli=rng.randint(100, 20_000),
                duration_s=rng.randint(60, 3000),
                passengers=rng.randint(1, 6),
                arrival_ms=place + 2_000,
            )
        )
    return trips


def expected_late(
    trips: list[Trip], *, window_s: int, out_of_orderness_s: int, allowed_lateness_s: int
) -> set[str]:
    """The ids of the late trips: behind their shard's watermark as of the record, in order."""
    late: set[str] = set()
    highest: dict[str, int] = {}
    for trip in sorted(trips, key=lambda t: t.sequence):
        window_end = (trip.pickup_ms // (window_s * 1000) + 1) * window_s * 1000
        seen = highest.get(trip.shard_id)
        if seen is not None and seen - out_of_orderness_s * 1000 >= window_end + (
            allowed_lateness_s * 1000
        ):
            late.add(trip.trip_id)
        highest[trip.shard_id] = max(seen or trip.pickup_ms, trip.pickup_ms)
    return late


def sums(trips: list[Trip], window_s: int) -> dict[tuple[str, int], tuple[int, int, int, int]]:
    """Per (vendor, window start): trips, distance, duration, passengers, summed plainly."""
    out: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for t in trips:
        cell = out[(t.vendor, t.pickup_ms - t.pickup_ms % (window_s * 1000))]
        for i, value in enumerate((1, t.distance_milli, t.duration_s, t.passengers)):
            cell[i] += value
    return {key: (a, b, c, d) for key, (a, b, c, d) in out.items()}


def parts(trips: list[Trip], shard_id: str, per_part: int) -> Iterator[list[dict[str, Any]]]:
    """The shard's records, ``per_part`` a window part, as Lambda's Kinesis event records."""
    mine = [t for t in trips if t.shard_id == shard_id]
    arn = stream_arn(STREAM)
    for at in range(0, len(mine), per_part):
        chunk = mine[at : at + per_part]
        records = [StreamRecord(str(t.sequence), t.arrival_ms, t.trip_id, t.wire()) for t in chunk]
        yield list(kinesis_records(records, shard_id, arn))  # type: ignore[arg-type]


def run_part(
    handler: Callable[[KinesisEvent], WindowResponse],
    records: list[dict[str, Any]],
    shard_id: str,
    window_start_ms: int,
) -> dict[str, Any]:
    """One window part: its records in two invokes, then the final invoke (records none).

    Returns the final invoke's event, so a test can deliver it again.
    """
    arn = stream_arn(STREAM)
    edges = {"window_start_ms": window_start_ms, "window_end_ms": window_start_ms + 60_000}
    state: dict[str, Any] | None = None
    half = len(records) // 2
    for chunk in (records[:half], records[half:]):
        event = window_event(chunk, shard_id=shard_id, arn=arn, state=state, **edges)  # type: ignore[arg-type]
        state = handler(event)["state"]
    final = window_event([], shard_id=shard_id, arn=arn, state=state, final=True, **edges)
    assert handler(final)["state"] == {}
    return dict(final)
