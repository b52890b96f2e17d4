"""Totals are bit-identical whatever the batch size, the shard count and the order of delivery.

The expected totals are plain-Python sums over the records (DESIGN section 3 rules), never the
code under test. Arrival times come from an injected clock, so every trip's window is known.
"""

from __future__ import annotations

import base64
import json
import random
import tempfile
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conftest import reference_cents
from tests.support.harness import settle

from taxi_stream.app.wiring import in_process_handler
from taxi_stream.core.totals import Totals as TotalsRecord
from taxi_stream.core.totals import merge
from taxi_stream.function.handler import HandlerConfig, TumblingWindowHandler
from taxi_stream.runner.mapping import EventSourceMapping, MappingConfig
from taxi_stream.sources.simulator import Simulator, SimulatorConfig
from taxi_stream.stores.sqlite import SQLiteStore
from taxi_stream.streams.local import LocalStream

VENDORS = ("1", "2", "3")
RECORDS = [
    data for _, data in Simulator(SimulatorConfig(seed=7, vendors=VENDORS)).batch(300).entries
]
T0_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
ARN = "arn:aws:kinesis:us-east-1:000000000000:stream/property"

Key = tuple[str, int]  # (vendor, window start ms)
Totals = dict[Key, list[int]]


def add_trip(totals: Totals, data: bytes, window_ms: int) -> None:
    """Add one wire record to plain-Python totals: trips, milli-miles, seconds, passengers,
    then fare, tip and total amount in cents."""
    trip = json.loads(data)
    miles = trip["googleDistance"] if trip.get("googleDistance") is not None else trip["gcDistance"]
    seconds = (
        trip["tripDuration"] if trip.get("tripDuration") is not None else trip["googleDuration"]
    )
    cell = totals.setdefault((str(trip["vendorId"]), window_ms), [0] * 7)
    cell[0] += 1
    cell[1] += round(miles * 1000)
    cell[2] += seconds
    cell[3] += trip.get("passengerCount") or 0
    for k, name in enumerate(("fareAmount", "tipAmount", "totalAmount"), start=4):
        cell[k] += reference_cents(trip.get(name))


def window_of(arrival_ms: int, window_s: int) -> int:
    """Start of the arrival-time tumbling window, aligned to the epoch."""
    return arrival_ms - arrival_ms % (window_s * 1000)


def stored(store: SQLiteStore) -> Totals:
    """What the store holds, per (vendor, window)."""
    return {
        (w.vendor_id, w.window_start_ms): [
            w.totals.trip_count,
            w.totals.distance_milli,
            w.totals.duration_s,
            w.totals.passenger_count,
            w.totals.fare_cents,
            w.totals.tip_cents,
            w.totals.amount_cents,
        ]
        for w in store.windows()
    }


def chunks(items: Sequence[bytes], size: int) -> Iterator[Sequence[bytes]]:
    """Consecutive slices of at most ``size`` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


@settings(max_examples=25, deadline=None)
@given(
    shards=st.integers(min_value=1, max_value=8),
    batch_size=st.integers(min_value=1, max_value=400),
    window_s=st.integers(min_value=1, max_value=5),
    put_size=st.integers(min_value=1, max_value=120),
    step_ms=st.integers(min_value=0, max_value=1_500),
)
def test_runner_totals_do_not_depend_on_shards_or_batch_size(
    shards: int, batch_size: int, window_s: int, put_size: int, step_ms: int
) -> None:
    """Through LocalStream and the runner, totals per (vendor, window) equal the plain sums."""
    expected: Totals = {}
    now = [T0_MS]
    with tempfile.TemporaryDirectory() as tmp:
        stream = LocalStream(Path(tmp) / "stream.db", shards, clock=lambda: now[0])
        for index, chunk in enumerate(chunks(RECORDS, put_size)):
            now[0] = T0_MS + index * step_ms
            entries = [(f"{index}-{i}", data) for i, data in enumerate(chunk)]
            assert stream.put_records(entries).sent == len(chunk)
            for data in chunk:
                add_trip(expected, data, window_of(now[0], window_s))
        store = SQLiteStore(Path(tmp) / "store.db")
        handler = in_process_handler(HandlerConfig(window_seconds=window_s))
        config = MappingConfig(batch_size=batch_size, window_seconds=window_s)
        settle(EventSourceMapping(stream, handler, store, config, now_ms=lambda: now[0]))
        got, counts = stored(store), store.counts()
        store.close()
        stream.close()
    assert got == expected
    assert counts == (len(RECORDS), 0)


def kinesis_record(shard: str, sequence: int, arrival_ms: int, data: bytes) -> dict[str, Any]:
    """One record of a Lambda Kinesis event, as AWS documents it."""
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": str(sequence),
            "sequenceNumber": str(sequence),
            "data": base64.b64encode(data).decode("ascii"),
            "approximateArrivalTimestamp": arrival_ms / 1000,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{shard}:{sequence}",
        "eventName": "aws:kinesis:record",
        "awsRegion": "us-east-1",
        "eventSourceARN": ARN,
    }


def iso(ms: int) -> str:
    """Epoch ms (whole seconds) as ISO-8601 UTC, as Lambda writes window bounds."""
    return datetime.fromtimestamp(ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def part_events(
    shard: str, window_ms: int, window_s: int, batches: list[list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """The invocations of one shard's part of a window: its batches, then the final invoke."""
    window = {"start": iso(window_ms), "end": iso(window_ms + window_s * 1000)}
    events = [{"Records": b, "isFinalInvokeForWindow": False} for b in batches]
    events.append({"Records": [], "isFinalInvokeForWindow": True})
    for event in events:
        event.update(window=window, shardId=shard, eventSourceARN=ARN)
        event["isWindowTerminatedEarly"] = False
    return events


def split(rnd: random.Random, items: list[Any], max_size: int) -> list[list[Any]]:
    """Consecutive pieces of random sizes 1..max_size covering ``items``."""
    pieces, start = [], 0
    while start < len(items):
        size = rnd.randint(1, max_size)
        pieces.append(items[start : start + size])
        start += size
    return pieces


def regrouped_parts(
    rnd: random.Random, window_s: int, step_ms: int, max_parts: int
) -> tuple[list[list[dict[str, Any]]], Totals]:
    """Each window's records shuffled and split into shard parts of random batches; the totals."""
    by_window: dict[int, list[tuple[int, int, bytes]]] = {}
    expected: Totals = {}
    for index, data in enumerate(RECORDS):
        arrival = T0_MS + index * step_ms
        by_window.setdefault(window_of(arrival, window_s), []).append((index + 1, arrival, data))
        add_trip(expected, data, window_of(arrival, window_s))
    parts = []
    for window_ms, records in by_window.items():
        rnd.shuffle(records)
        part_size = -(-len(records) // rnd.randint(1, max_parts))
        for piece in split(rnd, records, part_size):
            shard = f"shardId-{len(parts):012d}"
            events = [kinesis_record(shard, *record) for record in piece]
            parts.append(part_events(shard, window_ms, window_s, split(rnd, events, 60)))
    return parts, expected


def deliver(handler: TumblingWindowHandler, rnd: random.Random, parts: list[Any]) -> None:
    """Invoke every part's events in order, the parts interleaved at random, state carried."""
    pending = [(iter(events), {}) for events in parts]
    while pending:
        at = rnd.randrange(len(pending))
        events, state = pending[at]
        event = next(events, None)
        if event is None:
            pending.pop(at)
            continue
        response = handler({**event, "state": state}, None)
        assert response["batchItemFailures"] == []
        state = json.loads(json.dumps(response["state"]))  # Lambda carries state as JSON
        pending[at] = (events, state)


@settings(max_examples=25, deadline=None)
@given(
    rnd=st.randoms(use_true_random=False),
    window_s=st.integers(min_value=1, max_value=5),
    step_ms=st.integers(min_value=0, max_value=1_500),
    max_parts=st.integers(min_value=1, max_value=6),
    redelivered=st.integers(min_value=0, max_value=3),
)
def test_handler_totals_do_not_depend_on_grouping_order_or_redelivery(
    rnd: random.Random, window_s: int, step_ms: int, max_parts: int, redelivered: int
) -> None:
    """Events of shuffled, regrouped records, some parts delivered twice: totals are exact."""
    parts, expected = regrouped_parts(rnd, window_s, step_ms, max_parts)
    parts += rnd.sample(parts, min(redelivered, len(parts)))  # at-least-once delivery
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "store.db")
        deliver(TumblingWindowHandler(store, HandlerConfig(window_seconds=window_s)), rnd, parts)
        got, counts = stored(store), store.counts()
        store.close()
    assert got == expected
    assert counts == (len(RECORDS), 0)


FIELDS = len(TotalsRecord().as_list())  # every sum, late trips included
_signed_totals = st.lists(st.integers(-(10**12), 10**12), min_size=FIELDS, max_size=FIELDS)
_keyed_parts = st.lists(
    st.tuples(st.sampled_from(VENDORS), st.sampled_from([0, 60_000]), _signed_totals),
    max_size=12,
)


@settings(max_examples=200, deadline=None)
@given(parts=_keyed_parts, data=st.data())
def test_merge_of_every_field_ignores_order_and_grouping(
    parts: list[tuple[str, int, list[int]]], data: st.DataObject
) -> None:
    """Merging keyed totals (money signed: refunds) in any order and grouping gives, field by
    field, the plain sums of the parts."""
    expected: dict[Key, list[int]] = {}
    for vendor, start, values in parts:
        cell = expected.setdefault((vendor, start), [0] * FIELDS)
        for k, value in enumerate(values):
            cell[k] += value
    shuffled = data.draw(st.permutations(parts))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(shuffled)), max_size=4)))
    groups = [shuffled[a:b] for a, b in zip([0, *cuts], [*cuts, len(shuffled)], strict=True)]
    merged_groups = [merge({(v, s): TotalsRecord(*t)} for v, s, t in group) for group in groups]
    merged = merge(merged_groups)
    assert {key: totals.as_list() for key, totals in merged.items()} == expected
