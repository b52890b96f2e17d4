"""The DynamoDB store: window totals applied exactly once by conditional UpdateItem, dead letters.

One table (partition ``vendorId``, sort ``windowStart``, ISO-8601 UTC) holds two item types: a
window per (vendor, window start) with its totals (``totalDistance`` in miles, ``totalFare``,
``totalTip`` and ``totalAmount`` in US dollars, as exact decimals, and ``lateTrips``) and the set
of applied contribution ids; dead letters under the reserved partition ``#dead-letter``, sorted
by arrival time; and (event clock) one watermark per stream and shard under ``#watermark``.
docs/deploy-aws.md draws the layout and says why.
Standard library and boto3 only: the Lambda handler imports this module.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Context, Decimal, Inexact
from typing import TYPE_CHECKING, Final

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, WaiterError

from taxi_stream.core.errors import StoreError
from taxi_stream.core.records import Contribution, DeadLetter, Origin, WindowTotals
from taxi_stream.core.timefmt import iso_ms, iso_utc, parse_iso_ms
from taxi_stream.core.totals import Totals
from taxi_stream.core.watermarks import Watermark
from taxi_stream.core.windows import WindowClock
from taxi_stream.infra.awsclient import make_client
from taxi_stream.infra.clock import now_ms
from taxi_stream.stores import (
    DEFAULT_TABLE,
    stream_claimed,
    stream_label,
    windows_label,
    windows_mismatch,
)
from taxi_stream.stores.dynamodb_marks import (
    PK,
    SK,
    WATERMARK_KEY,
    watermark_item,
    watermark_request,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import (
        AttributeValueTypeDef,
        QueryInputPaginateTypeDef,
        UpdateItemInputTypeDef,
    )

    Item = dict[str, AttributeValueTypeDef]

log = logging.getLogger(__name__)

DEAD_LETTER_KEY: Final = "#dead-letter"
REASONS_SCAN: Final = 10_000  # dead letters read for the count by reason (the oldest ones)
META_KEY: Final = "#meta"  # what the table holds (its windows, who feeds it); never a vendor
MAX_RAW_BYTES: Final = 256 * 1024  # of a dead letter's raw bytes: an item holds at most 400 KB
MAX_MESSAGE_CHARS: Final = 2048

_CONDITION_FAILED: Final = "ConditionalCheckFailedException"
_EXACT: Final = Context(prec=38, traps=[Inexact])  # DynamoDB numbers carry 38 digits
_CLIENT_CONFIG: Final = Config(
    retries={"mode": "standard", "max_attempts": 8}, connect_timeout=5, read_timeout=30
)
_NAMES: Final = {
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
_WINDOW_PROJECTION: Final = ", ".join(_NAMES)  # every window attribute but the id set


def default_client(region: str | None = None, endpoint_url: str | None = None) -> DynamoDBClient:
    """A DynamoDB client; region and endpoint fall back to the standard AWS environment."""
    client: DynamoDBClient = make_client(
        "dynamodb", region=region, endpoint_url=endpoint_url, config=_CLIENT_CONFIG
    )
    return client


class DynamoDBStore:
    """Window totals and dead letters in one DynamoDB table; TotalsStore and TotalsQuery."""

    def __init__(
        self,
        table_name: str = DEFAULT_TABLE,
        client: DynamoDBClient | None = None,
        *,
        region: str | None = None,
        endpoint_url: str | None = None,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.table_name = table_name
        self._client = client
        self._region = region
        self._endpoint_url = endpoint_url
        self._clock = clock
        self._lock = threading.Lock()
        self._owns_client = client is None

    @property
    def client(self) -> DynamoDBClient:
        """The injected client, or a default one built on first use."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = default_client(self._region, self._endpoint_url)
        return self._client

    def close(self) -> None:
        """Close the HTTP connections of a client this store built itself."""
        with self._lock:
            if self._owns_client and self._client is not None:
                self._client.close()
                self._client = None

    def apply(
        self, contributions: Sequence[Contribution], watermark: Watermark | None = None
    ) -> int:
        """Apply each contribution not applied before (one conditional UpdateItem each), then
        raise the shard's watermark (a conditional UpdateItem that never lowers it).

        The watermark goes after the contributions it covers: a crash between the two leaves
        the old one, and the redelivered part, starting from it, judges its trips as before.
        """
        new = 0
        for c in contributions:
            request = _apply_request(self.table_name, c, self._clock())
            with self._errors(f"apply contribution {c.contribution_id!r}", once=True) as applied:
                self.client.update_item(**request)
            new += applied.count
        if watermark is not None:
            request = watermark_request(self.table_name, watermark, self._clock())
            with self._errors(f"raise the watermark of {watermark.shard_id}", once=True):
                self.client.update_item(**request)
        return new

    def watermark(self, stream: str, shard_id: str) -> Watermark | None:
        """The shard's stored watermark, if any (a consistent GetItem)."""
        key = {PK: {"S": WATERMARK_KEY}, SK: {"S": f"{stream}|{shard_id}"}}
        with self._errors(f"read the watermark of {shard_id}"):
            item = self.client.get_item(TableName=self.table_name, Key=key, ConsistentRead=True)
        return watermark_item(item["Item"]) if "Item" in item else None

    def watermarks(self) -> list[Watermark]:
        """Every shard's watermark, by stream and shard (one Query on their partition)."""
        with self._errors("query watermarks"):
            pages = self.client.get_paginator("query").paginate(
                TableName=self.table_name,
                KeyConditionExpression="#pk = :pk",
                ExpressionAttributeNames={"#pk": PK},
                ExpressionAttributeValues={":pk": {"S": WATERMARK_KEY}},
                ConsistentRead=True,
            )
            items = [item for page in pages for item in page["Items"]]
        return sorted(
            (watermark_item(item) for item in items), key=lambda w: (w.stream, w.shard_id)
        )

    def put_dead_letters(self, letters: Sequence[DeadLetter]) -> int:
        """Store dead letters once each (a conditional PutItem); return how many were new."""
        new = 0
        for letter in letters:
            item = _letter_item(letter, self._clock())
            with self._errors(f"store dead letter {letter.letter_id!r}", once=True) as stored:
                self.client.put_item(
                    TableName=self.table_name,
                    Item=item,
                    ConditionExpression="attribute_not_exists(#pk)",
                    ExpressionAttributeNames={"#pk": PK},
                )
            new += stored.count
        return new

    def windows(
        self,
        vendor_id: str | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> list[WindowTotals]:
        """Windows whose start lies in [start_ms, end_ms), ordered by vendor then start.

        With a vendor: one Query on its partition, the range as a key condition. Without: a
        paginated Scan that leaves out dead letters.
        """
        if start_ms is not None and end_ms is not None and start_ms >= end_ms:
            return []
        with self._errors("query windows"):
            items = list(self._window_items(vendor_id, start_ms, end_ms))
        found = [_window(item) for item in items if _vendor_of(item[PK]["S"]) is not None]
        return sorted(
            (w for w in found if _in_range(w.window_start_ms, start_ms, end_ms)),
            key=lambda w: (w.vendor_id, w.window_start_ms),
        )

    def _window_items(
        self, vendor_id: str | None, start_ms: int | None, end_ms: int | None
    ) -> Iterator[Item]:
        conditions, values = _range_condition(start_ms, end_ms)
        if vendor_id is None:
            values[":dl"] = {"S": DEAD_LETTER_KEY}
            for page in self.client.get_paginator("scan").paginate(
                TableName=self.table_name,
                FilterExpression=" AND ".join(["#pk <> :dl", *conditions]),
                ExpressionAttributeNames=_NAMES,
                ExpressionAttributeValues=values,
                ProjectionExpression=_WINDOW_PROJECTION,
            ):
                yield from page["Items"]
            return
        values[":pk"] = {"S": _vendor_key(vendor_id)}
        for page in self.client.get_paginator("query").paginate(
            TableName=self.table_name,
            KeyConditionExpression=" AND ".join(["#pk = :pk", *conditions]),
            ExpressionAttributeNames=_NAMES,
            ExpressionAttributeValues=values,
            ProjectionExpression=_WINDOW_PROJECTION,
        ):
            yield from page["Items"]

    def dead_letters(self, limit: int | None = None) -> list[DeadLetter]:
        """Dead letters, oldest arrival first (one Query on the dead-letter partition)."""
        if limit is not None and limit <= 0:
            return []
        request = self._letters
        if limit is not None:
            request["PaginationConfig"] = {"MaxItems": limit, "PageSize": limit}
        with self._errors("query dead letters"):
            pages = self.client.get_paginator("query").paginate(**request)
            items = [item for page in pages for item in page["Items"]]
        return [_letter(item) for item in items[:limit]]

    def claim_windows(self, seconds: int, clock: str) -> None:
        """Claim the table for these windows on first use (a '#meta' item); refuse other ones."""
        want = windows_label(clock, seconds)
        key = {PK: {"S": META_KEY}, SK: {"S": "windows"}}
        with self._errors("record the table's windows", once=True) as stored:
            self.client.put_item(
                TableName=self.table_name,
                Item={**key, "windows": {"S": want}},
                ConditionExpression="attribute_not_exists(#pk)",
                ExpressionAttributeNames={"#pk": PK},
            )
        if stored.count:
            return
        with self._errors("read the table's windows"):
            item = self.client.get_item(TableName=self.table_name, Key=key, ConsistentRead=True)
        have = item.get("Item", {}).get("windows", {}).get("S", want)
        if have != want:
            raise windows_mismatch(f"the table {self.table_name}", have, want)

    def claim_stream(self, stream: str, checkpoints_id: str, where: str) -> None:
        """Record who feeds ``stream`` into the table (a '#meta' item per stream); refuse others."""
        want = stream_label(checkpoints_id, where)
        key = {PK: {"S": META_KEY}, SK: {"S": f"stream {stream}"}}
        with self._errors(f"record who consumes {stream}", once=True) as stored:
            self.client.put_item(
                TableName=self.table_name,
                Item={**key, "consumer": {"S": want}},
                ConditionExpression="attribute_not_exists(#pk)",
                ExpressionAttributeNames={"#pk": PK},
            )
        if stored.count:
            return
        with self._errors(f"read who consumes {stream}"):
            item = self.client.get_item(TableName=self.table_name, Key=key, ConsistentRead=True)
        have = item.get("Item", {}).get("consumer", {}).get("S", want)
        if have.partition(" ")[0] != checkpoints_id:
            raise stream_claimed(f"the DynamoDB table {self.table_name!r}", stream, have)

    def counts(self) -> tuple[int, int]:
        """(trips counted in windows, dead letters): the two sides of the accounting line."""
        trips = sum(w.totals.trip_count for w in self.windows())
        with self._errors("count dead letters"):
            request = self._letters
            request["Select"] = "COUNT"
            pages = self.client.get_paginator("query").paginate(**request)
            return trips, sum(page["Count"] for page in pages)

    def dead_letter_reasons(self) -> dict[str, int]:
        """How many dead letters per reason among the oldest ``REASONS_SCAN``: a Query of the
        dead-letter partition that returns only each reason, yet is billed for whole items."""
        request = self._letters
        request["ExpressionAttributeNames"] = {"#pk": PK, "#reason": "reason"}
        request["ProjectionExpression"] = "#reason"
        request["PaginationConfig"] = {"MaxItems": REASONS_SCAN}
        with self._errors("count dead letters by reason"):
            pages = self.client.get_paginator("query").paginate(**request)
            reasons = [item["reason"]["S"] for page in pages for item in page["Items"]]
        return dict(Counter(reasons[:REASONS_SCAN]))

    @property
    def _letters(self) -> QueryInputPaginateTypeDef:
        """The Query of the dead-letter partition, oldest first."""
        return {
            "TableName": self.table_name,
            "KeyConditionExpression": "#pk = :pk",
            "ExpressionAttributeNames": {"#pk": PK},
            "ExpressionAttributeValues": {":pk": {"S": DEAD_LETTER_KEY}},
        }

    @contextmanager
    def _errors(self, action: str, *, once: bool = False) -> Iterator[_Outcome]:
        """Re-raise AWS errors as StoreError; with ``once``, a failed condition counts 0, not 1."""
        outcome = _Outcome(1)
        try:
            yield outcome
        except ClientError as exc:
            if not (once and _code(exc) == _CONDITION_FAILED):
                raise self._error(action, exc) from exc
            log.debug("%s: already done", action)
            outcome.count = 0
        except BotoCoreError as exc:
            raise self._error(action, exc) from exc

    def _error(self, action: str, exc: Exception) -> StoreError:
        return StoreError(f"DynamoDB table {self.table_name!r}: {action} failed: {exc}")


class _Outcome:
    """How many writes inside an ``_errors(once=True)`` block took effect."""

    __slots__ = ("count",)

    def __init__(self, count: int) -> None:
        self.count = count


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


def _apply_request(table: str, c: Contribution, now_ms: int) -> UpdateItemInputTypeDef:
    """One conditional UpdateItem: ADD the totals and the id, unless the id is in the set."""
    t = c.totals
    return {
        "TableName": table,
        "Key": {PK: {"S": _vendor_key(c.vendor_id)}, SK: {"S": iso_utc(c.window_start_ms)}},
        "UpdateExpression": (
            "ADD #n :n, #d :d, #t :t, #p :p, #f :f, #tp :tp, #a :a, #l :l, #k :one, #cs :ids"
            " SET #e = :e, #u = :u, #c = :c"
        ),
        "ConditionExpression": "attribute_not_exists(#cs) OR NOT contains(#cs, :id)",
        "ExpressionAttributeNames": {
            **{k: v for k, v in _NAMES.items() if k not in ("#pk", "#sk")},
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


def _code(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return type(exc).__name__


def _vendor_key(vendor_id: str) -> str:
    """Partition key of a vendor: a leading '#' is doubled, so '#...' keys stay reserved."""
    return "#" + vendor_id if vendor_id.startswith("#") else vendor_id


def _vendor_of(key: str) -> str | None:
    """The vendor id of a partition key, or None for a reserved key (dead letters)."""
    if key.startswith("##"):
        return key[1:]
    return None if key.startswith("#") else key


def _in_range(ts_ms: int, start_ms: int | None, end_ms: int | None) -> bool:
    return (start_ms is None or ts_ms >= start_ms) and (end_ms is None or ts_ms < end_ms)


def _range_condition(start_ms: int | None, end_ms: int | None) -> tuple[list[str], Item]:
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


def _window(item: Item) -> WindowTotals:
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


def _letter_item(letter: DeadLetter, now_ms: int) -> Item:
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


def _letter(item: Item) -> DeadLetter:
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


def create_table(
    client: DynamoDBClient, name: str = DEFAULT_TABLE, timeout_s: float = 30.0
) -> bool:
    """Create the table (on-demand) unless it exists, wait until ACTIVE; True if it was created.

    For local endpoints and tests; on AWS the SAM template owns the table.
    """
    created = True
    try:
        client.create_table(
            TableName=name,
            KeySchema=[
                {"AttributeName": PK, "KeyType": "HASH"},
                {"AttributeName": SK, "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": PK, "AttributeType": "S"},
                {"AttributeName": SK, "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
    except ClientError as exc:
        if _code(exc) != "ResourceInUseException":
            raise StoreError(f"create table {name!r} failed: {exc}") from exc
        created = False
    except BotoCoreError as exc:
        raise StoreError(f"create table {name!r} failed: {exc}") from exc
    _wait_active(client, name, timeout_s)
    return created


def _wait_active(client: DynamoDBClient, name: str, timeout_s: float) -> None:
    """Poll DescribeTable (first at once, then every second) until the table is ACTIVE."""
    attempts = max(1, int(timeout_s))
    try:
        client.get_waiter("table_exists").wait(
            TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": attempts}
        )
    except (WaiterError, ClientError, BotoCoreError) as exc:
        raise StoreError(f"table {name!r} not ACTIVE after {attempts} s: {exc}") from exc
