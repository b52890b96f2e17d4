"""A deeply nested record between good trips does not stall its shard under the real runner."""

from __future__ import annotations

import json
from pathlib import Path

from taxi_stream.app.wiring import in_process_handler
from taxi_stream.function.handler import HandlerConfig
from taxi_stream.sources.simulator import Simulator, SimulatorConfig
from tests.conftest import reference_totals
from tests.support.harness import Harness
from tests.support.hostile import DEEP_ARRAYS, DEEP_OBJECTS

WINDOW_S = 10


def test_good_trips_behind_a_deeply_nested_record_are_counted(tmp_path: Path) -> None:
    """Embedded stream, EventSourceMapping, our handler, SQLite store, retries without end: the
    issue's two records become dead letters and every good trip before and after them counts."""
    harness = Harness(tmp_path)
    try:
        simulator = Simulator(SimulatorConfig(seed=11))
        before = [data for _, data in simulator.batch(40).entries]
        after = [data for _, data in simulator.batch(60).entries]
        harness.put(len(before), data=before.__getitem__)
        bad = harness.put(2, data=[DEEP_ARRAYS, DEEP_OBJECTS].__getitem__)
        harness.clock.advance(3_000)
        harness.put(len(after), data=after.__getitem__)
        handler = in_process_handler(HandlerConfig(window_seconds=WINDOW_S))
        mapping = harness.mapping(handler, batch_size=25, window_seconds=WINDOW_S)
        harness.settle(mapping, drain=True)
        assert [s.stats.last_error for s in mapping.snapshot()] == [None]
        letters = harness.store.dead_letters()
        assert [(d.origin.sequence_number, d.reason) for d in letters] == [
            (bad[0], "too_deep"),
            (bad[1], "too_deep"),
        ]
        counted = {}
        for w in harness.store.windows():
            old = counted.get(w.vendor_id, (0,) * 7)
            sums = w.totals.as_list()[:7]  # the arrival clock: no late trips to compare
            counted[w.vendor_id] = tuple(map(sum, zip(old, sums, strict=True)))
        assert counted == reference_totals([json.loads(data) for data in before + after])
        assert harness.failure_records() == []
    finally:
        harness.close()
