"""Reading ahead while the function runs: the mapping delivers exactly what it does without it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from taxi_stream.core.records import ReadResult, ShardInfo
from taxi_stream.runner.mapping import EventSourceMapping, MappingConfig
from taxi_stream.streams.local import LocalStream
from tests.support.harness import Harness
from tests.support.recording import RecordingHandler, carries, sequences


class Reads:
    """The embedded stream, reading ahead or not, noting each read made while a call runs."""

    def __init__(self, stream: LocalStream, *, ahead: bool) -> None:
        self.stream = stream
        self.repeatable_reads = ahead
        self.calling = False
        self.during_calls: list[tuple[str, str | None, int]] = []
        self.count = 0  # reads made so far
        self.made = threading.Condition()  # notified at each read

    @property
    def name(self) -> str:
        """The stream's name."""
        return self.stream.name

    def list_shards(self) -> list[ShardInfo]:
        """The stream's shards."""
        return self.stream.list_shards()

    def read(self, shard_id: str, after: str | None, limit: int) -> ReadResult:
        """The stream's read, noted when a call is running."""
        if self.calling:
            self.during_calls.append((shard_id, after, limit))
        result = self.stream.read(shard_id, after, limit)
        with self.made:
            self.count += 1
            self.made.notify_all()
        return result


BOUND_S = 30.0  # the longest the function waits for the read it expects

Scenario = Callable[[Harness, RecordingHandler], None]


def put_keys(harness: Harness, count: int, prefix: str = "k") -> None:
    """``count`` records of distinct keys (over every shard), payloads numbered."""
    entries = [(f"{prefix}{n}", b'{"n": %d}' % n) for n in range(count)]
    harness.stream.put_records(entries)


def run(tmp: Path, scenario: Scenario, *, ahead: bool, shards: int, **settings: Any) -> object:
    """Everything the function saw and the mapping ended with, reading ahead or not."""
    harness = Harness(tmp, shards=shards)
    reads = Reads(harness.stream, ahead=ahead)
    handler = RecordingHandler()

    def call(event: Any, context: Any) -> Any:
        reads.calling = True
        try:
            return handler(event, context)
        finally:
            reads.calling = False

    scenario(harness, handler)
    mapping = EventSourceMapping(
        reads, call, harness.store, MappingConfig(**settings), now_ms=harness.clock
    )
    for _ in range(40):
        mapping.poll()
        harness.clock.advance(1_500)
    seen = [
        (sequences(e), e.get("window"), e.get("state"), e.get("isFinalInvokeForWindow"))
        for e in handler.events
    ]
    ended = [(s.checkpoint, s.stats) for s in mapping.snapshot()]
    harness.close()
    return seen, ended, mapping.discarded, bool(reads.during_calls)


def plain(harness: Harness, handler: RecordingHandler) -> None:
    """25 records, the function never failing."""
    put_keys(harness, 25)


def failing(harness: Harness, handler: RecordingHandler) -> None:
    """25 records; the second and fifth calls raise."""
    put_keys(harness, 25)
    calls = iter(range(100))
    handler.fail(when=lambda _event: next(calls) in {1, 4}, times=None)


def partly_failing(harness: Harness, handler: RecordingHandler) -> None:
    """25 records; the call carrying the 7th record reports it failed, twice."""
    put_keys(harness, 25)
    seventh = harness.stream.read("shardId-000000000000", None, 7).records[-1].sequence_number
    handler.fail_items(seventh, when=carries(seventh), times=2)


def appending(harness: Harness, handler: RecordingHandler) -> None:
    """7 records; each of the first three calls appends 4 more while it runs."""
    put_keys(harness, 7)
    original = handler.on
    rounds = iter(range(100))

    def add_more(event: Any) -> Any:
        put_keys(harness, 4, prefix=f"r{next(rounds)}-")
        return {"state": dict(event.get("state") or {}), "batchItemFailures": []}

    original(add_more, times=3)


SCENARIOS = {"plain": plain, "failing": failing, "partly": partly_failing, "appending": appending}
SETTINGS = [
    {"batch_size": 4, "window_seconds": 60, "report_batch_item_failures": True},
    {"batch_size": 3, "window_seconds": 0, "bisect_batch_on_function_error": True},
    {"batch_size": 5, "window_seconds": 1, "maximum_retry_attempts": 1},
]


@pytest.mark.parametrize("name", sorted(SCENARIOS))
@pytest.mark.parametrize("settings", SETTINGS, ids=["windowed", "bisecting", "retry-once"])
@pytest.mark.parametrize("shards", [1, 3])
def test_reading_ahead_changes_nothing_the_function_or_the_checkpoints_see(
    tmp_path: Path, name: str, settings: dict[str, Any], shards: int
) -> None:
    """Every event, state, checkpoint and count is the same as without reading ahead."""
    scenario = SCENARIOS[name]
    with_ahead = run(tmp_path / "ahead", scenario, ahead=True, shards=shards, **settings)
    without = run(tmp_path / "plain", scenario, ahead=False, shards=shards, **settings)
    assert with_ahead[:3] == without[:3]
    assert without[3] is False  # the plain reader is never read while a call runs


def test_the_next_batch_is_read_while_the_function_runs(tmp_path: Path) -> None:
    """With more records than a batch, the second read is made before the first call returns."""
    harness = Harness(tmp_path)
    put_keys(harness, 10)
    reads = Reads(harness.stream, ahead=True)
    seen: list[bool] = []

    def call(event: Any, context: Any) -> Any:
        if not seen:  # the first call: the mapping has read once, and is to read again now
            with reads.made:
                seen.append(reads.made.wait_for(lambda: reads.count >= 2, timeout=BOUND_S))
        return {"state": {}, "batchItemFailures": []}

    config = MappingConfig(batch_size=4, window_seconds=0)
    mapping = EventSourceMapping(reads, call, harness.store, config, now_ms=harness.clock)
    mapping.poll()
    harness.close()
    assert seen == [True]
