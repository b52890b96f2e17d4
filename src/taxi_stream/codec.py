"""Fast decoding of wire records into Trips: msgspec for the clean form, core rules for the rest.

The clean form our producer writes is decoded and range-checked by one typed msgspec call. Any
record that does not fit it exactly (a quirk of the original generator, or a bad record) is
decoded again by the liberal rules of ``taxi_stream.core.trip.parse_trip``, which accept every
quirk and reject with a reason. A record the fast path accepts gives the same Trip as the
liberal path (a property test pins that).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from typing import Annotated, Any, Final, Literal

import msgspec

from taxi_stream.core.errors import RecordError
from taxi_stream.core.trip import (
    MAX_DISTANCE_MILES,
    MAX_DURATION_S,
    MAX_PASSENGERS,
    Reason,
    Trip,
    parse_trip,
)

MAX_RECORD_BYTES: Final = 1_048_576  # a Kinesis record's data is at most 1 MiB


_Miles = Annotated[float, msgspec.Meta(ge=0, le=MAX_DISTANCE_MILES)]
_Seconds = Annotated[int, msgspec.Meta(ge=0, le=MAX_DURATION_S)]
_Passengers = Annotated[int, msgspec.Meta(ge=0, le=MAX_PASSENGERS)]
_Lon = Annotated[float, msgspec.Meta(ge=-180, le=180)]
_Lat = Annotated[float, msgspec.Meta(ge=-90, le=90)]


class _CleanTrip(msgspec.Struct, gc=False):
    """The clean wire form, exactly as our producer writes it; unknown fields are ignored."""

    vendorId: int | str  # wire names are camelCase
    pickupDate: datetime
    dropoffDate: datetime | None = None
    passengerCount: _Passengers | None = None
    tripDuration: _Seconds | None = None
    googleDuration: _Seconds | None = None
    googleDistance: _Miles | None = None
    gcDistance: _Miles | None = None
    pickupLongitude: _Lon | None = None
    pickupLatitude: _Lat | None = None
    dropoffLongitude: _Lon | None = None
    dropoffLatitude: _Lat | None = None
    storeAndFwdFlag: Literal["Y", "N"] | None = None


_clean = msgspec.json.Decoder(_CleanTrip)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)
_loose = msgspec.json.Decoder()


TripValues = tuple[str, int, int, int, int]
"""(vendor id, pickup epoch ms, distance in thousandths of a mile, duration s, passengers)."""


def decode_values(data: bytes, naive_tz: tzinfo = UTC, *, with_pickup: bool = True) -> TripValues:
    """The hot path: decode one record straight to the values a window total needs.

    ``with_pickup=False`` leaves the pickup time validated but unconverted (0), for windows
    that do not need it. Raises RecordError with the reason for a record that cannot be
    understood.
    """
    values = None
    if data.isascii():  # non-ASCII bytes take the core rules, which check UTF-8 everywhere
        try:  # noqa: SIM105 - suppress() costs more than the decode on this path
            values = _fast(_clean.decode(data), naive_tz, with_pickup=with_pickup)
        except msgspec.DecodeError:
            pass
    return values or _values(parse_trip(_loose_object(data), naive_tz))


def decode_trip(data: bytes, naive_tz: tzinfo = UTC) -> Trip:
    """Decode one record's bytes into a Trip, or raise RecordError with the reason."""
    if not data.isascii():
        return parse_trip(_loose_object(data), naive_tz)
    try:
        wire = _clean.decode(data)
        values = _fast(wire, naive_tz, with_pickup=True)
    except msgspec.DecodeError:
        values = None
    if values is None:
        return parse_trip(_loose_object(data), naive_tz)
    dropoff = wire.dropoffDate
    if dropoff is not None and dropoff.tzinfo is None:
        dropoff = dropoff.replace(tzinfo=naive_tz)
    return Trip(*values, dropoff_ms=None if dropoff is None else (dropoff - _EPOCH) // _ONE_MS)


def _fast(wire: _CleanTrip, naive_tz: tzinfo, *, with_pickup: bool) -> TripValues | None:
    """Values of a clean record; None when the core rules must decide (and say why)."""
    distance = wire.googleDistance if wire.googleDistance is not None else wire.gcDistance
    duration = wire.tripDuration if wire.tripDuration is not None else wire.googleDuration
    vendor = wire.vendorId
    if distance is None or duration is None or vendor.__class__ is not int:
        return None
    pickup_ms = 0
    if with_pickup:
        pickup = wire.pickupDate
        if pickup.tzinfo is None:
            pickup = pickup.replace(tzinfo=naive_tz)
        pickup_ms = (pickup - _EPOCH) // _ONE_MS
    return (str(vendor), pickup_ms, round(distance * 1000), duration, wire.passengerCount or 0)


def _values(trip: Trip) -> TripValues:
    return (
        trip.vendor_id,
        trip.pickup_ms,
        trip.distance_milli,
        trip.duration_s,
        trip.passenger_count,
    )


def _loose_object(data: bytes) -> dict[str, Any]:
    if len(data) > MAX_RECORD_BYTES:
        raise RecordError(Reason.TOO_LARGE, f"record is {len(data)} bytes, over 1 MiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RecordError(Reason.NOT_UTF8, f"not UTF-8 at byte {exc.start}") from None
    try:
        value = _loose.decode(text)
    except msgspec.DecodeError as exc:
        raise RecordError(Reason.NOT_JSON, f"not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise RecordError(Reason.NOT_OBJECT, f"a JSON {type(value).__name__}, not an object")
    return value
