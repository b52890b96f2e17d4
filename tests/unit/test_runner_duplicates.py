"""At-least-once delivery: each batch delivered twice, in shuffled order, gives identical totals."""

from __future__ import annotations

import copy
import json
import random
from collections import defaultdict
from pathlib import Path
from typing import Any

from taxi_stream.function.handler import HandlerConfig, TumblingWindowHandler
from taxi_stream.runner.mapping import Handler, InProcess
from taxi_stream.sources.simulator import Simulator, SimulatorConfig
from taxi_stream.stores.sqlite import SQLiteStore, SQLiteUnitOfWork
from tests.support.harness import Harness

WINDOW_S = 10
SEED = 2024


def totals(store: SQLiteStore) -> dict[tuple[str, int], tuple[int, int, int, int]]:
    """Stored totals per (vendor, window start)."""
    return {
        (w.vendor_id, w.window_start_ms): (
            w.totals.trip_count,
            w.totals.distance_milli,
            w.totals.duration_s,
            w.totals.passenger_count,
        )
        for w in store.windows()
    }


def reference(
    puts: list[tuple[int, list[bytes]]],
) -> dict[tuple[str, int], tuple[int, int, int, int]]:
    """Per (vendor, arrival window): plain Python over the same trips."""
    out: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for arrival_ms, records in puts:
        start = arrival_ms - arrival_ms % (WINDOW_S * 1000)
        for data in records:
            trip = json.loads(data)
            cell = out[(str(trip["vendorId"]), start)]
            cell[0] += 1
            cell[1] += round(trip["googleDistance"] * 1000)
            cell[2] += trip["tripDuration"]
            cell[3] += trip["passengerCount"]
    return {key: (c[0], c[1], c[2], c[3]) for key, c in out.items()}


def test_every_batch_twice_in_shuffled_order_gives_identical_totals(tmp_path: Path) -> None:
    """AWS: "Lambda will process each record at least once, but doesn't guarantee that each
    record will be processed only once." """
    harness = Harness(tmp_path, shards=2)
    simulator = Simulator(SimulatorConfig(seed=SEED))
    puts = []
    for _ in range(12):
        entries = simulator.batch(250).entries
        harness.stream.put_records(entries)
        puts.append((harness.clock(), [data for _, data in entries]))
        harness.clock.advance(4_000)
    events: list[dict[str, Any]] = []
    config = HandlerConfig(window_seconds=WINDOW_S)

    def recorded(work: SQLiteUnitOfWork) -> Handler:
        ours = TumblingWindowHandler(work, config)

        def handle(event: dict[str, Any], context: Any) -> Any:
            events.append(copy.deepcopy(event))
            return ours(event, context)

        return handle

    mapping = harness.mapping(InProcess(recorded), batch_size=37, window_seconds=WINDOW_S)
    harness.settle(mapping, drain=True)
    replay = SQLiteStore(tmp_path / "replay.db")
    theirs = TumblingWindowHandler(replay, HandlerConfig(window_seconds=WINDOW_S))
    deliveries = events * 2
    random.Random(SEED).shuffle(deliveries)
    for event in deliveries:
        theirs(copy.deepcopy(event), None)
    expected = reference(puts)
    assert sum(count for count, *_ in expected.values()) == 3_000
    assert totals(harness.store) == expected
    assert totals(replay) == expected
    assert replay.counts() == harness.store.counts() == (3_000, 0)
    replay.close()
    harness.close()
