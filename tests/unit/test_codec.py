"""The fast decoder agrees with the liberal core rules on every record it accepts."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taxi_stream.core.errors import Reason, RecordError
from taxi_stream.core.trip import Trip, parse_trip
from taxi_stream.function.codec import decode_trip, decode_values

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
        "fareAmount": numbers,
        "tipAmount": st.one_of(numbers, st.sampled_from([0.125, "2.675", -1.005, 1e6, "1e400"])),
        "totalAmount": numbers,
        "puLocationId": st.one_of(st.integers(-1, 300), st.sampled_from([" 264", "7.0", 7.5])),
        "doLocationId": numbers,
    },
)


def liberal(record: dict[str, Any]) -> tuple[object, ...] | str:
    """The core rules alone, as the reference: the values a window total takes, or the reason."""
    try:
        trip = parse_trip(record)
    except RecordError as exc:
        return exc.reason
    return (trip.vendor_id, trip.pickup_ms, trip.distance_milli, trip.duration_s,
            trip.passenger_count, trip.fare_cents, trip.tip_cents, trip.amount_cents)  # fmt: skip


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
        "fareAmount": st.floats(-200_000, 200_000),
        "tipAmount": st.one_of(st.integers(-5, 500), st.sampled_from([12.345, 0.005, -0.015])),
        "totalAmount": st.floats(-1000, 1000).map(lambda x: round(x, 2)),
        "puLocationId": st.integers(-1, 300),
        "doLocationId": st.integers(1, 265),
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


def test_the_issue_records_are_too_deep() -> None:
    """'['*2000 + ']'*2000 and {"a":{"a":...}} 1,000 deep: too_deep, never a RecursionError."""
    assert fast(b"[" * 2000 + b"]" * 2000) == Reason.TOO_DEEP
    assert fast(b'{"a":' * 1000 + b"1" + b"}" * 1000) == Reason.TOO_DEEP


def depth(value: Any) -> int:
    """Levels of arrays and objects in a JSON value (a scalar has none)."""
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    return 0


leaves = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text('[]{}"\\ab', max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(
    leaves,
    st.integers(0, 90).flatmap(lambda n: st.lists(st.booleans(), min_size=n, max_size=n)),
    st.booleans(),
)
def test_nesting_over_64_levels_is_too_deep_on_both_paths(
    leaf: Any, layers: list[bool], clean: bool
) -> None:
    """A trip with an extra field nested to any depth (brackets and quotes in its strings too):
    too_deep exactly when the record nests over 64 levels, else the core rules' verdict."""
    value = leaf
    for as_list in layers:
        value = [value] if as_list else {"k": value}
    record = {"vendorId": 1 if clean else " 1", "pickupDate": "2024-11-01T08:00:00Z",
              "googleDistance": 1.0, "tripDuration": 60, "x": value}  # fmt: skip
    expected = Reason.TOO_DEEP if 1 + depth(value) > 64 else liberal(record)
    assert fast(json.dumps(record).encode()) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0" * 5000 + "60", 60),
        ("9" * 5000, Reason.BAD_NUMBER),
        (" " + "1" * 101, Reason.BAD_DURATION),
    ],
)
def test_numbers_as_long_digit_strings_are_read_by_their_value(
    text: str, expected: int | str
) -> None:
    """A duration written with thousands of digits is its value; one too big is rejected."""
    record = {"vendorId": 1, "pickupDate": "2024-11-01T08:00:00Z", "googleDistance": 1.0,
              "tripDuration": text}  # fmt: skip
    result = fast(json.dumps(record).encode())
    assert (result if isinstance(result, str) else result[3]) == expected


@pytest.mark.parametrize(
    ("stamp", "inside"),
    [
        ("0001-01-01T00:00:00+01:00", False),
        ("0001-01-01T23:59:59Z", False),
        ("0001-01-02T00:00:00Z", True),
        ("9999-12-30T23:59:59Z", True),
        ("9999-12-31T00:00:00Z", False),
        ("9999-12-31T23:59:59-23:59", False),
    ],
)
@pytest.mark.parametrize("distance", [1.0, "1.0"])  # the typed path, and the core rules
def test_a_pickup_no_window_can_be_written_for_is_a_bad_timestamp(
    stamp: str, inside: bool, distance: float | str
) -> None:
    """Pickups outside 0001-01-02..9999-12-30 UTC (where a window key cannot be written)."""
    record = {"vendorId": 1, "pickupDate": stamp, "googleDistance": distance, "tripDuration": 60}
    result = fast(json.dumps(record).encode())
    assert (result != Reason.BAD_TIMESTAMP) is inside
    assert result == liberal(record)


pairs = st.lists(
    st.tuples(
        st.sampled_from(["vendorId", "pickupDate", "googleDistance", "tripDuration",
                         "passengerCount", "storeAndFwdFlag", "id", "extra"]),
        st.one_of(st.integers(-1, 100), st.floats(0, 600), st.none(), st.text(max_size=3),
                  st.sampled_from(["2024-11-25T08:00:00Z", "1.5", "Y"])),
    ),
    max_size=14,
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(
    st.fixed_dictionaries(
        {"vendorId": st.integers(1, 3), "pickupDate": st.just("2024-11-25T08:00:00Z"),
         "googleDistance": st.floats(0, 10), "tripDuration": st.integers(0, 100)}
    ),
    pairs,
)  # fmt: skip
def test_a_key_given_twice_takes_its_last_value_on_both_paths(
    record: dict[str, Any], extra: list[tuple[str, Any]]
) -> None:
    """Duplicate keys (and fields the typed path does not know): both paths take the last value."""
    items = [*record.items(), *extra]
    data = ("{" + ",".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in items) + "}").encode()
    assert fast(data) == liberal(dict(items))
