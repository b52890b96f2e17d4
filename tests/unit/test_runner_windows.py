"""The local event source mapping: tumbling windows, batching and checkpoints, as AWS documents."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from taxi_stream.core.timefmt import iso_utc
from tests.support.harness import START_MS, Harness, snapshot_of
from tests.support.recording import RecordingHandler, sequences


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    """A one-shard embedded stream and a store on tmp_path, with a settable clock."""
    h = Harness(tmp_path)
    yield h
    h.close()


@pytest.fixture
def handler() -> RecordingHandler:
    """A handler that records every event and counts records into its state."""
    return RecordingHandler()


def test_records_of_a_window_arrive_in_batches_each_with_the_state(
    harness: Harness, handler: RecordingHandler
) -> None:
    """AWS: "You can receive these records in multiple batches, each as a separate invocation.
    Each invocation receives a state." """
    harness.put(10)
    mapping = harness.mapping(handler, batch_size=4, window_seconds=60)
    for _ in range(3):
        mapping.poll()
    events = handler.record_events
    assert [len(e["Records"]) for e in events] == [4, 4, 2]
    assert [e["state"] for e in events] == [{}, {"records": 4}, {"records": 8}]
    assert {e["window"]["start"] for e in events} == {iso_utc(START_MS)}
    assert not handler.finals


def test_window_boundaries_come_from_arrival_time(
    harness: Harness, handler: RecordingHandler
) -> None:
    """AWS: "Lambda determines tumbling window boundaries based on the time when records were
    inserted into the stream." """
    first = harness.put(3)
    harness.clock.advance(59_999)
    first += harness.put(2)
    harness.clock.advance(1)
    second = harness.put(2)
    mapping = harness.mapping(handler, window_seconds=60)
    harness.settle(mapping, drain=True)
    events = handler.record_events
    assert [sequences(e) for e in events] == [first, second]
    assert events[0]["window"] == {"start": iso_utc(START_MS), "end": iso_utc(START_MS + 60_000)}
    assert events[1]["window"]["start"] == iso_utc(START_MS + 60_000)


def test_final_invoke_closes_the_window_and_drops_its_state(
    harness: Harness, handler: RecordingHandler
) -> None:
    """AWS: "At the end of the window, the flag isFinalInvokeForWindow is set to true to indicate
    that this is the final state and that it's ready for processing." """
    harness.put(3)
    harness.clock.advance(60_000)
    harness.put(1)
    mapping = harness.mapping(handler, window_seconds=60)
    for _ in range(3):
        mapping.poll()
    first, final, next_window = handler.events
    assert final["isFinalInvokeForWindow"] is True
    assert final["Records"] == []
    assert final["state"] == {"records": 3}
    assert final["window"] == first["window"]
    assert next_window["state"] == {}
    assert next_window["isFinalInvokeForWindow"] is False


def test_idle_window_closes_after_the_wait(harness: Harness, handler: RecordingHandler) -> None:
    """AWS: "When no new records are being added to the current window, Lambda waits for up to
    2 minutes before assuming that the window is over." """
    harness.put(2)
    mapping = harness.mapping(handler, window_seconds=60, idle_close_s=30)
    mapping.poll()
    harness.clock.advance(60_000 + 30_000 - 1)
    mapping.poll()
    assert not handler.finals
    harness.clock.advance(1)
    mapping.poll()
    assert len(handler.finals) == 1
    assert snapshot_of(mapping).checkpoint.window_start_ms is None


def test_state_over_1_mb_terminates_the_window_early(
    harness: Harness, handler: RecordingHandler
) -> None:
    """AWS: "Your state can be a maximum of 1 MB per shard. If it exceeds that size, Lambda
    terminates the window early." """
    harness.put(2)
    mapping = harness.mapping(handler, batch_size=1, window_seconds=60)
    big = {"blob": "x" * 1_048_576}
    handler.respond({"state": big})
    for _ in range(3):
        mapping.poll()
    first, early, second = handler.events
    assert early["isWindowTerminatedEarly"] is True
    assert early["isFinalInvokeForWindow"] is False
    assert early["state"] == big
    assert early["Records"] == []
    assert second["window"] == first["window"]
    assert second["state"] == {}
    assert len(second["Records"]) == 1


def test_response_without_state_is_a_failed_invocation(
    harness: Harness, handler: RecordingHandler
) -> None:
    """AWS: "If the response does not contain a state property, Lambda considers this a failed
    invocation." """
    seqs = harness.put(3)
    mapping = harness.mapping(handler, window_seconds=60)
    handler.respond({"batchItemFailures": []})
    mapping.poll()
    failed = snapshot_of(mapping)
    assert failed.stats.failures == 1
    assert failed.checkpoint.position is None
    harness.clock.advance(failed.retry_at_ms - harness.clock())
    mapping.poll()
    assert [sequences(e) for e in handler.record_events] == [seqs, seqs]
    assert snapshot_of(mapping).checkpoint.position == seqs[-1]


def test_no_tumbling_window_when_the_size_is_0(harness: Harness, handler: RecordingHandler) -> None:
    """AWS: "A value of 0 seconds indicates no tumbling window." """
    harness.put(3)
    handler.respond(None)
    mapping = harness.mapping(handler, window_seconds=0)
    harness.settle(mapping, drain=True)
    (event,) = handler.events
    assert set(event) == {"Records"}
    assert snapshot_of(mapping).stats.failures == 0


def test_batch_size_caps_the_records_of_an_invocation(
    harness: Harness, handler: RecordingHandler
) -> None:
    """AWS: "BatchSize: The maximum number of records in each batch that Lambda pulls from your
    stream or queue and sends to your function." """
    harness.put(10)
    mapping = harness.mapping(handler, batch_size=3, window_seconds=0)
    harness.settle(mapping)
    assert [len(e["Records"]) for e in handler.events] == [3, 3, 3, 1]


def test_batching_window_gathers_until_the_batch_is_full_or_the_window_expires(
    harness: Harness, handler: RecordingHandler
) -> None:
    """AWS: "Before invoking the function, Lambda continues to read records from the event source
    until it has gathered a full batch, the batching window expires, or the batch reaches the
    payload limit of 6 MB." """
    mapping = harness.mapping(handler, batch_size=5, window_seconds=0, maximum_batching_window_s=10)
    harness.put(2)
    mapping.poll()
    assert handler.events == []
    harness.clock.advance(5_000)
    harness.put(3)
    mapping.poll()
    assert [len(e["Records"]) for e in handler.events] == [5]
    harness.put(1)
    harness.clock.advance(9_999)
    mapping.poll()
    assert len(handler.events) == 1
    harness.clock.advance(1)
    mapping.poll()
    assert [len(e["Records"]) for e in handler.events] == [5, 1]


def test_a_batch_never_exceeds_the_6_mb_payload(
    harness: Harness, handler: RecordingHandler
) -> None:
    """AWS: "Lambda passes all of the records in the batch to the function in a single call, up
    to the payload limit for synchronous invocation (6 MB)." """
    seqs = harness.put(12, data=lambda i: bytes([65 + i]) * 900_000)
    mapping = harness.mapping(handler, batch_size=100, window_seconds=60)
    harness.settle(mapping, drain=True)
    batches = handler.record_events
    assert len(batches) > 1
    assert [s for e in batches for s in sequences(e)] == seqs
    assert all(len(json.dumps(e).encode()) <= 6_291_456 for e in handler.events)


def test_a_restart_resumes_after_the_checkpoint_with_the_window_state(
    harness: Harness, handler: RecordingHandler
) -> None:
    """AWS: "After successful invocation, your function checkpoints the sequence number and
    stream processing continues." """
    seqs = harness.put(6)
    harness.mapping(handler, batch_size=4, window_seconds=60).poll()
    again = RecordingHandler()
    harness.mapping(again, batch_size=4, window_seconds=60).poll()
    (event,) = again.events
    assert sequences(event) == seqs[4:]
    assert event["state"] == {"records": 4}


def test_latest_starts_with_records_added_after_the_mapping(
    harness: Harness, handler: RecordingHandler
) -> None:
    """AWS: "Latest – Process new records that are added to the stream." """
    harness.put(3)
    harness.clock.advance(1)
    mapping = harness.mapping(handler, window_seconds=0, starting_position="LATEST")
    mapping.poll()
    new = harness.put(2)
    harness.settle(mapping)
    assert [s for e in handler.events for s in sequences(e)] == new


def test_at_timestamp_starts_with_records_from_that_time(
    harness: Harness, handler: RecordingHandler
) -> None:
    """AWS: "At timestamp – Process records starting from a specific time." """
    harness.put(3)
    harness.clock.advance(5_000)
    later = harness.put(2)
    stamp = harness.clock()
    harness.clock.advance(5_000)
    mapping = harness.mapping(
        handler,
        window_seconds=0,
        starting_position="AT_TIMESTAMP",
        starting_position_timestamp_ms=stamp,
    )
    harness.settle(mapping)
    assert [s for e in handler.events for s in sequences(e)] == later


def test_trim_horizon_processes_every_record(harness: Harness, handler: RecordingHandler) -> None:
    """AWS: "Trim horizon – Process all records in the stream." """
    seqs = harness.put(5)
    mapping = harness.mapping(handler, window_seconds=0, starting_position="TRIM_HORIZON")
    harness.settle(mapping)
    assert [s for e in handler.events for s in sequences(e)] == seqs
