"""The DynamoDB store's items: window totals and dead letters as attribute maps, and back.

Numbers go in as exact decimals (miles, US dollars), never float; a vendor id that starts with
``#`` has it doubled in its partition key, so the keys that start with one ``#`` stay reserved.
Standard library and boto3 only: the Lambda handler imports this module.
"""

from __future__ import annotations

import hashlib
from decimal import Context, Decimal, Inexact
from typing import TYPE_CHECKING, Final

from taxi_stream.core.errors import StoreError
from taxi_stream.core.records import Contribution, DeadLetter, Origin, WindowTotals
from taxi_stream.core.timefmt import iso_ms, iso_utc, parse_iso_ms
from taxi_stream.core.totals import Totals
from taxi_stream.core.windows import WindowClock
from taxi_stream.stores.dynamodb_marks import PK, SK

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, UpdateItemInputTypeDef

    Item = dict[str, AttributeValueTypeDef]

DEAD_LETTER_KEY: Final = "#dead-letter"
MAX_RAW_BYTES: Final = 256 * 1024  # of a dead letter's raw bytes: an item holds at most 400 KB
MAX_MESSAGE_CHARS: Final = 2048

_EXACT: Final = Context(prec=38, traps=[Inexact])  # DynamoDB numbers carry 38 digits
WINDOW_NAMES: Final = {
    "#pk": PK,
    "#sk": SK,
    "#e": "windowEnd",
    "#n": "tripCount",
    "#d": "totalDistance",
    "#t": "totalDuration",
    "#p": "passengerCount",
    "#f": "totalFare",
    "#tp": "totalTip",
    "#a": "totalAmount",
    "#l": "lateTrips",
    "#k": "contributionCount",
    "#u": "updatedAt",
    "#c": "clock",
}
WINDOW_PROJECTION: Final = ", ".join(WINDOW_NAMES)  # every window attribute but the id set


def miles(distance_milli: int) -> Decimal:
    """Thousandths of a mile as an exact decimal number of miles (1234 -> Decimal('1.234'))."""
    return Decimal(distance_milli).scaleb(-3, _EXACT)


def milli(miles_text: str) -> int:
    """An exact decimal number of miles back to thousandths; StoreError if not a whole number."""
    value = Decimal(miles_text).scaleb(3, _EXACT)
    if value != value.to_integral_value():
        raise StoreError(f"totalDistance {miles_text} is not a whole number of thousandths")
    return int(value)


def dollars(cents: int) -> Decimal:
    """Cents as an exact decimal number of US dollars (-1234 -> Decimal('-12.34'))."""
    return Decimal(cents).scaleb(-2, _EXACT)


def cents(item: Item, name: str) -> int:
    """A money attribute (exact dollars) back to cents: 0 when absent (an item written before
    the money totals); StoreError if not a whole number of cents."""
    if name not in item:
        return 0
    text = item[name]["N"]
    value = Decimal(text).scaleb(2, _EXACT)
    if value != value.to_integral_value():
        raise StoreError(f"{name} {text} is not a whole number of cents")
    return int(value)


def apply_request(table: str, c: Contribution, now_ms: int) -> UpdateItemInputTypeDef:
    """One conditional UpdateItem: ADD the totals and the id, unless the id is in the set."""
    t = c.totals
    return {
        "TableName": table,
        "Key": {PK: {"S": vendor_key(c.vendor_id)}, SK: {"S": iso_utc(c.window_start_ms)}},
        "UpdateExpression": (
            "ADD #n :n, #d :d, #t :t, #p :p, #f :f, #tp :tp, #a :a, #l :l, #k :one, #cs :ids"
            " SET #e = :e, #u = :u, #c = :c"
        ),
        "ConditionExpression": "attribute_not_exists(#cs) OR NOT contains(#cs, :id)",
        "ExpressionAttributeNames": {
            **{k: v for k, v in WINDOW_NAMES.items() if k not in ("#pk", "#sk")},
            "#cs": "contributions",
        },
        "ExpressionAttributeValues": {
            ":n": {"N": str(t.trip_count)},
            ":d": {"N": str(miles(t.distance_milli))},
            ":t": {"N": str(t.duration_s)},
            ":p": {"N": str(t.passenger_count)},
            ":f": {"N": str(dollars(t.fare_cents))},
            ":tp": {"N": str(dollars(t.tip_cents))},
            ":a": {"N": str(dollars(t.amount_cents))},
            ":l": {"N": str(t.late_trips)},
            ":one": {"N": "1"},
            ":ids": {"SS": [c.contribution_id]},
            ":id": {"S": c.contribution_id},
            ":e": {"S": iso_utc(c.window_end_ms)},
            ":u": {"S": iso_utc(now_ms)},
            ":c": {"S": c.clock},
        },
    }


def vendor_key(vendor_id: str) -> str:
    """Partition key of a vendor: a leading '#' is doubled, so '#...' keys stay reserved."""
    return "#" + vendor_id if vendor_id.startswith("#") else vendor_id


def vendor_of(key: str) -> str | None:
    """The vendor id of a partition key, or None for a reserved key (dead letters)."""
    if key.startswith("##"):
        return key[1:]
    return None if key.startswith("#") else key


def in_range(ts_ms: int, start_ms: int | None, end_ms: int | None) -> bool:
    return (start_ms is None or ts_ms >= start_ms) and (end_ms is None or ts_ms < end_ms)


def range_condition(start_ms: int | None, end_ms: int | None) -> tuple[list[str], Item]:
    """Conditions on windowStart that hold for every start in [start_ms, end_ms).

    Widened to whole seconds (window starts are whole seconds); the caller filters exactly.
    """
    conditions: list[str] = []
    values: Item = {}
    if start_ms is not None:
        conditions.append("#sk >= :lo")
        values[":lo"] = {"S": iso_utc(start_ms - start_ms % 1000)}
    if end_ms is not None:
        conditions.append("#sk <= :hi")
        values[":hi"] = {"S": iso_utc(-(-end_ms // 1000) * 1000)}
    if len(conditions) == 2:
        conditions = ["#sk BETWEEN :lo AND :hi"]  # a key condition takes one range operator
    return conditions, values


def window_of(item: Item) -> WindowTotals:
    try:
        totals = Totals(
            trip_count=int(item["tripCount"]["N"]),
            distance_milli=milli(item["totalDistance"]["N"]),
            duration_s=int(item["totalDuration"]["N"]),
            passenger_count=int(item["passengerCount"]["N"]),
            fare_cents=cents(item, "totalFare"),
            tip_cents=cents(item, "totalTip"),
            amount_cents=cents(item, "totalAmount"),
            late_trips=int(item["lateTrips"]["N"]) if "lateTrips" in item else 0,
        )
        return WindowTotals(
            vendor_id=item[PK]["S"].removeprefix("#"),  # only vendor keys get here
            window_start_ms=parse_iso_ms(item[SK]["S"]),
            window_end_ms=parse_iso_ms(item["windowEnd"]["S"]),
            totals=totals,
            contributions=int(item["contributionCount"]["N"]),
            clock=WindowClock(item["clock"]["S"]),
            updated_ms=parse_iso_ms(item["updatedAt"]["S"]),
        )
    except (KeyError, ValueError, ArithmeticError) as exc:
        raise StoreError(f"not a window item: {item.get(PK)} {item.get(SK)}: {exc!r}") from exc


def letter_item(letter: DeadLetter, now_ms: int) -> Item:
    o = letter.origin
    arrival = "unknown" if o.arrival_ms is None else iso_ms(o.arrival_ms)
    item: Item = {
        PK: {"S": DEAD_LETTER_KEY},
        SK: {"S": f"{arrival}|{letter.letter_id}"},
        "letterId": {"S": letter.letter_id},
        "stream": {"S": o.stream},
        "shardId": {"S": o.shard_id},
        "sequenceNumber": {"S": o.sequence_number},
        "reason": {"S": letter.reason},
        "message": {"S": letter.message[:MAX_MESSAGE_CHARS]},
        "raw": {"B": letter.raw[:MAX_RAW_BYTES]},
        "rawSize": {"N": str(len(letter.raw))},
        "rawSha256": {"S": hashlib.sha256(letter.raw).hexdigest()},
        "storedAt": {"S": iso_ms(now_ms)},
    }
    if o.sub_sequence is not None:
        item["subSequence"] = {"N": str(o.sub_sequence)}
    if o.arrival_ms is not None:
        item["arrivalMs"] = {"N": str(o.arrival_ms)}
    return item


def letter_of(item: Item) -> DeadLetter:
    try:
        origin = Origin(
            stream=item["stream"]["S"],
            shard_id=item["shardId"]["S"],
            sequence_number=item["sequenceNumber"]["S"],
            sub_sequence=int(item["subSequence"]["N"]) if "subSequence" in item else None,
            arrival_ms=int(item["arrivalMs"]["N"]) if "arrivalMs" in item else None,
        )
        return DeadLetter(origin, item["reason"]["S"], item["message"]["S"], item["raw"]["B"])
    except (KeyError, ValueError) as exc:
        raise StoreError(f"not a dead-letter item: {item.get(SK)}: {exc!r}") from exc
