"""A response as Lambda's Python runtime sends it: what it cannot serialise is a function error."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from taxi_stream.runner.mapping import EventSourceMapping
from tests.support.harness import Harness, snapshot_of
from tests.support.recording import RecordingHandler, sequences

DEPTH = 100_000  # far past any recursion limit


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    """A one-shard embedded stream and a store on tmp_path, with a settable clock."""
    h = Harness(tmp_path)
    yield h
    h.close()


def nested(depth: int) -> dict[str, Any]:
    """{"a": {"a": ... {}}}, ``depth`` levels deep, built without recursion."""
    top: dict[str, Any] = {}
    inner = top
    for _ in range(depth):
        inner["a"] = {}
        inner = inner["a"]
    return top


def answer(response: object, *, times: int | None = 1) -> RecordingHandler:
    """A handler that returns ``response`` itself (no copy: a deep one cannot be copied)."""
    handler = RecordingHandler()
    handler.on(lambda _event: response, times=times)
    return handler


def discarded_once(harness: Harness, handler: RecordingHandler, **settings: Any) -> dict[str, Any]:
    """Run one record with no retries; return its on-failure record."""
    harness.put(1)
    mapping = harness.mapping(handler, maximum_retry_attempts=0, **settings)
    harness.settle(mapping, step_ms=60_000)
    (record,) = harness.failure_records()
    return record


def last_error(mapping: EventSourceMapping) -> str:
    return snapshot_of(mapping).stats.last_error or ""


UNSERIALISABLE = pytest.mark.parametrize(
    ("response", "windows"),
    [
        ({"state": nested(DEPTH)}, 60),
        ({"batchItemFailures": [], "x": nested(DEPTH)}, 0),
        ({"state": {"n": object()}}, 60),
        (object(), 0),
        ({"state": {}, "seen": {1, 2}}, 60),
    ],
    ids=["deep-state", "deep-response", "object-in-state", "object", "set"],
)


@UNSERIALISABLE
def test_a_response_the_runtime_cannot_serialise_is_a_function_error(
    harness: Harness, response: object, windows: int
) -> None:
    """awslambdaric: a response its JSON encoder refuses is Runtime.MarshalError, a function
    error: the batch is retried whole, nothing checkpointed until it succeeds."""
    seqs = harness.put(2)
    handler = answer(response)
    mapping = harness.mapping(handler, window_seconds=windows)
    mapping.poll()
    assert snapshot_of(mapping).checkpoint.position is None
    assert snapshot_of(mapping).stats.function_errors == 1
    assert "Runtime.MarshalError" in last_error(mapping)
    harness.clock.ms = snapshot_of(mapping).retry_at_ms
    mapping.poll()
    assert [sequences(e) for e in handler.record_events] == [seqs, seqs]
    assert snapshot_of(mapping).checkpoint.position == seqs[-1]


@UNSERIALISABLE
def test_a_response_the_runtime_cannot_serialise_is_reported_unhandled(
    harness: Harness, response: object, windows: int
) -> None:
    """A runtime error is reported as a raise is: "functionError": "Unhandled"."""
    record = discarded_once(harness, answer(response, times=None), window_seconds=windows)
    assert record["responseContext"]["functionError"] == "Unhandled"


def test_a_response_over_6_mb_is_a_function_error(harness: Harness) -> None:
    """Lambda's synchronous response limit is 6 MB: a 7,000,000-character answer without
    windows fails (Function.ResponseSizeTooLarge), though the mapping would read none of it."""
    record = discarded_once(
        harness, answer({"junk": "x" * 7_000_000}, times=None), window_seconds=0
    )
    assert record["responseContext"]["functionError"] == "Unhandled"


def test_a_response_just_under_6_mb_is_sent(harness: Harness) -> None:
    """6 MB is 6,291,456 bytes: {"junk": "..."} of 6,291,456 bytes in all is still a success."""
    junk = "x" * (6_291_456 - len('{"junk": ""}'))
    seqs = harness.put(1)
    mapping = harness.mapping(answer({"junk": junk}), window_seconds=0)
    mapping.poll()
    assert snapshot_of(mapping).checkpoint.position == seqs[-1]


@pytest.mark.parametrize("value", [float("nan"), float("inf"), Decimal("NaN")])
def test_nan_in_the_state_fails_the_batch_without_a_function_error(
    harness: Harness, value: object
) -> None:
    """The runtime writes NaN and Infinity bare, which is not JSON: the state cannot be read
    back, so the invocation fails (the function itself returned: "functionError": null)."""
    record = discarded_once(harness, answer({"state": {"x": value}}, times=None), window_seconds=60)
    assert record["responseContext"]["functionError"] is None


def test_a_decimal_in_the_state_comes_back_as_the_number_it_is(harness: Harness) -> None:
    """The runtime writes a Decimal (DynamoDB's numbers) as its digits; the next event reads
    them as JSON does: 12.5 and 3."""
    harness.put(1)
    handler = RecordingHandler()
    handler.respond({"state": {"total": Decimal("12.5"), "n": Decimal("3")}})
    mapping = harness.mapping(handler, window_seconds=60)
    mapping.poll()
    harness.put(1)
    mapping.poll()
    assert handler.events[1]["state"] == {"total": 12.5, "n": 3}
    assert type(handler.events[1]["state"]["n"]) is int


@pytest.mark.parametrize("response", ["hello", [1, 2, 3], 7])
def test_a_response_that_is_no_object_is_a_success_without_item_failures(
    harness: Harness, response: object
) -> None:
    """Without ReportBatchItemFailures (and windows) the response is not processed: "hello"
    is a success, as any response that the runtime could send."""
    seqs = harness.put(2)
    mapping = harness.mapping(answer(response), window_seconds=0)
    mapping.poll()
    assert snapshot_of(mapping).checkpoint.position == seqs[-1]
    assert snapshot_of(mapping).stats.failures == 0


@pytest.mark.parametrize("response", ["hello", [1, 2, 3], 7])
def test_a_response_that_is_no_object_fails_the_batch_with_item_failures(
    harness: Harness, response: object
) -> None:
    """With ReportBatchItemFailures, a response that is neither empty nor a StreamsEventResponse
    object is none of AWS's success conditions: the whole batch fails, no function error."""
    record = discarded_once(
        harness, answer(response, times=None), window_seconds=0, report_batch_item_failures=True
    )
    assert record["responseContext"]["functionError"] is None


@pytest.mark.parametrize("response", ["", []], ids=["empty-string", "empty-list"])
def test_an_empty_string_or_list_is_a_success_with_item_failures(
    harness: Harness, response: object
) -> None:
    """Recorded from AWS (python3.12, ReportBatchItemFailures): "" and [] are complete successes."""
    seqs = harness.put(2)
    mapping = harness.mapping(answer(response), window_seconds=0, report_batch_item_failures=True)
    mapping.poll()
    assert snapshot_of(mapping).checkpoint.position == seqs[-1]
    assert snapshot_of(mapping).stats.failures == 0


def test_a_tuple_and_int_keys_come_back_as_json_has_them(harness: Harness) -> None:
    """The runtime writes a tuple as an array and an int key as a string: the next state reads
    [1, 2] and "7", as json.loads(json.dumps(...)) gives them."""
    harness.put(1)
    handler = RecordingHandler()
    handler.on(lambda _event: {"state": {"pair": (1, 2), "by": {7: "x"}}})
    mapping = harness.mapping(handler, window_seconds=60)
    mapping.poll()
    harness.put(1)
    mapping.poll()
    assert handler.events[1]["state"] == {"pair": [1, 2], "by": {"7": "x"}}
