"""The fast decoder agrees with the liberal core rules on every record it accepts."""

from __future__ import annotations

import json
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from taxi_stream.codec import decode_trip, decode_values
from taxi_stream.core.errors import RecordError
from taxi_stream.core.trip import Trip, parse_trip

numbers = st.one_of(
    st.integers(-100, 100_000),
    st.floats(-1000, 100_000),
    st.sampled_from(["1.5", " 2", "\t3.25", "x", "", "1e3", "NaN", "-inf"]),
    st.none(),
)
stamps = st.one_of(
    st.datetimes().map(lambda d: d.isoformat()),
    st.datetimes().map(lambda d: d.isoformat() + "Z"),
    st.datetimes().map(lambda d: d.isoformat(sep=" ")),
    st.sampled_from(["2024-11-25T08:00:00+05:30", "not a date", ""]),
    st.none(),
)
records = st.fixed_dictionaries(
    {},
    optional={
        "vendorId": st.one_of(st.integers(-5, 10), st.sampled_from(["1", " 2", "VTS", "", "é"])),
        "pickupDate": stamps,
        "dropoffDate": stamps,
        "passengerCount": numbers,
        "tripDuration": numbers,
        "googleDuration": numbers,
        "googleDistance": numbers,
        "gcDistance": numbers,
        "pickupLongitude": numbers,
        "pickupLatitude": numbers,
        "storeAndFwdFlag": st.sampled_from(["Y", "N", 0, 1, "?", None]),
    },
)


def liberal(record: dict[str, Any]) -> tuple[object, ...] | str:
    """The core rules alone, as the reference: the values a window total takes, or the reason."""
    try:
        trip = parse_trip(record)
    except RecordError as exc:
        return exc.reason
    return (trip.vendor_id, trip.pickup_ms, trip.distance_milli, trip.duration_s,
            trip.passenger_count)  # fmt: skip


def fast(data: bytes) -> tuple[object, ...] | str:
    """The handler's hot path under test."""
    try:
        return decode_values(data)
    except RecordError as exc:
        return exc.reason


@settings(max_examples=400, deadline=None)
@given(records)
def test_fast_decoder_matches_core_rules(record: dict[str, Any]) -> None:
    """Whatever the record, the fast path gives the same Trip or the same rejection."""
    data = json.dumps(record).encode()
    assert fast(data) == liberal(msgspec.json.decode(data))


def test_clean_record_takes_the_typed_path() -> None:
    """A clean record decodes to exact units (miles to thousandths, epoch milliseconds)."""
    data = (
        b'{"vendorId":2,"pickupDate":"2024-11-25T08:00:00+00:00","passengerCount":1,'
        b'"googleDistance":1.5,"tripDuration":60}'
    )
    assert decode_trip(data) == Trip("2", 1_732_521_600_000, 1500, 60, 1, None)


typed = st.fixed_dictionaries(
    {
        "vendorId": st.one_of(
            st.integers(-3, 10**6), st.text("abcXYZ129 ", min_size=0, max_size=5)
        ),
        "pickupDate": st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
        "googleDistance": st.floats(-1, 600),
        "tripDuration": st.integers(-10, 90_000),
    },
    optional={
        "passengerCount": st.integers(-1, 10),
        "gcDistance": st.floats(0, 600),
        "dropoffDate": st.datetimes().map(lambda d: d.isoformat()),
        "pickupLatitude": st.floats(-100, 100),
    },
)


@settings(max_examples=400, deadline=None)
@given(typed)
def test_typed_records_agree_on_the_fast_path(record: dict[str, Any]) -> None:
    """Records in the clean typed form (the fast path's own) agree with the core rules."""
    data = json.dumps(record).encode()
    assert fast(data) == liberal(msgspec.json.decode(data))


def test_timestamp_corner_cases_agree_on_both_paths() -> None:
    """Sub-microsecond digits and lowercase t/z: both paths read them by the same rule."""
    for stamp in ("2024-11-01T08:00:59.9999996Z", "2024-11-01t08:00:00z", "2024-11-01 08:00:00"):
        record = {"vendorId": 1, "pickupDate": stamp, "googleDistance": 1.0, "tripDuration": 60}
        data = json.dumps(record).encode()
        assert fast(data) == liberal(record), stamp


def test_an_oversized_clean_record_is_too_large() -> None:
    """A valid trip padded past 1 MiB is rejected on the fast path too."""
    record = {"vendorId": 1, "pickupDate": "2024-11-01T08:00:00Z", "googleDistance": 1.0,
              "tripDuration": 60, "pad": "x" * 1_100_000}  # fmt: skip
    assert fast(json.dumps(record).encode()) == "too_large"
