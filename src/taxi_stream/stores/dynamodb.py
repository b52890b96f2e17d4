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

import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Final

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from taxi_stream.core.errors import StoreError
from taxi_stream.core.records import Contribution, DeadLetter, WindowTotals
from taxi_stream.core.watermarks import Watermark
from taxi_stream.infra.awsclient import make_client
from taxi_stream.infra.clock import now_ms
from taxi_stream.stores import (
    DEFAULT_TABLE,
    stream_claimed,
    stream_label,
    windows_label,
    windows_mismatch,
)
from taxi_stream.stores.dynamodb_items import (
    DEAD_LETTER_KEY,
    WINDOW_NAMES,
    WINDOW_PROJECTION,
    apply_request,
    cents,
    dollars,
    in_range,
    letter_item,
    letter_of,
    miles,
    milli,
    range_condition,
    vendor_key,
    vendor_of,
    window_of,
)
from taxi_stream.stores.dynamodb_marks import (
    PK,
    SK,
    WATERMARK_KEY,
    watermark_item,
    watermark_request,
)
from taxi_stream.stores.dynamodb_table import create_table

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import QueryInputPaginateTypeDef

    from taxi_stream.stores.dynamodb_items import Item

__all__ = [
    "DEAD_LETTER_KEY",
    "DynamoDBStore",
    "cents",
    "create_table",
    "default_client",
    "dollars",
    "miles",
    "milli",
]

log = logging.getLogger(__name__)

META_KEY: Final = "#meta"  # what the table holds (its windows, who feeds it); never a vendor

_CONDITION_FAILED: Final = "ConditionalCheckFailedException"
_CLIENT_CONFIG: Final = Config(
    retries={"mode": "standard", "max_attempts": 8}, connect_timeout=5, read_timeout=30
)


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
            request = apply_request(self.table_name, c, self._clock())
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
            item = letter_item(letter, self._clock())
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
        found = [window_of(item) for item in items if vendor_of(item[PK]["S"]) is not None]
        return sorted(
            (w for w in found if in_range(w.window_start_ms, start_ms, end_ms)),
            key=lambda w: (w.vendor_id, w.window_start_ms),
        )

    def _window_items(
        self, vendor_id: str | None, start_ms: int | None, end_ms: int | None
    ) -> Iterator[Item]:
        conditions, values = range_condition(start_ms, end_ms)
        if vendor_id is None:
            values[":dl"] = {"S": DEAD_LETTER_KEY}
            for page in self.client.get_paginator("scan").paginate(
                TableName=self.table_name,
                FilterExpression=" AND ".join(["#pk <> :dl", *conditions]),
                ExpressionAttributeNames=WINDOW_NAMES,
                ExpressionAttributeValues=values,
                ProjectionExpression=WINDOW_PROJECTION,
            ):
                yield from page["Items"]
            return
        values[":pk"] = {"S": vendor_key(vendor_id)}
        for page in self.client.get_paginator("query").paginate(
            TableName=self.table_name,
            KeyConditionExpression=" AND ".join(["#pk = :pk", *conditions]),
            ExpressionAttributeNames=WINDOW_NAMES,
            ExpressionAttributeValues=values,
            ProjectionExpression=WINDOW_PROJECTION,
        ):
            yield from page["Items"]

    def dead_letters(
        self, limit: int | None = None, *, newest_first: bool = False
    ) -> list[DeadLetter]:
        """Dead letters, oldest arrival first, or newest first (one Query on the dead-letter
        partition, read backwards: ScanIndexForward=False)."""
        if limit is not None and limit <= 0:
            return []
        request = self._letters
        if newest_first:
            request["ScanIndexForward"] = False
        if limit is not None:
            request["PaginationConfig"] = {"MaxItems": limit, "PageSize": limit}
        with self._errors("query dead letters"):
            pages = self.client.get_paginator("query").paginate(**request)
            items = [item for page in pages for item in page["Items"]]
        return [letter_of(item) for item in items[:limit]]

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
        """How many dead letters per reason, every one of them: a Query of the dead-letter
        partition, page after page, that returns only each reason.

        It is billed for whole items, as ``counts()``'s Query that counts the same letters is:
        a counter item beside the letters could not stay exact without a transaction (a crash
        between a letter's put and the counter's update, and the redelivered letter is a
        duplicate that adds nothing), and dynalite, the second DynamoDB it is tested on, has none.
        """
        request = self._letters
        request["ExpressionAttributeNames"] = {"#pk": PK, "#reason": "reason"}
        request["ProjectionExpression"] = "#reason"
        with self._errors("count dead letters by reason"):
            pages = self.client.get_paginator("query").paginate(**request)
            return dict(Counter(item["reason"]["S"] for page in pages for item in page["Items"]))

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


def _code(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return type(exc).__name__
