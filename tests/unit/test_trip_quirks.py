"""Records in each quirk of the original workshop generator parse to the right values."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from taxi_stream.core.errors import Reason, RecordError
from taxi_stream.core.trip import Trip
from taxi_stream.function.codec import decode_trip


def wire(**overrides: Any) -> dict[str, Any]:
    """A clean wire record, with keyword overrides (None removes the field)."""
    record: dict[str, Any] = {
        "id": "trip-1",
        "vendorId": 1,
        "pickupDate": "2024-11-25T08:00:00+00:00",
        "dropoffDate": "2024-11-25T08:10:00+00:00",
        "passengerCount": 2,
        "pickupLongitude": -73.98,
        "pickupLatitude": 40.75,
        "dropoffLongitude": -73.95,
        "dropoffLatitude": 40.78,
        "storeAndFwdFlag": "N",
        "gcDistance": 1.8,
        "tripDuration": 600,
        "googleDistance": 2.25,
        "googleDuration": 640,
    }
    record.update(overrides)
    return {k: v for k, v in record.items() if v is not None}


def decode(record: dict[str, Any] | bytes, **kw: Any) -> Trip:
    """Decode through the public entry point the handler uses."""
    data = record if isinstance(record, bytes) else json.dumps(record).encode()
    return decode_trip(data, **kw)


PICKUP_MS = int(datetime(2024, 11, 25, 8, 0, tzinfo=UTC).timestamp()) * 1000


def test_clean_record_parses_to_exact_units() -> None:
    """Our producer's clean form: miles to thousandths, seconds, epoch milliseconds."""
    trip = decode(wire())
    assert trip == Trip("1", PICKUP_MS, 2250, 600, 2, PICKUP_MS + 600_000)


@pytest.mark.parametrize("text", [" -73.98", "\t-73.98", "-73.98", " \t-73.98"])
def test_coordinates_as_strings_with_leading_blanks(text: str) -> None:
    """Coordinates sent as strings, some with a leading space or tab, are accepted."""
    trip = decode(wire(pickupLongitude=text, dropoffLatitude=" 40.7"))
    assert trip.vendor_id == "1"
    assert trip.distance_milli == 2250


@pytest.mark.parametrize("flag", [0, 1, "0", "1", "Y", "N", "y"])
def test_store_and_fwd_flag_as_zero_or_one(flag: Any) -> None:
    """storeAndFwdFlag as 0/1 (number or string) is as good as Y/N."""
    assert decode(wire(storeAndFwdFlag=flag)).duration_s == 600


def test_naive_timestamp_is_read_in_the_configured_zone() -> None:
    """A naive timestamp (datetime.now().isoformat()) is UTC by default, or the given zone."""
    naive = "2024-11-25T08:00:00.250000"
    assert decode(wire(pickupDate=naive, dropoffDate=None)).pickup_ms == PICKUP_MS + 250
    in_ny = decode(wire(pickupDate=naive, dropoffDate=None), naive_tz=ZoneInfo("America/New_York"))
    assert in_ny.pickup_ms == PICKUP_MS + 250 + 5 * 3_600_000  # EST is UTC-5 in November


def test_non_unique_ids_are_each_a_trip() -> None:
    """Two records with the same id are two trips: ids are not keys."""
    first, second = decode(wire(id="same")), decode(wire(id="same", vendorId=2))
    assert (first.vendor_id, second.vendor_id) == ("1", "2")


def test_every_field_a_string() -> None:
    """The CSV/SQL loader variant: every value a string, numbers included."""
    record = {k: str(v) for k, v in wire().items()}
    assert decode(record) == decode(wire())


def test_passenger_count_up_to_nine() -> None:
    """passengerCount 9 is allowed (the original drew up to 9); 10 is rejected."""
    assert decode(wire(passengerCount=9)).passenger_count == 9
    with pytest.raises(RecordError) as caught:
        decode(wire(passengerCount=10))
    assert caught.value.reason == Reason.BAD_PASSENGERS


def test_trip_duration_is_trusted_over_dropoff() -> None:
    """dropoffDate 30-100 min after pickup with an independent tripDuration: trust the latter."""
    trip = decode(wire(dropoffDate="2024-11-25T09:30:00+00:00", tripDuration=8))
    assert trip.duration_s == 8
    assert trip.dropoff_ms == PICKUP_MS + 90 * 60_000


def test_distance_falls_back_to_great_circle() -> None:
    """Without googleDistance the great-circle distance is used."""
    assert decode(wire(googleDistance=None)).distance_milli == 1800


def test_duration_falls_back_to_google_then_timestamps() -> None:
    """Duration: tripDuration, else googleDuration, else dropoff minus pickup."""
    assert decode(wire(tripDuration=None)).duration_s == 640
    assert decode(wire(tripDuration=None, googleDuration=None)).duration_s == 600


def test_fractional_passenger_count_written_as_float() -> None:
    """TLC-style 1.0 is one passenger; 1.5 is a rejection."""
    assert decode(wire(passengerCount=1.0)).passenger_count == 1
    with pytest.raises(RecordError):
        decode(wire(passengerCount=1.5))


REJECTIONS = [
    (b"\xff\xfe", Reason.NOT_UTF8),
    (json.dumps(wire(id="@")).encode().replace(b"@", b"\xff"), Reason.NOT_UTF8),
    (b"{not json", Reason.NOT_JSON),
    (b"[1, 2]", Reason.NOT_OBJECT),
    (wire(vendorId=None), Reason.MISSING_VENDOR),
    (wire(vendorId="  "), Reason.MISSING_VENDOR),
    (wire(vendorId=True), Reason.BAD_VENDOR),
    (wire(pickupDate=None), Reason.MISSING_FIELD),
    (wire(pickupDate="25/11/2024 08:00"), Reason.BAD_TIMESTAMP),
    (wire(pickupDate=1732521600), Reason.BAD_TIMESTAMP),
    (wire(googleDistance=-0.5), Reason.BAD_DISTANCE),
    (wire(googleDistance=5000), Reason.BAD_DISTANCE),
    (wire(googleDistance="far"), Reason.BAD_NUMBER),
    (wire(googleDistance=None, gcDistance=None), Reason.MISSING_FIELD),
    (wire(tripDuration=-1), Reason.BAD_DURATION),
    (wire(tripDuration=10**7), Reason.BAD_DURATION),
    (wire(passengerCount=-1), Reason.BAD_PASSENGERS),
    (wire(pickupLatitude="north"), Reason.BAD_COORDINATE),
    (wire(pickupLatitude=91), Reason.BAD_COORDINATE),
    (wire(storeAndFwdFlag="maybe"), Reason.BAD_FLAG),
    (wire(tripDuration="NaN"), Reason.BAD_NUMBER),
    (wire(googleDistance="1_5"), Reason.BAD_NUMBER),
    (wire(googleDistance="\u0661\u0662"), Reason.BAD_NUMBER),  # Arabic-Indic digits
    (wire(tripDuration="\uff16\uff10"), Reason.BAD_NUMBER),  # fullwidth digits
    (wire(googleDuration="abc"), Reason.BAD_NUMBER),  # present, though tripDuration is used
    (wire(gcDistance="abc"), Reason.BAD_NUMBER),  # present, though googleDistance is used
    (wire(googleDuration=-5), Reason.BAD_DURATION),
]


@pytest.mark.parametrize(("record", "reason"), REJECTIONS)
def test_malformed_fields_are_rejected_with_a_reason(record: Any, reason: str) -> None:
    """A present but malformed field rejects the record with its reason code, never a guess."""
    with pytest.raises(RecordError) as caught:
        decode(record)
    assert caught.value.reason == reason
    assert caught.value.message
