"""Kinesis Data Streams via boto3: a batching, retrying producer and a shard-by-shard consumer.

Producer guarantees: PutRecords calls stay within 500 records and 5 MiB (data + partition keys);
a record over 1 MiB (data + partition key) or with a partition key outside 1..256 characters
(UTF-16 units, the rule of ``core.limits``, which the embedded stream applies too) is reported
failed, never sent; failed entries of a partial failure and throttled or 5xx calls are
retried with exponential backoff and full jitter, for a bounded number of attempts; an entry is
counted as sent only when Kinesis returned a sequence number for it. Entries retried after a
partial failure may land after later entries of the same key (as with any PutRecords producer).
Errors that retrying cannot fix (no such stream, access denied) raise ``StreamError``; a
checkpoint from an earlier stream of the same name (deleted and created again) raises
``ForeignCheckpointError``, which the runner does not retry.

With ``aggregate=True`` user records are packed, per destination shard, into KPL aggregated
records (see ``kpl``) of at most ``AGGREGATE_MAX_BYTES``; ``sent`` counts user records and
``PutResult.records`` the Kinesis records they travelled in.
"""

from __future__ import annotations

import logging
import random
import time
from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, TypeVar

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from taxi_stream.core.errors import ConfigError, ForeignCheckpointError, StreamError
from taxi_stream.core.hashkey import hash_key
from taxi_stream.core.limits import (
    MAX_BATCH_BYTES,
    MAX_BATCH_RECORDS,
    entry_problem,
    record_bytes,
)
from taxi_stream.core.records import PutResult, ReadResult, ShardInfo, StreamRecord
from taxi_stream.core.timefmt import from_epoch_ms, to_epoch_ms
from taxi_stream.infra.awsclient import make_client
from taxi_stream.streams import kpl
from taxi_stream.streams.kinesis_admin import create_stream, wait_active
from taxi_stream.streams.kinesis_retry import TRANSIENT, RetryPolicy, error_code, is_retryable

if TYPE_CHECKING:
    from mypy_boto3_kinesis import KinesisClient
    from mypy_boto3_kinesis.type_defs import (
        GetRecordsOutputTypeDef,
        GetShardIteratorInputTypeDef,
        PutRecordsRequestEntryTypeDef,
        RecordTypeDef,
        ShardTypeDef,
    )

log = logging.getLogger(__name__)

__all__ = ["KinesisStream", "RetryPolicy", "create_stream", "wait_active"]

T = TypeVar("T")

MAX_READ_LIMIT: Final = 10_000
AGGREGATE_MAX_BYTES: Final = 51_200  # the KPL's default AggregationMaxSize
SHARD_MAP_TTL_S: Final = 30.0  # how long the producer trusts its map of open shards
STARTING_POSITIONS: Final = ("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP")
FOREIGN_SEQUENCE: Final = "did not come from this stream"  # how Kinesis refuses another's


@dataclass(frozen=True, slots=True)
class _Item:
    """One Kinesis record to send and the indices of the entries it carries."""

    key: str
    data: bytes
    indices: tuple[int, ...]

    @property
    def size(self) -> int:
        return record_bytes(self.key, self.data)  # what the 5 MiB call limit counts

    def entry(self) -> PutRecordsRequestEntryTypeDef:
        return {"PartitionKey": self.key, "Data": self.data}


class _IteratorExpiredError(StreamError):
    """A shard iterator is older than five minutes; get a new one."""


def _batches(items: Sequence[_Item]) -> Iterator[list[_Item]]:
    """Consecutive runs of items within one PutRecords call's limits."""
    batch: list[_Item] = []
    size = 0
    for item in items:
        if batch and (len(batch) == MAX_BATCH_RECORDS or size + item.size > MAX_BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += item.size
    if batch:
        yield batch


def _stream_record(record: RecordTypeDef) -> StreamRecord:
    arrival = record.get("ApproximateArrivalTimestamp")
    return StreamRecord(
        sequence_number=record["SequenceNumber"],
        arrival_ms=to_epoch_ms(arrival) if arrival is not None else time.time_ns() // 1_000_000,
        partition_key=record["PartitionKey"],
        data=bytes(record["Data"]),
    )


def _shard_info(shard: ShardTypeDef) -> ShardInfo:
    parents = (shard.get("ParentShardId"), shard.get("AdjacentParentShardId"))
    return ShardInfo(
        shard_id=shard["ShardId"],
        parent_shard_ids=tuple(p for p in parents if p),
        closed="EndingSequenceNumber" in shard["SequenceNumberRange"],
    )


class KinesisStream:
    """A Kinesis data stream, implementing StreamWriter and StreamReader.

    ``client`` is injected, or built on first use from ``region`` and ``endpoint_url`` (boto3
    also honours AWS_ENDPOINT_URL_KINESIS and the other standard variables) with botocore's own
    retries off, so the retries counted here are all there are. ``partition_key`` maps an entry
    (key, data) to the key sent (None: the entry's own). ``starting_position`` (TRIM_HORIZON,
    LATEST, or AT_TIMESTAMP with ``start_timestamp_ms``) applies to reads without a checkpoint.
    """

    def __init__(
        self,
        stream_name: str,
        client: KinesisClient | None = None,
        *,
        region: str | None = None,
        endpoint_url: str | None = None,
        partition_key: Callable[[str, bytes], str] | None = None,
        aggregate: bool = False,
        starting_position: str = "TRIM_HORIZON",
        start_timestamp_ms: int | None = None,
        max_attempts: int = 8,
        base_delay_s: float = 0.05,
        max_delay_s: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if starting_position not in STARTING_POSITIONS:
            raise ConfigError(f"starting_position must be one of {STARTING_POSITIONS}")
        if (starting_position == "AT_TIMESTAMP") != (start_timestamp_ms is not None):
            raise ConfigError("start_timestamp_ms is required by, and only by, AT_TIMESTAMP")
        self._name = stream_name
        self._kinesis = client
        self._owns_client = client is None
        self._region = region
        self._endpoint_url = endpoint_url
        self._partition_key = partition_key
        self._aggregate = aggregate
        self._position = starting_position
        self._start_ms = start_timestamp_ms
        self._retry = RetryPolicy(max_attempts, base_delay_s, max_delay_s)
        self._sleep = sleep
        self._rng = rng if rng is not None else random.Random()
        self._iterators: dict[str, tuple[str | None, str]] = {}  # shard -> (after, iterator)
        self._shard_map: tuple[float, list[int]] | None = None  # (expiry, open shards' starts)

    @property
    def name(self) -> str:
        """The stream's name."""
        return self._name

    @property
    def client(self) -> KinesisClient:
        """The boto3 Kinesis client (built on first use unless one was injected)."""
        if self._kinesis is None:
            self._kinesis = make_client(
                "kinesis",
                region=self._region,
                endpoint_url=self._endpoint_url,
                config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
            )
        return self._kinesis

    def close(self) -> None:
        """Close the HTTP connections of a client this stream built itself."""
        if self._owns_client and self._kinesis is not None:
            self._kinesis.close()
            self._kinesis = None

    # -- producer --------------------------------------------------------------------------------

    def put_records(self, entries: Sequence[tuple[str, bytes]]) -> PutResult:
        """Send entries in PutRecords calls; report every entry as sent or failed, with retries."""
        items, failed = self._items(entries)
        if self._aggregate:
            items = self._aggregated(items)
        sent = retried = records = 0
        for batch in _batches(items):
            batch_sent, batch_retried, batch_failed, batch_records = self._send(batch)
            sent += batch_sent
            retried += batch_retried
            records += batch_records
            failed.extend(batch_failed)
        failed.sort()
        return PutResult(sent=sent, retried=retried, failed=failed, records=records)

    def _items(
        self, entries: Sequence[tuple[str, bytes]]
    ) -> tuple[list[_Item], list[tuple[int, str]]]:
        items: list[_Item] = []
        failed: list[tuple[int, str]] = []
        rekey = self._partition_key
        for index, (entry_key, data) in enumerate(entries):
            key = entry_key if rekey is None else rekey(entry_key, data)
            problem = entry_problem(key, data)
            if problem is None:
                items.append(_Item(key, bytes(data), (index,)))
            else:
                failed.append((index, problem))
        return items, failed

    def _aggregated(self, items: list[_Item]) -> list[_Item]:
        """Group items by the open shard their key hashes to, then pack each group."""
        starts = self._open_shard_starts()
        groups: dict[int, list[_Item]] = {}
        for item in items:
            groups.setdefault(bisect_right(starts, hash_key(item.key)), []).append(item)
        packed: list[_Item] = []
        for group in groups.values():
            runs = kpl.pack([(item.key, item.data) for item in group], AGGREGATE_MAX_BYTES)
            for run, data in runs:
                members = group[run.start : run.stop]
                indices = tuple(i for member in members for i in member.indices)
                packed.append(_Item(members[0].key, data, indices))
        return packed

    def _open_shard_starts(self) -> list[int]:
        """Sorted starting hash keys of the open shards (cached for SHARD_MAP_TTL_S)."""
        now = time.monotonic()
        if self._shard_map is None or self._shard_map[0] < now:
            starts = sorted(
                int(shard["HashKeyRange"]["StartingHashKey"])
                for shard in self._shards()
                if "EndingSequenceNumber" not in shard["SequenceNumberRange"]
            )
            self._shard_map = (now + SHARD_MAP_TTL_S, starts)
        return self._shard_map[1]

    def _send(self, batch: list[_Item]) -> tuple[int, int, list[tuple[int, str]], int]:
        """One batch to its end: entries sent, entry retries, failed entries with reasons, and
        Kinesis records put."""
        total = sum(len(item.indices) for item in batch)
        pending, retried = batch, 0
        failures: list[tuple[_Item, str]] = []
        for attempt in range(self._retry.max_attempts):
            if attempt:
                self._sleep(self._retry.delay_s(attempt - 1, self._rng))
                retried += sum(len(item.indices) for item in pending)
            failures = self._attempt(pending)
            if not failures:
                return total, retried, [], len(batch)
            pending = [item for item, _ in failures]
            log.debug("PutRecords to %s: %d records to retry", self._name, len(pending))
        attempts = self._retry.max_attempts
        failed = [
            (i, f"{why} (after {attempts} attempts)") for it, why in failures for i in it.indices
        ]
        log.warning("PutRecords to %s: %d entries failed for good", self._name, len(failed))
        return total - len(failed), retried, failed, len(batch) - len(failures)

    def _attempt(self, pending: list[_Item]) -> list[tuple[_Item, str]]:
        """One PutRecords call: the items not accepted, each with its error code and message."""
        try:
            response = self.client.put_records(
                StreamName=self._name, Records=[item.entry() for item in pending]
            )
        except ClientError as exc:
            if not is_retryable(exc):
                raise StreamError(f"PutRecords to {self._name} failed: {exc}") from exc
            return [(item, error_code(exc)) for item in pending]
        except TRANSIENT as exc:
            return [(item, type(exc).__name__) for item in pending]
        except BotoCoreError as exc:
            raise StreamError(f"PutRecords to {self._name} failed: {exc}") from exc
        results = response["Records"]
        if len(results) != len(pending):
            raise StreamError(f"PutRecords answered {len(results)} results for {len(pending)}")
        return [
            (item, f"{result.get('ErrorCode', 'Unknown')}: {result.get('ErrorMessage', '')}")
            for item, result in zip(pending, results, strict=True)
            if "ErrorCode" in result or not result.get("SequenceNumber")
        ]

    # -- consumer --------------------------------------------------------------------------------

    def list_shards(self) -> list[ShardInfo]:
        """Every shard of the stream, open and closed, with its parents (ListShards, paginated)."""
        return [_shard_info(shard) for shard in self._shards()]

    def _shards(self) -> list[ShardTypeDef]:
        client = self.client
        page = self._call("ListShards", lambda: client.list_shards(StreamName=self._name))
        shards = list(page["Shards"])
        while token := page.get("NextToken"):
            page = self._call("ListShards", lambda: client.list_shards(NextToken=token))
            shards.extend(page["Shards"])
        return shards

    def read(self, shard_id: str, after: str | None, limit: int) -> ReadResult:
        """Up to ``limit`` records of a shard after sequence number ``after`` (None: the start)."""
        if limit < 1:
            raise ConfigError(f"read limit must be at least 1, got {limit}")
        response = self._get_records(shard_id, after, min(limit, MAX_READ_LIMIT))
        records = [_stream_record(record) for record in response["Records"]]
        next_iterator = response.get("NextShardIterator")
        if next_iterator:
            position = records[-1].sequence_number if records else after
            self._iterators[shard_id] = (position, next_iterator)
        else:
            self._iterators.pop(shard_id, None)
        return ReadResult(
            records=records,
            behind_ms=response.get("MillisBehindLatest"),
            end_of_shard=not next_iterator,
        )

    def _get_records(self, shard_id: str, after: str | None, limit: int) -> GetRecordsOutputTypeDef:
        cached = self._iterators.pop(shard_id, None)
        if cached is not None and cached[0] == after:
            iterator = cached[1]
        else:
            iterator = self._new_iterator(shard_id, after)
        client = self.client
        try:
            return self._call(
                "GetRecords", lambda: client.get_records(ShardIterator=iterator, Limit=limit)
            )
        except _IteratorExpiredError:
            log.info("shard iterator of %s/%s expired; renewing it", self._name, shard_id)
            renewed = self._new_iterator(shard_id, after)
            return self._call(
                "GetRecords", lambda: client.get_records(ShardIterator=renewed, Limit=limit)
            )

    def _new_iterator(self, shard_id: str, after: str | None) -> str:
        request: GetShardIteratorInputTypeDef = {
            "StreamName": self._name,
            "ShardId": shard_id,
            "ShardIteratorType": "LATEST" if self._position == "LATEST" else "TRIM_HORIZON",
        }
        if after is not None:
            request["ShardIteratorType"] = "AFTER_SEQUENCE_NUMBER"
            request["StartingSequenceNumber"] = after
        elif self._start_ms is not None:
            request["ShardIteratorType"] = "AT_TIMESTAMP"
            request["Timestamp"] = from_epoch_ms(self._start_ms)
        client = self.client
        try:
            response = self._call("GetShardIterator", lambda: client.get_shard_iterator(**request))
        except StreamError as exc:
            if after is not None and FOREIGN_SEQUENCE in str(exc):
                raise self._foreign(shard_id, after) from exc
            raise
        return response["ShardIterator"]

    def _foreign(self, shard_id: str, after: str) -> ForeignCheckpointError:
        return ForeignCheckpointError(
            f"stream {self._name} has no sequence number {after} in {shard_id}: the checkpoints"
            " in --data-dir are from an earlier stream of that name (deleted and created again,"
            " or a local Kinesis restarted); read this one with another --data-dir"
        )

    def _call(self, operation: str, call: Callable[[], T]) -> T:
        """Run one consumer call, backing off on throttling and transient errors (bounded)."""
        for attempt in range(self._retry.max_attempts):
            if attempt:
                self._sleep(self._retry.delay_s(attempt - 1, self._rng))
            try:
                return call()
            except ClientError as exc:
                if error_code(exc) == "ExpiredIteratorException":
                    raise _IteratorExpiredError(str(exc)) from exc
                if not is_retryable(exc) or attempt + 1 == self._retry.max_attempts:
                    raise StreamError(f"{operation} on {self._name} failed: {exc}") from exc
            except TRANSIENT as exc:
                if attempt + 1 == self._retry.max_attempts:
                    raise StreamError(f"{operation} on {self._name} failed: {exc}") from exc
            except BotoCoreError as exc:
                raise StreamError(f"{operation} on {self._name} failed: {exc}") from exc
            log.debug("%s on %s throttled; retry %d", operation, self._name, attempt + 1)
        raise AssertionError("unreachable: the last attempt returns or raises")
