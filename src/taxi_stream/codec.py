"""Fast decoding of wire records into Trips: msgspec for the clean form, core rules for the rest.

The clean form our producer writes is decoded and range-checked by one typed msgspec call. Any
record that does not fit it exactly (a quirk of the original generator, or a bad record) is
decoded again by the liberal rules of ``taxi_stream.core.trip.parse_trip``, which accept every
quirk and reject with a reason. A record the fast path accepts gives the same Trip as the
liberal path (a property test pins that).
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
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
from taxi_stream.core.windows import to_epoch_ms

MAX_RECORD_BYTES: Final = 1_048_576  # a Kinesis record's data is at most 1 MiB

_Miles = Annotated[float, msgspec.Meta(ge=0, le=MAX_DISTANCE_MILES)]
_Seconds = Annotated[int, msgspec.Meta(ge=0, le=MAX_DURATION_S)]
_Lon = Annotated[float, msgspec.Meta(ge=-180, le=180)]
_Lat = Annotated[float, msgspec.Meta(ge=-90, le=90)]
_VendorText = Annotated[str, msgspec.Meta(pattern=r"^[!-~]{1,64}$")]
_VendorNumber = Annotated[int, msgspec.Meta(ge=-(10**18), le=10**18)]


class _CleanTrip(msgspec.Struct, gc=False):
    """The clean wire form, exactly as our producer writes it; unknown fields are ignored."""

    vendorId: _VendorNumber | _VendorText
    pickupDate: datetime
    dropoffDate: datetime | None = None
    passengerCount: Annotated[int, msgspec.Meta(ge=0, le=MAX_PASSENGERS)] | None = None
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
_loose = msgspec.json.Decoder()


def decode_trip(data: bytes, naive_tz: tzinfo = UTC) -> Trip:
    """Decode one record's bytes into a Trip, or raise RecordError with the reason."""
    try:
        wire = _clean.decode(data)
    except msgspec.DecodeError:
        return parse_trip(_loose_object(data), naive_tz)
    distance = wire.googleDistance if wire.googleDistance is not None else wire.gcDistance
    duration = wire.tripDuration if wire.tripDuration is not None else wire.googleDuration
    if distance is None or duration is None:
        return parse_trip(_loose_object(data), naive_tz)  # the liberal rules say why, or derive
    pickup = wire.pickupDate
    dropoff = wire.dropoffDate
    return Trip(
        vendor_id=str(wire.vendorId),
        pickup_ms=to_epoch_ms(pickup if pickup.tzinfo else pickup.replace(tzinfo=naive_tz)),
        distance_milli=round(distance * 1000),
        duration_s=duration,
        passenger_count=wire.passengerCount or 0,
        dropoff_ms=None
        if dropoff is None
        else to_epoch_ms(dropoff if dropoff.tzinfo else dropoff.replace(tzinfo=naive_tz)),
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
