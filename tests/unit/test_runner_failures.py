"""The local event source mapping on failure: retries, bisection, destinations, suspension."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from taxi_stream.core.errors import DestinationError, StreamError
from taxi_stream.core.records import DeadLetter, Origin, ReadResult, ShardInfo
from taxi_stream.runner.mapping import EventSourceMapping, Handler, InProcess, MappingConfig
from taxi_stream.sources.simulator import Simulator, SimulatorConfig
from taxi_stream.stores.sqlite import SQLiteUnitOfWork
from taxi_stream.views.process import ShardView, status
from tests.support import workshop
from tests.support.harness import Harness, snapshot_of
from tests.support.recording import RecordingHandler, carries, is_final, sequences

BOUND_S = 30.0  # the longest a test waits for the runner to report a timeout


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


def retry_now(harness: Harness, mapping: EventSourceMapping) -> None:
    """Let the clock reach the shard's next retry, then poll."""
    harness.clock.ms = max(harness.clock(), snapshot_of(mapping).retry_at_ms)
    mapping.poll()


def test_a_failed_batch_is_retried_whole_until_it_succeeds(
    harness: Harness, handler: RecordingHandler
) -> None:
    """AWS: "By default, if your function returns an error, the event source mapping reprocesses
    the entire batch until the function succeeds, or the items in the batch expire." """
    first = harness.put(3)
    later = harness.put(2)
    mapping = harness.mapping(handler, batch_size=3, window_seconds=0)
    handler.fail(times=3)
    for _ in range(4):
        retry_now(harness, mapping)
    assert [sequences(e) for e in handler.events] == [first] * 4
    assert snapshot_of(mapping).checkpoint.position == first[-1]
    retry_now(harness, mapping)
    assert sequences(handler.events[-1]) == later


def test_exhausted_retries_send_the_batch_details_to_the_destination(
    harness: Harness, handler: RecordingHandler
) -> None:
    """AWS: "When Lambda discards a batch of records that's too old or has exhausted all retries,
    Lambda sends details about the batch to the queue or topic." """
    bad = harness.put(3)
    harness.clock.advance(750)
    bad += harness.put(1)
    good = harness.put(2)
    mapping = harness.mapping(handler, batch_size=4, window_seconds=0, maximum_retry_attempts=2)
    handler.fail(times=None, when=carries(bad[0]))
    for _ in range(4):
        retry_now(harness, mapping)
    assert [sequences(e) for e in handler.events] == [bad, bad, bad, good]
    (record,) = harness.failure_records()
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["version"] == "1.0"
    assert record["KinesisBatchInfo"] == {
        "shardId": "shardId-000000000000",
        "startSequenceNumber": bad[0],
        "endSequenceNumber": bad[-1],
        "approximateArrivalOfFirstRecord": "2024-11-01T00:00:00.000Z",
        "approximateArrivalOfLastRecord": "2024-11-01T00:00:00.750Z",
        "batchSize": 4,
        "streamArn": f"arn:aws:kinesis:us-east-1:000000000000:stream/{harness.stream.name}",
    }
    assert snapshot_of(mapping).checkpoint.position == good[-1]


def test_records_older_than_the_maximum_age_are_discarded(
    harness: Harness, handler: RecordingHandler
) -> None:
    """AWS: "MaximumRecordAgeInSeconds: Discard records older than the specified age." """
    old = harness.put(2)
    mapping = harness.mapping(handler, window_seconds=0, maximum_record_age_s=60)
    handler.fail(times=None, when=carries(old[0]))
    mapping.poll()
    harness.clock.advance(60_001)
    fresh = harness.put(1)
    retry_now(harness, mapping)
    harness.settle(mapping)
    (record,) = harness.failure_records()
    assert record["requestContext"]["condition"] == "RecordAgeExceeded"
    assert record["KinesisBatchInfo"]["startSequenceNumber"] == old[0]
    assert record["KinesisBatchInfo"]["batchSize"] == 2
    assert [sequences(e) for e in handler.events] == [old, fresh]


def test_bisection_isolates_the_bad_record_without_spending_retries(
    harness: Harness, handler: RecordingHandler
) -> None:
    """AWS: "Splitting a batch does not count towards the retry quota." """
    seqs = harness.put(8)
    poison = seqs[5]
    mapping = harness.mapping(
        handler,
        batch_size=8,
        window_seconds=0,
        maximum_retry_attempts=1,
        bisect_batch_on_function_error=True,
    )
    handler.fail(times=None, when=carries(poison))
    harness.settle(mapping, step_ms=60_000)
    assert [len(e["Records"]) for e in handler.events] == [8, 4, 4, 2, 1, 1, 1, 2]
    (record,) = harness.failure_records()
    info = record["KinesisBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (
        poison,
        poison,
        1,
    )
    assert record["requestContext"]["approximateInvokeCount"] == 5
    delivered = {s for e in handler.events if poison not in sequences(e) for s in sequences(e)}
    assert delivered == set(seqs) - {poison}


def test_the_lowest_failed_item_becomes_the_checkpoint(
    harness: Harness, handler: RecordingHandler
) -> None:
    """AWS: "If the batchItemFailures array contains multiple items, Lambda uses the record with
    the lowest sequence number as the checkpoint. Lambda then retries all records starting from
    that checkpoint." """
    seqs = harness.put(6)
    mapping = harness.mapping(handler, window_seconds=60, report_batch_item_failures=True)
    handler.fail_items(seqs[4], seqs[2])
    mapping.poll()
    assert snapshot_of(mapping).checkpoint.position == seqs[1]
    retry_now(harness, mapping)
    assert [sequences(e) for e in handler.record_events] == [seqs, seqs[2:]]
    assert handler.events[1]["state"] == {"records": 6}


def test_item_failures_are_ignored_unless_reporting_is_on(
    harness: Harness, handler: RecordingHandler
) -> None:
    """AWS: "Even when your function code returns partial batch failure responses, these
    responses will not be processed by Lambda unless the ReportBatchItemFailures feature is
    explicitly turned on for your event source mapping." """
    seqs = harness.put(4)
    mapping = harness.mapping(handler, window_seconds=0)
    handler.fail_items(seqs[1])
    harness.settle(mapping)
    assert [sequences(e) for e in handler.events] == [seqs]
    assert snapshot_of(mapping).stats.failures == 0


@pytest.mark.parametrize(
    "failure",
    [
        {"itemIdentifier": ""},
        {"itemIdentifier": None},
        {"itemIdentifer": "1"},
        {"itemIdentifier": "99"},
    ],
    ids=["empty", "null", "bad-key-name", "unknown"],
)
def test_a_bad_item_identifier_fails_the_whole_batch(
    harness: Harness, handler: RecordingHandler, failure: dict[str, Any]
) -> None:
    """AWS: "Lambda treats a batch as a complete failure if you return any of the following: An
    empty string itemIdentifier, A null itemIdentifier, An itemIdentifier with a bad key name"."""
    seqs = harness.put(3)
    mapping = harness.mapping(handler, window_seconds=0, report_batch_item_failures=True)
    handler.respond({"batchItemFailures": [failure]})
    mapping.poll()
    assert snapshot_of(mapping).checkpoint.position is None
    assert "itemIdentifier" in (snapshot_of(mapping).stats.last_error or "")
    retry_now(harness, mapping)
    assert [sequences(e) for e in handler.events] == [seqs, seqs]


@pytest.mark.parametrize(
    "response",
    [{"batchItemFailures": []}, {"batchItemFailures": None}, {}, None],
    ids=["empty-list", "null-list", "empty-response", "null-response"],
)
def test_an_empty_or_null_failure_list_is_a_complete_success(
    harness: Harness, handler: RecordingHandler, response: Any
) -> None:
    """AWS: "Lambda treats a batch as a complete success if you return any of the following: An
    empty batchItemFailure list, A null batchItemFailure list, An empty EventResponse, A null
    EventResponse"."""
    seqs = harness.put(3)
    mapping = harness.mapping(handler, window_seconds=0, report_batch_item_failures=True)
    handler.respond(response)
    mapping.poll()
    assert snapshot_of(mapping).checkpoint.position == seqs[-1]
    assert snapshot_of(mapping).stats.failures == 0


def test_a_failing_final_invoke_suspends_the_shard_with_backoff(
    harness: Harness, handler: RecordingHandler
) -> None:
    """AWS: "If invocation is unsuccessful, your Lambda function suspends further processing
    until a successful invocation." """
    harness.put(2)
    harness.clock.advance(60_000)
    next_window = harness.put(2)
    mapping = harness.mapping(handler, window_seconds=60, maximum_retry_attempts=0)
    handler.fail(times=5, when=is_final)
    mapping.poll()
    waits = []
    for _ in range(5):
        retry_now(harness, mapping)
        suspended = snapshot_of(mapping)
        waits.append(suspended.retry_at_ms - harness.clock())
        assert suspended.stuck
    assert waits == [100, 200, 400, 800, 1600]
    assert all(next_window[0] not in sequences(e) for e in handler.events)
    assert harness.failure_records() == []
    retry_now(harness, mapping)
    mapping.poll()
    assert not snapshot_of(mapping).stuck
    assert sequences(handler.events[-1]) == next_window


class TimeoutReported(logging.Handler):
    """Set once the runner warns that an invocation timed out: a call hung until then is late."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.seen = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        """Note a timeout warning."""
        if "timed out" in record.getMessage():
            self.seen.set()


@pytest.fixture
def timeout_reported() -> Iterator[TimeoutReported]:
    """Watches the runner's warnings for a timed-out invocation."""
    watcher = TimeoutReported()
    logger = logging.getLogger("taxi_stream.runner")
    logger.addHandler(watcher)
    yield watcher
    logger.removeHandler(watcher)


def test_a_timed_out_invocation_fails_and_what_it_wrote_is_rolled_back(
    harness: Harness, timeout_reported: TimeoutReported
) -> None:
    """AWS: "get_remaining_time_in_millis – Returns the number of milliseconds left before the
    execution times out." """
    seqs = harness.put(2)
    calls: list[int] = []

    def slow_once(work: SQLiteUnitOfWork) -> Handler:
        def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
            calls.append(context.get_remaining_time_in_millis())
            origin = Origin("stream", "shardId-000000000000", sequences(event)[0])
            work.put_dead_letters([DeadLetter(origin, "test", "written", b"")])
            if len(calls) == 1:
                timeout_reported.seen.wait(BOUND_S)  # until the runner gave up on it
            return {"state": {}}

        return handle

    mapping = harness.mapping(InProcess(slow_once), window_seconds=60, function_timeout_s=0.05)
    mapping.poll()
    timed_out = snapshot_of(mapping)
    assert timeout_reported.seen.is_set()
    assert timed_out.stats.timeouts == 1
    assert (timed_out.stats.last_error or "").endswith("Task timed out after 0.05 seconds")
    assert harness.store.dead_letters() == []
    assert all(0 <= left <= 50 for left in calls)
    retry_now(harness, mapping)
    assert snapshot_of(mapping).checkpoint.position == seqs[-1]
    assert len(harness.store.dead_letters()) == 1


class FlakyReader:
    """The embedded stream, whose reads fail ``failures`` times first."""

    def __init__(self, harness: Harness, failures: int) -> None:
        self._stream = harness.stream
        self.failures = failures
        self.name = harness.stream.name

    def list_shards(self) -> list[ShardInfo]:
        """The stream's shards."""
        return self._stream.list_shards()

    def read(self, shard_id: str, after: str | None, limit: int) -> ReadResult:
        """Fail, then read."""
        if self.failures:
            self.failures -= 1
            raise StreamError("GetRecords throttled")
        return self._stream.read(shard_id, after, limit)


def test_stream_errors_do_not_count_as_retries(harness: Harness, handler: RecordingHandler) -> None:
    """AWS: "Retry attempts – The maximum number of times that Lambda retries when the function
    returns an error. This doesn't apply to service errors or throttles where the batch didn't
    reach the function." """
    seqs = harness.put(3)
    reader = FlakyReader(harness, failures=3)
    config = MappingConfig(window_seconds=0, maximum_retry_attempts=0)
    mapping = EventSourceMapping(reader, handler, harness.store, config, now_ms=harness.clock)
    for _ in range(4):
        retry_now(harness, mapping)
    assert snapshot_of(mapping).stats.failures == 3
    assert [sequences(e) for e in handler.events] == [seqs]
    assert harness.failure_records() == []


def test_the_original_workshop_handler_leaves_the_shard_stuck(harness: Harness) -> None:
    """AWS: "If invocation is unsuccessful, your Lambda function suspends further processing
    until a successful invocation." """
    trips = Simulator(SimulatorConfig(seed=7)).batch(20).entries
    harness.put(10, data=lambda i: trips[i][1])
    harness.clock.advance(60_000)
    later = harness.put(10, data=lambda i: trips[10 + i][1])
    mapping = harness.mapping(workshop.lambda_handler, window_seconds=60)
    for _ in range(8):
        retry_now(harness, mapping)
    stuck = snapshot_of(mapping)
    assert stuck.stuck
    assert status(stuck) == "STUCK"
    assert "KeyError: 'googleDistance'" in (stuck.stats.last_error or "")
    passengers = sum(json.loads(data)["passengerCount"] for _, data in trips[:10])
    assert stuck.checkpoint.state["passengerCount"] == passengers
    assert (stuck.checkpoint.position, stuck.stats.records) == (harness.sequences()[9], 10)
    assert later[0] == harness.sequences()[10]
    screen = Console(record=True, width=240)
    screen.print(ShardView(mapping).render(10))
    assert "STUCK" in screen.export_text()


class BrokenOnce:
    """An on-failure destination that fails its first send."""

    description = "broken://once"

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.attempts = 0

    def send(self, record: dict[str, Any]) -> None:
        """Fail the first time, keep the record after that."""
        self.attempts += 1
        if self.attempts == 1:
            raise DestinationError("destination unreachable")
        self.records.append(record)


def test_a_failed_destination_send_is_retried_without_invoking_again(
    harness: Harness, handler: RecordingHandler
) -> None:
    """A discard whose destination fails is sent again before the shard moves past the batch."""
    seqs = harness.put(2)
    destination = BrokenOnce()
    config = MappingConfig(window_seconds=0, maximum_retry_attempts=0)
    mapping = EventSourceMapping(
        harness.stream,
        handler,
        harness.store,
        config,
        now_ms=harness.clock,
        destination=destination,
    )
    handler.fail(times=None)
    retry_now(harness, mapping)
    assert snapshot_of(mapping).checkpoint.position is None
    retry_now(harness, mapping)
    assert len(handler.events) == 1
    assert destination.attempts == 2
    assert [r["KinesisBatchInfo"]["endSequenceNumber"] for r in destination.records] == [seqs[-1]]
    assert snapshot_of(mapping).checkpoint.position == seqs[-1]


def test_a_discard_resets_the_backoff_for_the_next_batch(
    harness: Harness, handler: RecordingHandler
) -> None:
    """After a batch is discarded the next one is tried at once, not after the built-up backoff."""
    harness.put(2)
    harness.put(2)
    mapping = harness.mapping(handler, batch_size=2, window_seconds=0, maximum_retry_attempts=3)
    handler.fail(times=None)
    for _ in range(4):
        retry_now(harness, mapping)
    discarded = snapshot_of(mapping)
    assert discarded.stats.discarded_batches == 1
    assert discarded.consecutive_failures == 0
    assert discarded.retry_at_ms <= harness.clock()
    invoked = len(handler.events)
    mapping.poll()  # no clock change: the second batch goes straight away
    assert len(handler.events) == invoked + 1
