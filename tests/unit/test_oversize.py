"""The oversize envelope: the producer's marker for a line too large, dead-lettered too_large."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from taxi_stream.core import oversize
from taxi_stream.core.errors import RecordError
from taxi_stream.function.codec import decode_values
from taxi_stream.function.handler import TumblingWindowHandler
from taxi_stream.stores.memory import MemoryStore

TRIP = {
    "vendorId": 1,
    "pickupDate": "2024-11-25T08:00:00+00:00",
    "gcDistance": 1.5,
    "tripDuration": 600,
}


def event(*payloads: bytes) -> dict[str, Any]:
    """A Kinesis event without a window, one record per payload."""
    records = [
        {
            "kinesis": {
                "sequenceNumber": str(100 + n),
                "data": base64.b64encode(payload).decode(),
                "approximateArrivalTimestamp": 1_732_521_600.0,
            }
        }
        for n, payload in enumerate(payloads)
    ]
    return {"Records": records, "shardId": "shardId-000000000000", "eventSourceARN": "a/s"}


def test_the_limit_counts_the_partition_key_too() -> None:
    """Data of exactly 1 MiB fits with no key; one more key byte puts it over, as in Kinesis."""
    assert not oversize.is_over_limit("", b"x" * (1024 * 1024))
    assert oversize.is_over_limit("k", b"x" * (1024 * 1024))
    assert not oversize.is_over_limit("k", b"x" * (1024 * 1024 - 1))


def test_the_handler_dead_letters_an_envelope_as_too_large_with_the_head_bytes() -> None:
    """The dead letter's reason is too_large, its message names line and limit, its raw the head."""
    head = b"\xff\x00not even utf-8" * 300
    envelope = oversize.envelope(head + b"tail" * 400_000, line=17, source="trips.jsonl")
    store = MemoryStore()
    TumblingWindowHandler(store)(event(envelope, json.dumps(TRIP).encode()))
    (letter,) = store.dead_letters()
    assert letter.reason == "too_large"
    assert letter.message == (
        f"line 17 of trips.jsonl is {len(head) + 1_600_000:,} bytes, over the 1 MiB "
        "(1,048,576-byte) record limit (data + partition key); its first 4,096 bytes are kept"
    )
    assert letter.raw == head[:4096]
    assert store.counts() == (1, 1)


@pytest.mark.parametrize(
    "body",
    [
        "not an object",
        {"line": 0, "bytes": 5, "limitBytes": 5, "headBase64": ""},
        {"line": 1, "bytes": 5, "limitBytes": 5, "headBase64": "***"},
        {"line": 1, "bytes": True, "limitBytes": 5, "headBase64": ""},
        {"line": 1, "bytes": 5, "limitBytes": 5},
        {"line": 1, "bytes": 5, "limitBytes": 5, "headBase64": "", "unit": "page"},
    ],
)
def test_a_malformed_envelope_is_rejected_as_such_with_its_own_bytes(body: Any) -> None:
    """A record posing as an envelope but malformed is a bad_oversize_envelope, kept whole."""
    record = json.dumps({"taxiStreamOversize": body}).encode()
    store = MemoryStore()
    TumblingWindowHandler(store)(event(record))
    (letter,) = store.dead_letters()
    assert letter.reason == "bad_oversize_envelope"
    assert letter.raw == record


def test_a_trip_with_the_envelope_key_is_still_a_trip() -> None:
    """Only an object without a vendorId is taken for an envelope; a trip is counted."""
    record = json.dumps({**TRIP, "taxiStreamOversize": {"line": 1}}).encode()
    assert decode_values(record)[0] == "1"
    quirky = json.dumps({**TRIP, "vendorId": " 2", "taxiStreamOversize": 3}).encode()
    assert decode_values(quirky)[0] == "2"


def test_an_envelope_from_stdin_says_standard_input() -> None:
    """An envelope whose source is - names standard input in its message."""
    with pytest.raises(RecordError, match=r"^too_large: line 3 of standard input is 9 bytes"):
        decode_values(oversize.envelope(b"123456789", line=3, source="-"))


def test_an_envelope_of_a_file_row_says_row() -> None:
    """An envelope made for a row of a trip file names the row, not a line, in its message, and
    the size as that of the record the row made (its JSON), not the row's."""
    with pytest.raises(RecordError, match=r"^too_large: row 7 of t\.csv makes a record of 9 bytes"):
        decode_values(oversize.envelope(b"123456789", line=7, source="t.csv", unit="row"))
