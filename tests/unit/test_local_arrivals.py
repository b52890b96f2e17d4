"""The embedded stream's arrival times come from its injected clock, one time per put."""

from __future__ import annotations

from pathlib import Path

from taxi_stream.streams.local import LocalStream
from tests.support.harness import START_MS, Clock


def test_each_put_stamps_its_records_with_the_clock_at_that_put(tmp_path: Path) -> None:
    """Records put at 00:00:00.000 and at 00:00:01.500 carry exactly those arrival times."""
    clock = Clock()
    stream = LocalStream(tmp_path / "stream.db", 1, clock=clock)
    stream.put_records([("k", b"first"), ("k", b"second")])
    clock.advance(1_500)
    stream.put_records([("k", b"third")])
    records = stream.read("shardId-000000000000", None, 10).records
    stream.close()
    assert [(r.data, r.arrival_ms) for r in records] == [
        (b"first", START_MS),
        (b"second", START_MS),
        (b"third", START_MS + 1_500),
    ]
