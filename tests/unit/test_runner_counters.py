"""The runner's per-shard counters that metrics read: function errors and retries."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from taxi_stream.core.errors import StoreError
from taxi_stream.core.records import ReadResult
from taxi_stream.runner.mapping import EventSourceMapping
from tests.support.harness import Harness, snapshot_of
from tests.support.recording import RecordingHandler


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    """A one-shard embedded stream and a store on tmp_path, with a settable clock."""
    h = Harness(tmp_path)
    yield h
    h.close()


def retry_now(harness: Harness, mapping: EventSourceMapping) -> None:
    """Let the clock reach the shard's next retry, then poll."""
    harness.clock.ms = max(harness.clock(), snapshot_of(mapping).retry_at_ms)
    mapping.poll()


def test_each_failed_invocation_is_a_function_error_and_a_retry(harness: Harness) -> None:
    """Three failures, then success: 4 invocations, 3 function errors, 3 retries."""
    handler = RecordingHandler()
    harness.put(3)
    mapping = harness.mapping(handler, batch_size=3, window_seconds=0)
    handler.fail(times=3)
    for _ in range(4):
        retry_now(harness, mapping)
    stats = snapshot_of(mapping).stats
    assert (stats.invocations, stats.function_errors, stats.retries) == (4, 3, 3)
    assert stats.records == 3


def test_a_batch_out_of_retries_is_discarded_not_retried(harness: Harness) -> None:
    """MaximumRetryAttempts 1: two failures, one retry, then the batch is discarded."""
    handler = RecordingHandler()
    harness.put(2)
    mapping = harness.mapping(handler, batch_size=2, window_seconds=0, maximum_retry_attempts=1)
    handler.fail(times=5)
    for _ in range(3):
        retry_now(harness, mapping)
    stats = snapshot_of(mapping).stats
    assert (stats.function_errors, stats.retries, stats.discarded_records) == (2, 1, 2)


def test_bisected_halves_are_retries(harness: Harness) -> None:
    """BisectBatchOnFunctionError: the failed batch's halves are both tried again."""
    handler = RecordingHandler()
    harness.put(4)
    mapping = harness.mapping(
        handler, batch_size=4, window_seconds=0, bisect_batch_on_function_error=True
    )
    handler.fail(times=1)
    for _ in range(3):
        retry_now(harness, mapping)
    stats = snapshot_of(mapping).stats
    assert (stats.function_errors, stats.retries, stats.records) == (1, 1, 4)


def test_a_failing_stream_is_retried_but_no_function_error(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read that fails is a retry of the shard, not the function's error."""
    handler = RecordingHandler()
    harness.put(1)
    mapping = harness.mapping(handler, window_seconds=0)
    calls = []

    def failing_read(shard_id: str, after: str | None, limit: int) -> ReadResult:
        calls.append(shard_id)
        raise StoreError("disk unplugged")

    with monkeypatch.context() as patch:
        patch.setattr(harness.stream, "read", failing_read)
        mapping.poll()
    assert calls
    retry_now(harness, mapping)
    stats = snapshot_of(mapping).stats
    assert (stats.function_errors, stats.retries, stats.records) == (0, 1, 1)
