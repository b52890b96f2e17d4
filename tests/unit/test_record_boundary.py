"""The per-record boundary: a record's failure is its dead letter; a store's fails the batch."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Sequence
from typing import Any

import pytest

from taxi_stream.core.errors import Reason, StoreError
from taxi_stream.core.records import DeadLetter
from taxi_stream.core.timefmt import iso_utc
from taxi_stream.function import columns
from taxi_stream.function import handler as handler_module
from taxi_stream.function.handler import HandlerConfig, TumblingWindowHandler
from taxi_stream.stores.memory import MemoryStore
from taxi_stream.streams import kpl
from tests.support.hostile import nested

TRIP = {"vendorId": 1, "pickupDate": "2024-11-25T08:00:00Z", "googleDistance": 1.5,
        "tripDuration": 60, "passengerCount": 2}  # fmt: skip
WINDOW = {"start": "2024-11-25T08:00:00Z", "end": "2024-11-25T08:01:00Z"}


def kinesis(sequence: int, data: bytes, **fields: Any) -> dict[str, Any]:
    """A Kinesis event record carrying ``data``."""
    part = {"sequenceNumber": str(sequence), "data": base64.b64encode(data).decode(),
            "partitionKey": "k", "approximateArrivalTimestamp": 1_732_521_605.0}  # fmt: skip
    part.update(fields)
    return {"kinesis": part, "eventSource": "aws:kinesis", "eventID": f"shardId-0:{sequence}"}


def window_event(records: list[Any], *, final: bool = True) -> dict[str, Any]:
    """One invocation of a tumbling window, final by default (so totals are written)."""
    return {"Records": records, "window": WINDOW, "state": None, "shardId": "shardId-0",
            "eventSourceARN": "arn:aws:kinesis:us-east-1:1:stream/s",
            "isFinalInvokeForWindow": final, "isWindowTerminatedEarly": False}  # fmt: skip


def good() -> bytes:
    """One valid trip of vendor 1."""
    return json.dumps(TRIP).encode()


def test_an_unforeseen_decoder_failure_is_that_records_dead_letter(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A decoder that raises what no rule foresaw: 'undecodable', naming the exception, logged
    with its traceback; the trips around it still count."""
    real = handler_module.decode_values

    def decode(data: bytes, *args: Any) -> Any:
        if data == b"boom":
            raise ZeroDivisionError("division by zero")
        return real(data, *args)

    monkeypatch.setattr(handler_module, "decode_values", decode)
    store = MemoryStore()
    records = [kinesis(1, good()), kinesis(2, b"boom"), kinesis(3, good())]
    with caplog.at_level(logging.WARNING, logger="taxi_stream.function.handler"):
        response = TumblingWindowHandler(store)(window_event(records))
    assert response == {"state": {}, "batchItemFailures": []}
    (letter,) = store.dead_letters()
    assert (letter.reason, letter.raw, letter.origin.sequence_number) == (
        "undecodable",
        b"boom",
        "2",
    )
    assert letter.message == "the decoder failed: ZeroDivisionError: division by zero"
    assert store.counts() == (2, 1)
    assert any(r.exc_info and r.exc_info[0] is ZeroDivisionError for r in caplog.records)


def test_an_unforeseen_deaggregation_failure_is_the_aggregates_dead_letter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A KPL decoder that raises an unexpected exception: the aggregate is one dead letter."""

    def deaggregate(data: bytes) -> Any:
        raise IndexError("index out of range")

    monkeypatch.setattr(handler_module, "deaggregate", deaggregate)
    store = MemoryStore()
    aggregate = kpl.aggregate([("a", good()), ("b", good())])
    TumblingWindowHandler(store)(window_event([kinesis(1, aggregate), kinesis(2, good())]))
    (letter,) = store.dead_letters()
    assert (letter.reason, letter.raw) == (Reason.UNDECODABLE, aggregate)
    assert "IndexError" in letter.message
    assert store.counts() == (1, 1)


def test_memory_exhaustion_fails_the_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    """MemoryError belongs to the process, not to the record: the invocation fails (a retry)."""

    def decode(data: bytes, *args: Any) -> Any:
        raise MemoryError

    monkeypatch.setattr(handler_module, "decode_values", decode)
    monkeypatch.setattr(columns, "decode_clean", decode)  # the batch path's decoder
    for exact in (False, True):
        with pytest.raises(MemoryError):
            TumblingWindowHandler(MemoryStore(), exact=exact)(window_event([kinesis(1, good())]))


class FailingStore(MemoryStore):
    """A store whose dead-letter writes fail, as an unreachable table would."""

    def put_dead_letters(self, letters: Sequence[DeadLetter]) -> int:
        """Fail."""
        raise StoreError("the table is unreachable")


def test_a_store_failure_still_fails_the_batch() -> None:
    """The boundary keeps record failures in and lets store failures out: the batch is retried."""
    deep = b"[" * 2000 + b"]" * 2000
    with pytest.raises(StoreError, match="unreachable"):
        TumblingWindowHandler(FailingStore())(window_event([kinesis(1, deep)]))


def cyclic() -> dict[str, Any]:
    """A record that contains itself."""
    record: dict[str, Any] = {"eventID": "cycle"}
    record["self"] = record
    return record


@pytest.mark.parametrize(
    ("record", "why"),
    [
        ({"eventID": "deep", "dynamodb": nested({}, 5000)}, "RecursionError"),
        (cyclic(), "ValueError"),
        ({"eventID": "keys", (1, 2): "a key JSON cannot hold"}, "TypeError"),
        ({"eventID": nested([], 5000), "n": 1}, "RecursionError"),
    ],
)
def test_a_foreign_record_json_cannot_hold_is_kept_as_a_short_repr(record: Any, why: str) -> None:
    """Nested too deep for json.dumps, a cycle, keys that are not text: not_kinesis_record, its
    raw bytes a shortened repr, and the message says so."""
    store = MemoryStore()
    response = TumblingWindowHandler(store)(window_event([record, kinesis(1, good())]))
    assert response["batchItemFailures"] == []
    (letter,) = store.dead_letters()
    assert letter.reason == Reason.NOT_KINESIS
    assert letter.message.endswith(f"(kept as a shortened repr: not JSON-serialisable, {why})")
    assert letter.raw.startswith(b"{")
    assert len(letter.raw) < 5000
    assert store.counts() == (1, 1)


def test_kinesis_data_that_is_a_deep_list_is_not_base64() -> None:
    """Kinesis data that is not text at all (a 5,000-deep list): not_base64, no exception."""
    record = kinesis(1, b"")
    record["kinesis"]["data"] = nested([], 5000)
    store = MemoryStore()
    TumblingWindowHandler(store)(window_event([record]))
    (letter,) = store.dead_letters()
    assert letter.reason == Reason.NOT_BASE64
    assert letter.raw.startswith(b"[[[")
    assert len(letter.raw) < 5000


@pytest.mark.parametrize("arrival", [float("nan"), float("inf"), 1e300, -1e300])
def test_an_arrival_that_is_no_instant_counts_in_the_epochs_window(arrival: float) -> None:
    """Without windows, a trip whose arrival is not a usable instant counts at arrival 0 (as a
    missing one does), and a bad record beside it is still a dead letter."""
    store = MemoryStore()
    records = [kinesis(1, good(), approximateArrivalTimestamp=arrival),
               kinesis(2, b"{", approximateArrivalTimestamp=arrival)]  # fmt: skip
    TumblingWindowHandler(store, HandlerConfig(window_seconds=60))({"Records": records})
    assert [(w.window_start_ms, w.totals.trip_count) for w in store.windows()] == [(0, 1)]
    (letter,) = store.dead_letters()
    assert (letter.reason, letter.origin.arrival_ms) == (Reason.NOT_JSON, 0)


def test_a_pickup_at_the_end_of_time_never_reaches_the_store_on_the_event_clock() -> None:
    """Event clock: a pickup whose window no key can name (9999-12-31T23:59:30Z) is a dead
    letter, so every window written renders as an ISO-8601 key (the DynamoDB sort key)."""
    store = MemoryStore()
    late = json.dumps({**TRIP, "pickupDate": "9999-12-31T23:59:30Z"}).encode()
    early = json.dumps({**TRIP, "pickupDate": "0001-01-01T00:00:00+01:00"}).encode()
    handler = TumblingWindowHandler(store, HandlerConfig(clock="event", window_seconds=60))
    handler(window_event([kinesis(1, late), kinesis(2, early), kinesis(3, good())]))
    assert sorted(d.reason for d in store.dead_letters()) == [Reason.BAD_TIMESTAMP] * 2
    assert [(iso_utc(w.window_start_ms), iso_utc(w.window_end_ms)) for w in store.windows()] == [
        ("2024-11-25T08:00:00Z", "2024-11-25T08:01:00Z")
    ]


def test_a_bare_event_whose_first_record_has_a_deep_event_id_is_handled() -> None:
    """No shardId and a first record whose eventID is a 5,000-deep list (the shard and stream
    are read from it): that record is a dead letter, the trip after it counts."""
    store = MemoryStore()
    records = [
        {"eventID": nested([], 5000), "eventSourceARN": nested([], 5000)},
        kinesis(1, good()),
    ]
    response = TumblingWindowHandler(store, HandlerConfig(window_seconds=60))({"Records": records})
    assert response == {"state": {}, "batchItemFailures": []}
    assert [d.reason for d in store.dead_letters()] == [Reason.NOT_KINESIS]
    assert store.counts() == (1, 1)
