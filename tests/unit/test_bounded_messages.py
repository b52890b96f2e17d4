"""A dead letter's message quotes a record's bad value in at most 80 characters, however big."""

from __future__ import annotations

from typing import Any

import pytest

from taxi_stream.core.errors import RecordError
from taxi_stream.core.trip import parse_trip
from tests.unit.test_trip_quirks import decode, wire

HUGE_LIST = list(range(100_000))  # its repr is 588,890 characters
HUGE_DIGITS = "1" * 500_000
BOUND = 200  # the message's own words and an 80-character quote of the value


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("vendorId", HUGE_LIST, "bad_vendor"),
        ("pickupDate", HUGE_LIST, "bad_timestamp"),
        ("storeAndFwdFlag", "Y" * 500_000, "bad_store_and_fwd_flag"),
        ("storeAndFwdFlag", HUGE_LIST, "bad_store_and_fwd_flag"),
        ("passengerCount", HUGE_LIST, "bad_number"),
        ("passengerCount", "1." + HUGE_DIGITS, "bad_passenger_count"),
        ("puLocationId", "0." + HUGE_DIGITS, "bad_zone"),
    ],
)
@pytest.mark.parametrize("path", ["core", "handler"])
def test_a_huge_bad_value_is_quoted_short(field: str, value: Any, reason: str, path: str) -> None:
    """The reason as before; the message names the field and quotes the value's start only."""
    record = wire(**{field: value})
    with pytest.raises(RecordError) as caught:
        parse_trip(record) if path == "core" else decode(record)
    assert caught.value.reason == reason
    assert len(caught.value.message) < BOUND, caught.value.message[:300]
    assert repr(value)[:40] in caught.value.message
