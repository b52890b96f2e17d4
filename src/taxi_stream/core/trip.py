"""The canonical trip, validated from the camelCase wire record: liberal form, strict meaning.

Units: distance in thousandths of a mile (``distance_milli``), duration in whole seconds,
timestamps in epoch milliseconds UTC. Field rules (DESIGN section 3):

- distance = ``googleDistance``, else ``gcDistance`` (miles);
- duration = ``tripDuration``, else ``googleDuration``, else dropoff minus pickup (seconds);
- money (``fareAmount``, ``tipAmount``, ``totalAmount``) in exact cents, 0 when absent, and the
  zone ids checked, by ``taxi_stream.core.money``;
- a field that is present but malformed rejects the record with a reason code; an absent (or
  null) optional field is simply absent.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any, Final

from taxi_stream.core.errors import Reason, RecordError, quoted
from taxi_stream.core.money import AMOUNT_FIELDS, amount_cents, check_zones
from taxi_stream.core.numbers import number
from taxi_stream.core.timefmt import to_epoch_ms
from taxi_stream.core.windows import FIRST_INSTANT_MS, LAST_INSTANT_MS

MAX_DISTANCE_MILES: Final = 500  # longer is not a taxi trip in NYC
MAX_DURATION_S: Final = 86_400  # a trip over a day is a meter left running
MAX_PASSENGERS: Final = 9
MAX_VENDOR_LEN: Final = 64
SHOWN_SOURCE_CHARS: Final = 200  # of a replayed row's file name, in a dead letter's message
REPLAYED_SUFFIXES: Final = (".csv", ".parquet", ".pq", ".parq")  # of a file replay names rows of


@dataclass(frozen=True, slots=True)
class Trip:
    """One taxi trip, validated and in exact units."""

    vendor_id: str
    pickup_ms: int
    distance_milli: int
    duration_s: int
    passenger_count: int
    dropoff_ms: int | None = None
    fare_cents: int = 0  # fareAmount, tipAmount and totalAmount in exact cents (core/money.py)
    tip_cents: int = 0
    amount_cents: int = 0


def parse_trip(fields: Mapping[str, Any], naive_tz: tzinfo = UTC) -> Trip:
    """Validate one decoded wire record into a Trip, or raise RecordError with its reason.

    ``naive_tz`` is the zone of timestamps written without an offset (the original generator's
    ``datetime.now().isoformat()``, which ran on UTC hosts). A record whose id has the form
    replay gives its rows, ``<file>:<row>`` with a CSV or Parquet file name, is named in the
    message: ``row 5 of trips.csv: ...``.
    """
    try:
        return _parse(fields, naive_tz)
    except RecordError as exc:
        where = _replayed_row(fields.get("id"))
        if where is None:
            raise
        raise RecordError(exc.reason, f"{where}: {exc.message}", raw=exc.raw) from None


def replayed_row_before(head: str) -> str | None:
    """``row 5 of trips.csv`` when a record's text opens with replay's id (``{"id":"trips.csv:5"``,
    whole), else None: for a record whose later bytes cannot be decoded (``not_utf8``)."""
    match = _LEADING_ID.match(head)
    if match is None:
        return None
    try:
        value = json.loads(match.group(1))
    except ValueError:
        return None
    return _replayed_row(value)


_LEADING_ID: Final = re.compile(r'\s*\{\s*"id"\s*:\s*("(?:[^"\\\x00-\x1f]|\\.)*")')


def _replayed_row(value: Any) -> str | None:
    """``row 5 of trips.csv`` for the id ``trips.csv:5`` (replay's form), else None."""
    if not isinstance(value, str):
        return None
    source, _, row = value.rpartition(":")
    if not source or not row.isdigit() or not row.isascii() or row.startswith("0"):
        return None
    if not source.lower().endswith(REPLAYED_SUFFIXES):  # an id like urn:trip:12345 is no row
        return None
    return f"row {int(row):,} of {source[:SHOWN_SOURCE_CHARS]}"


def _parse(fields: Mapping[str, Any], naive_tz: tzinfo) -> Trip:
    pickup_ms = _timestamp(fields, "pickupDate", naive_tz, required=True)
    check_pickup_ms(pickup_ms, fields["pickupDate"])  # type: ignore[arg-type]  # never None
    dropoff_ms = _timestamp(fields, "dropoffDate", naive_tz, required=False)
    for name, limit in _COORDINATES:
        _coordinate(fields, name, limit)
    _flag(fields.get("storeAndFwdFlag"))
    vendor = vendor_key(fields.get("vendorId"))
    distance_milli = _distance_milli(fields)
    duration_s = _duration_s(fields, pickup_ms, dropoff_ms)
    passengers = _passengers(fields.get("passengerCount"))
    # Money and zones last: a record rejected before they existed keeps its reason.
    check_zones(fields)
    fare, tip, amount = (amount_cents(fields, name) for name in AMOUNT_FIELDS)
    return Trip(
        vendor_id=vendor,
        pickup_ms=pickup_ms,  # type: ignore[arg-type]  # required=True never returns None
        distance_milli=distance_milli,
        duration_s=duration_s,
        passenger_count=passengers,
        dropoff_ms=dropoff_ms,
        fare_cents=fare,
        tip_cents=tip,
        amount_cents=amount,
    )


def vendor_key(value: Any) -> str:
    """Normalise a vendor id (number or string, surrounding blanks ignored) to its string key."""
    if value is None:
        raise RecordError(Reason.MISSING_VENDOR, "vendorId is missing")
    if isinstance(value, bool) or not isinstance(value, int | str | float):
        raise RecordError(
            Reason.BAD_VENDOR, f"vendorId must be a number or a string: {quoted(value)}"
        )
    if isinstance(value, float):
        if not value.is_integer():
            raise RecordError(Reason.BAD_VENDOR, f"vendorId is not a whole number: {quoted(value)}")
        value = int(value)
    key = str(value).strip()
    if not key:
        raise RecordError(Reason.MISSING_VENDOR, "vendorId is empty")
    if len(key) > MAX_VENDOR_LEN or not key.isprintable():
        raise RecordError(Reason.BAD_VENDOR, f"vendorId is not a short printable id: {key[:80]!r}")
    return key


def _present(fields: Mapping[str, Any], name: str) -> Any:
    value = fields.get(name)
    if isinstance(value, str) and not value.strip():
        return None  # an empty CSV cell is an absent value
    return value


def _distance_milli(fields: Mapping[str, Any]) -> int:
    google, great_circle = _miles(fields, "googleDistance"), _miles(fields, "gcDistance")
    miles = google if google is not None else great_circle
    if miles is None:
        raise RecordError(Reason.MISSING_FIELD, "neither googleDistance nor gcDistance is present")
    return round(miles * 1000)


def _miles(fields: Mapping[str, Any], name: str) -> float | None:
    """A present distance, checked even when another one is used: malformed is never ignored."""
    value = _present(fields, name)
    if value is None:
        return None
    miles = number(value, name)
    if not 0 <= miles <= MAX_DISTANCE_MILES:
        raise RecordError(
            Reason.BAD_DISTANCE, f"{name} {miles} is outside 0..{MAX_DISTANCE_MILES} miles"
        )
    return miles


def _duration_s(fields: Mapping[str, Any], pickup_ms: int | None, dropoff_ms: int | None) -> int:
    trip, google = _seconds(fields, "tripDuration"), _seconds(fields, "googleDuration")
    if trip is not None:
        return trip
    if google is not None:
        return google
    if pickup_ms is not None and dropoff_ms is not None:
        return _check_duration((dropoff_ms - pickup_ms) / 1000, "dropoffDate - pickupDate")
    raise RecordError(
        Reason.MISSING_FIELD,
        "no tripDuration, googleDuration or dropoffDate to take a duration from",
    )


def _seconds(fields: Mapping[str, Any], name: str) -> int | None:
    """A present duration, checked even when another one is used."""
    value = _present(fields, name)
    return None if value is None else _check_duration(number(value, name), name)


def _check_duration(seconds: float, name: str) -> int:
    if not 0 <= seconds <= MAX_DURATION_S:
        raise RecordError(
            Reason.BAD_DURATION, f"{name} {seconds} s is outside 0..{MAX_DURATION_S} s"
        )
    return round(seconds)


def _passengers(value: Any) -> int:
    if value is None or (isinstance(value, str) and not value.strip()):
        return 0  # TLC leaves the count empty for some trips; it counts as no passenger data
    count = number(value, "passengerCount")
    if isinstance(count, float) and not count.is_integer():
        raise RecordError(Reason.BAD_PASSENGERS, f"passengerCount is fractional: {quoted(value)}")
    if not 0 <= count <= MAX_PASSENGERS:
        shown = str(value).strip()[:80]  # the value as given (1e+20), not a 300-digit int
        raise RecordError(
            Reason.BAD_PASSENGERS, f"passengerCount {shown} is outside 0..{MAX_PASSENGERS}"
        )
    count = int(count)
    return count


def _timestamp(
    fields: Mapping[str, Any], name: str, naive_tz: tzinfo, *, required: bool
) -> int | None:
    value = _present(fields, name)
    if value is None:
        if required:
            raise RecordError(Reason.MISSING_FIELD, f"{name} is missing")
        return None
    if not isinstance(value, str):
        raise RecordError(
            Reason.BAD_TIMESTAMP, f"{name} is not an ISO-8601 string: {quoted(value)}"
        )
    return timestamp_ms(value, name, naive_tz)


def timestamp_ms(text: str, name: str, naive_tz: tzinfo) -> int:
    """Epoch ms of an ISO-8601 timestamp; without an offset it is read in ``naive_tz``."""
    moment = parse_timestamp(text, name)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=naive_tz)
    return to_epoch_ms(moment)


def check_pickup_ms(ms: int, text: str) -> None:
    """RecordError(bad_timestamp) for a pickup outside the instants a window can be written for."""
    if not FIRST_INSTANT_MS <= ms < LAST_INSTANT_MS:
        raise RecordError(
            Reason.BAD_TIMESTAMP,
            f"pickupDate {text.strip()[:80]!r} is outside 0001-01-02..9999-12-30 UTC",
        )


def parse_timestamp(text: str, name: str) -> datetime:
    """An ISO-8601 timestamp (surrounding blanks allowed), or RecordError(bad_timestamp)."""
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        raise RecordError(Reason.BAD_TIMESTAMP, f"{name} is not ISO-8601: {text[:80]!r}") from None


_COORDINATES: Final = (
    ("pickupLongitude", 180),
    ("pickupLatitude", 90),
    ("dropoffLongitude", 180),
    ("dropoffLatitude", 90),
)


def _coordinate(fields: Mapping[str, Any], name: str, limit: int) -> None:
    value = _present(fields, name)
    if value is None:
        return
    try:
        degrees = number(value, name)
    except RecordError as exc:
        raise RecordError(Reason.BAD_COORDINATE, exc.message) from None
    if not -limit <= degrees <= limit:
        raise RecordError(Reason.BAD_COORDINATE, f"{name} {degrees} is outside ±{limit}")


_FLAGS: Final = {"Y": True, "N": False, "1": True, "0": False}


def _flag(value: Any) -> None:
    if value is None or isinstance(value, bool):
        return
    key = str(value).strip().upper() if isinstance(value, str | int) else None
    if key not in _FLAGS and key != "":
        raise RecordError(Reason.BAD_FLAG, f"storeAndFwdFlag must be Y/N or 1/0: {quoted(value)}")
