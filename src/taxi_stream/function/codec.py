"""Fast decoding of wire records into Trips: msgspec for the clean form, core rules for the rest.

The clean form our producer writes is decoded and range-checked by one typed msgspec call. Any
record that does not fit it exactly (a quirk of the original generator, or a bad record) is
decoded again by the liberal rules of ``taxi_stream.core.trip.parse_trip``, which accept every
quirk and reject with a reason. A record the fast path accepts gives the same Trip as the
liberal path (a property test pins that).

No bytes make decoding raise anything but RecordError. The typed path cannot recurse (it takes
only flat objects of known fields); the liberal path measures the nesting first, so a deeply
nested record is ``too_deep`` by its bytes alone, before msgspec or the interpreter's recursion
limit could decide.

The codec keeps no state between calls: the cache of timestamp texts already read is its
caller's (``Stamps``, one per handler), so two handlers never share one.
"""

from __future__ import annotations

from datetime import UTC, tzinfo
from itertools import accumulate
from typing import Annotated, Any, Final, Literal

import msgspec

from taxi_stream.core import oversize
from taxi_stream.core.errors import Reason, RecordError
from taxi_stream.core.limits import MAX_RECORD_BYTES
from taxi_stream.core.money import MAX_AMOUNT_USD, MAX_ZONE_ID, cents
from taxi_stream.core.trip import (
    MAX_DISTANCE_MILES,
    MAX_DURATION_S,
    MAX_PASSENGERS,
    Trip,
    check_pickup_ms,
    parse_timestamp,
    parse_trip,
    replayed_row_before,
    timestamp_ms,
)

MAX_DEPTH: Final = 64  # levels of arrays and objects; a trip has one
NEAR_HALF: Final = 0.499999  # a cent's float residual at least this near a half takes money.cents


_Miles = Annotated[float, msgspec.Meta(ge=0, le=MAX_DISTANCE_MILES)]
_Seconds = Annotated[int, msgspec.Meta(ge=0, le=MAX_DURATION_S)]
_Passengers = Annotated[int, msgspec.Meta(ge=0, le=MAX_PASSENGERS)]
_Lon = Annotated[float, msgspec.Meta(ge=-180, le=180)]
_Lat = Annotated[float, msgspec.Meta(ge=-90, le=90)]
_Dollars = Annotated[float, msgspec.Meta(ge=-MAX_AMOUNT_USD, le=MAX_AMOUNT_USD)]
_Zone = Annotated[int, msgspec.Meta(ge=1, le=MAX_ZONE_ID)]


class CleanTrip(msgspec.Struct, gc=False, forbid_unknown_fields=True, kw_only=True):
    """The clean wire form, exactly as our producer writes it; any other field takes the core
    rules (so skipping an unknown value, which msgspec does by recursion, never happens here).

    The fields are declared in the order our producer writes them: msgspec looks for each key
    at the field after the last one found first, so in that order every key is found at once.
    Read field by field by ``_fast`` here and column by column by ``function/columns.py``."""

    id: str | int | None = None  # not used; wire names are camelCase
    vendorId: int | str
    pickupDate: str  # parsed by the core's own rule (msgspec's differs in corner cases)
    dropoffDate: str | None = None
    passengerCount: _Passengers | None = None
    pickupLongitude: _Lon | None = None
    pickupLatitude: _Lat | None = None
    dropoffLongitude: _Lon | None = None
    dropoffLatitude: _Lat | None = None
    storeAndFwdFlag: Literal["Y", "N"] | None = None
    gcDistance: _Miles | None = None
    tripDuration: _Seconds | None = None
    googleDistance: _Miles | None = None
    googleDuration: _Seconds | None = None
    fareAmount: _Dollars | None = None
    tipAmount: _Dollars | None = None
    totalAmount: _Dollars | None = None
    puLocationId: _Zone | None = None  # checked, not used
    doLocationId: _Zone | None = None


_clean = msgspec.json.Decoder(CleanTrip)
decode_clean: Final = _clean.decode  # one clean record: a CleanTrip, or msgspec.DecodeError
_loose = msgspec.json.Decoder()
_JSON_KINDS: Final = {
    list: "array",
    str: "string",
    int: "number",
    float: "number",
    bool: "boolean",
    type(None): "null",
}


TripValues = tuple[str, int, int, int, int, int, int, int]
"""(vendor id, event epoch ms, distance in thousandths of a mile, duration s, passengers,
fare, tip and total amount in cents).

The event instant is the pickup, or with ``dropoff`` the dropoff: ``dropoffDate`` when the record
has one, else pickup plus the duration.
"""


Stamps = dict[str, int]
"""Timestamp text -> epoch ms, for one naive zone: a cache its owner (a handler) keeps."""


def decode_values(
    data: bytes, naive_tz: tzinfo = UTC, stamps: Stamps | None = None, dropoff: bool = False
) -> TripValues:
    """The hot path: decode one record straight to the values a window total needs.

    ``stamps`` remembers the instants of timestamp texts already read in ``naive_tz`` (the
    caller keeps one per zone, and passes the same one on every call; None: remember nothing).
    ``dropoff``: the event instant is the dropoff, not the pickup (see ``TripValues``).
    Raises RecordError with the reason for a record that cannot be understood.
    """
    values = None
    # Non-ASCII bytes take the core rules, which check UTF-8 everywhere; so do oversized ones.
    if data.isascii() and len(data) <= MAX_RECORD_BYTES:
        memo = {} if stamps is None else stamps
        try:  # noqa: SIM105 - suppress() costs more than the decode on this path
            values = _fast(_clean.decode(data), naive_tz, memo, dropoff)
        except msgspec.DecodeError:
            pass
    return values or _values(parse_trip(_loose_object(data), naive_tz), dropoff)


def decode_trip(data: bytes, naive_tz: tzinfo = UTC) -> Trip:
    """Decode one record into a full Trip (dropoff included), with the hot path's verdict."""
    decode_values(data, naive_tz)  # raises RecordError exactly as the handler would
    return parse_trip(_loose_object(data), naive_tz)


def _fast(wire: CleanTrip, naive_tz: tzinfo, stamps: Stamps, dropoff: bool) -> TripValues | None:
    """Values of a clean record; None when the core rules must decide (and say why)."""
    distance = wire.googleDistance if wire.googleDistance is not None else wire.gcDistance
    duration = wire.tripDuration if wire.tripDuration is not None else wire.googleDuration
    vendor = wire.vendorId
    if distance is None or duration is None or vendor.__class__ is not int:
        return None
    try:
        pickup_ms = stamps.get(wire.pickupDate)
        if pickup_ms is None:
            pickup_ms = remember(stamps, wire.pickupDate, "pickupDate", naive_tz)
        if dropoff:
            pickup_ms = _dropoff_ms(wire, pickup_ms, duration, naive_tz, stamps)
        elif wire.dropoffDate:
            parse_timestamp(wire.dropoffDate, "dropoffDate")  # checked, not used
    except RecordError:
        return None
    # Cents as core.money.cents gives them: the float product rounded when it is not within a
    # millionth of a half cent (then no rounding rule can differ), else that exact rule. Inline:
    # a call per amount would cost more than the rest of the money.
    fare, tip, total, near = wire.fareAmount, wire.tipAmount, wire.totalAmount, NEAR_HALF
    f = 0 if fare is None else round(fare * 100)
    t = 0 if tip is None else round(tip * 100)
    a = 0 if total is None else round(total * 100)
    if fare is not None and not -near < fare * 100 - f < near:
        f = cents(fare, "fareAmount")
    if tip is not None and not -near < tip * 100 - t < near:
        t = cents(tip, "tipAmount")
    if total is not None and not -near < total * 100 - a < near:
        a = cents(total, "totalAmount")
    return (str(vendor), pickup_ms, round(distance * 1000), duration, wire.passengerCount or 0,
            f, t, a)  # fmt: skip


def _dropoff_ms(
    wire: CleanTrip, pickup_ms: int, duration_s: int, naive_tz: tzinfo, stamps: Stamps
) -> int:
    """The dropoff instant: ``dropoffDate`` (read as the core reads it), else pickup + duration."""
    if not wire.dropoffDate:
        return pickup_ms + duration_s * 1000
    found = stamps.get(wire.dropoffDate)
    return remember(stamps, wire.dropoffDate, "dropoffDate", naive_tz) if found is None else found


STAMPS_MAX: Final = 65_536  # trips of one batch share their seconds; a bound keeps it small


def remember(stamps: Stamps, text: str, name: str, naive_tz: tzinfo) -> int:
    """The core's timestamp rule, memoised: the same text always gives the same instant."""
    ms = timestamp_ms(text, name, naive_tz)
    check_pickup_ms(ms, text)
    if len(stamps) >= STAMPS_MAX:
        stamps.clear()
    stamps[text] = ms
    return ms


def _values(trip: Trip, dropoff: bool = False) -> TripValues:
    event_ms = trip.pickup_ms
    if dropoff:
        event_ms = (
            trip.dropoff_ms if trip.dropoff_ms is not None else event_ms + trip.duration_s * 1000
        )
    return (
        trip.vendor_id,
        event_ms,
        trip.distance_milli,
        trip.duration_s,
        trip.passenger_count,
        trip.fare_cents,
        trip.tip_cents,
        trip.amount_cents,
    )


def _loose_object(data: bytes) -> dict[str, Any]:
    if len(data) > MAX_RECORD_BYTES:
        raise RecordError(Reason.TOO_LARGE, f"record is {len(data)} bytes, over 1 MiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:  # a replayed row's id comes first, in the bytes before
        where = replayed_row_before(data[: exc.start].decode("utf-8"))
        named = "" if where is None else f"{where}: "
        raise RecordError(Reason.NOT_UTF8, f"{named}not UTF-8 at byte {exc.start}") from None
    if data.count(b"[") + data.count(b"{") > MAX_DEPTH:
        _check_depth(data)
    try:
        value = _loose.decode(text)
    except msgspec.DecodeError as exc:
        raise RecordError(Reason.NOT_JSON, f"not JSON: {exc}") from None
    if not isinstance(value, dict):
        kind = _JSON_KINDS.get(type(value), type(value).__name__)
        raise RecordError(Reason.NOT_OBJECT, f"a JSON {kind}, not an object")
    if oversize.is_envelope(value):  # a line too large for the stream, sent as its marker
        raise oversize.rejection(value)
    return value


_NOT_BRACKETS: Final = bytes(b for b in range(256) if b not in b"[]{}")
_STEP: Final = [0] * 256
_STEP[ord("[")] = _STEP[ord("{")] = 1
_STEP[ord("]")] = _STEP[ord("}")] = -1


def _check_depth(data: bytes) -> None:
    """RecordError(too_deep) when arrays and objects outside strings nest over MAX_DEPTH.

    Escaped backslashes, then escaped quotes, are dropped, so every quote left opens or closes a
    string (an unterminated one runs to the end); what lies between strings keeps the brackets.
    In UTF-8 no byte of a quote, a backslash or a bracket is part of another character.
    """
    plain = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    brackets = b"".join(plain.split(b'"')[::2]).translate(None, _NOT_BRACKETS)
    depth = max(accumulate(map(_STEP.__getitem__, brackets)), default=0)
    if depth > MAX_DEPTH:
        raise RecordError(
            Reason.TOO_DEEP, f"arrays and objects nested {depth} deep, over {MAX_DEPTH} levels"
        )
