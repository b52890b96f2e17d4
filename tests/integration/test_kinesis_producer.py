"""The Kinesis producer against real kinesalite, under injected partial failures and throttling.

Faults are injected with a botocore ``before-call`` hook on PutRecords: the hook forwards only the
entries it lets through to kinesalite (over real HTTP, with a second, plain client) and answers
the producer with those entries' real sequence numbers and the others marked failed, or answers
the whole call with a throttling or 5xx error. So kinesalite holds exactly what the producer was
told was accepted, and the test can check that every trip is in the stream exactly once or
reported failed.
"""

from __future__ import annotations

import base64
import itertools
import json
import random
from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from taxi_stream.core.errors import StreamError
from taxi_stream.core.hashkey import hash_key
from taxi_stream.core.records import PutResult
from taxi_stream.streams import kpl
from taxi_stream.streams.kinesis import KinesisStream, create_stream

pytestmark = pytest.mark.aws

SHARDS = 4
_names = itertools.count()


@pytest.fixture
def plain(kinesalite_url: str) -> Iterator[Any]:
    """A boto3 client without hooks: sets up streams, forwards entries, reads back."""
    client = boto3.client("kinesis", endpoint_url=kinesalite_url, region_name="us-east-1")
    yield client
    client.close()


@pytest.fixture
def hooked(kinesalite_url: str) -> Iterator[Any]:
    """The producer's client: faults are injected into it with botocore event hooks."""
    client = boto3.client("kinesis", endpoint_url=kinesalite_url, region_name="us-east-1")
    yield client
    client.close()


@pytest.fixture
def stream_name(plain: Any) -> str:
    """A new, empty stream of SHARDS shards."""
    name = f"producer-{next(_names)}"
    create_stream(plain, name, SHARDS)
    return name


class Faults:
    """A before-call hook on PutRecords that fails a fraction of entries or whole calls."""

    def __init__(
        self,
        plain: Any,
        stream_name: str,
        *,
        seed: int = 0,
        entry_failure: float = 0.0,
        call_failure: float = 0.0,
        fail_calls: frozenset[int] = frozenset(),
        error: tuple[str, int] = ("ProvisionedThroughputExceededException", 400),
    ) -> None:
        self.plain, self.stream_name = plain, stream_name
        self.rng = random.Random(seed)
        self.entry_failure, self.call_failure, self.error = entry_failure, call_failure, error
        self.fail_calls = fail_calls  # numbers (0-based) of the calls that fail whole
        self.calls: list[list[tuple[str, bytes]]] = []  # the entries of every PutRecords call
        self.passed: list[list[tuple[str, bytes]]] = []  # those of them forwarded to kinesalite

    def install(self, client: Any) -> None:
        """Register on ``client``'s PutRecords calls."""
        client.meta.events.register("before-call.kinesis.PutRecords", self)

    def __call__(self, params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        body = json.loads(params["body"])
        entries = [(r["PartitionKey"], base64.b64decode(r["Data"])) for r in body["Records"]]
        number = len(self.calls)
        self.calls.append(entries)
        if number in self.fail_calls or self.rng.random() < self.call_failure:
            code, status = self.error
            error = {"Error": {"Code": code, "Message": "injected"}}
            return AWSResponse("", status, {}, None), error | _metadata(status)
        return AWSResponse("", 200, {}, None), self._partial(entries) | _metadata(200)

    def _partial(self, entries: list[tuple[str, bytes]]) -> dict[str, Any]:
        """Forward the entries that pass to kinesalite; mark the others failed."""
        passed = [self.rng.random() >= self.entry_failure for _ in entries]
        self.passed.append([entry for entry, ok in zip(entries, passed, strict=True) if ok])
        sent = [{"PartitionKey": key, "Data": data} for key, data in self.passed[-1]]
        answer = self.plain.put_records(StreamName=self.stream_name, Records=sent) if sent else {}
        real = iter(answer.get("Records", []))
        results = [next(real) if ok else _failed_entry() for ok in passed]
        return {"FailedRecordCount": passed.count(False), "Records": results}


def _failed_entry() -> dict[str, str]:
    return {"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "injected"}


def _metadata(status: int) -> dict[str, Any]:
    return {"ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": {}, "RetryAttempts": 0}}


def trips(count: int, *, size: int = 0) -> list[tuple[str, bytes]]:
    """(partition key = trip id, JSON trip) entries, each unique; ``size`` pads the payload."""
    return [
        (
            f"trip-{i}",
            json.dumps({"id": f"trip-{i}", "vendorId": str(i % 3), "pad": "x" * size}).encode(),
        )
        for i in range(count)
    ]


def stored(plain: Any, stream_name: str) -> list[tuple[str, bytes]]:
    """Every (partition key, data) in the stream, read with the plain client."""
    out: list[tuple[str, bytes]] = []
    for shard in plain.list_shards(StreamName=stream_name)["Shards"]:
        iterator = plain.get_shard_iterator(
            StreamName=stream_name, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = plain.get_records(ShardIterator=iterator, Limit=10_000)
            out.extend((r["PartitionKey"], r["Data"]) for r in page["Records"])
            iterator = page.get("NextShardIterator") if page["Records"] else None
    return out


def producer(client: Any, stream_name: str, **options: Any) -> tuple[KinesisStream, list[float]]:
    """A KinesisStream whose backoff waits are recorded instead of slept."""
    waits: list[float] = []
    options = {"max_attempts": 6, "base_delay_s": 0.01, "rng": random.Random(1)} | options
    return KinesisStream(stream_name, client, sleep=waits.append, **options), waits


def assert_exactly_once_or_failed(
    entries: list[tuple[str, bytes]], result: PutResult, in_stream: list[tuple[str, bytes]]
) -> None:
    """Each entry is in the stream once and not failed, or failed and not in the stream."""
    assert result.sent + len(result.failed) == len(entries)
    failed = {index for index, _ in result.failed}
    assert len(failed) == len(result.failed)
    counts = Counter(in_stream)
    for index, entry in enumerate(entries):
        assert counts[entry] == (0 if index in failed else 1), (index, entry)
    assert len(in_stream) == result.sent


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_partial_failures_retry_only_the_failed_entries(
    plain: Any, hooked: Any, stream_name: str, seed: int
) -> None:
    """A third of the entries fail on every call: each trip lands once or is reported failed."""
    faults = Faults(plain, stream_name, seed=seed, entry_failure=0.35)
    faults.install(hooked)
    stream, _ = producer(hooked, stream_name, max_attempts=4)
    entries = trips(1_200)
    result = stream.put_records(entries)
    assert_exactly_once_or_failed(entries, result, stored(plain, stream_name))
    assert result.failed, "0.35**4 of 1,200 entries should fail for good"
    assert all("ProvisionedThroughputExceededException" in why for _, why in result.failed)
    resent = sum(len(call) for call in faults.calls) - len(entries)
    assert result.retried == resent > 0


def test_retries_send_only_the_entries_that_failed(
    plain: Any, hooked: Any, stream_name: str
) -> None:
    """The retry call carries exactly the entries the previous answer marked failed."""
    faults = Faults(plain, stream_name, seed=7, entry_failure=0.5)
    faults.install(hooked)
    stream, _ = producer(hooked, stream_name, max_attempts=2)
    entries = trips(40)
    result = stream.put_records(entries)
    first, retry = faults.calls
    assert retry == [entry for entry in first if entry not in faults.passed[0]]
    assert 0 < result.retried == len(retry) < 40
    assert len(result.failed) == len(retry) - len(faults.passed[1])
    assert_exactly_once_or_failed(entries, result, stored(plain, stream_name))


@pytest.mark.parametrize(
    "error",
    [
        ("ProvisionedThroughputExceededException", 400),
        ("LimitExceededException", 400),
        ("InternalFailure", 500),
        ("ServiceUnavailable", 503),
    ],
)
def test_whole_call_throttling_and_5xx_are_retried(
    plain: Any, hooked: Any, stream_name: str, error: tuple[str, int]
) -> None:
    """Throttled or 5xx calls are retried with backoff until every trip is in, once."""
    faults = Faults(plain, stream_name, fail_calls=frozenset({0, 1, 3, 5, 6, 7}), error=error)
    faults.install(hooked)
    stream, waits = producer(hooked, stream_name, max_attempts=30)
    entries = trips(1_500)
    result = stream.put_records(entries)
    assert (result.sent, result.failed) == (1_500, [])
    assert_exactly_once_or_failed(entries, result, stored(plain, stream_name))
    assert result.retried == sum(len(call) for call in faults.calls) - 1_500 > 0
    assert len(faults.calls) == 9
    assert len(waits) == 6


def test_persistent_throttling_reports_every_entry_failed(
    plain: Any, hooked: Any, stream_name: str
) -> None:
    """When throttling never ends, attempts are bounded and nothing is reported sent."""
    Faults(plain, stream_name, call_failure=1.0).install(hooked)
    stream, waits = producer(hooked, stream_name, max_attempts=5, base_delay_s=0.1, max_delay_s=1.0)
    result = stream.put_records(trips(10))
    assert result.sent == 0
    assert [index for index, _ in result.failed] == list(range(10))
    assert "after 5 attempts" in result.failed[0][1]
    assert len(waits) == 4
    assert all(0 <= wait <= min(1.0, 0.1 * 2**n) for n, wait in enumerate(waits))
    assert stored(plain, stream_name) == []


def test_error_retrying_cannot_fix_raises_stream_error(hooked: Any) -> None:
    """A stream that does not exist is an infrastructure error, raised from the boto error."""
    stream, waits = producer(hooked, "no-such-stream")
    with pytest.raises(StreamError, match="ResourceNotFoundException") as caught:
        stream.put_records(trips(3))
    assert caught.value.__cause__ is not None
    assert waits == []


def test_oversized_records_and_bad_keys_fail_alone(plain: Any, stream_name: str) -> None:
    """Records over 1 MiB (data + key) and keys outside 1..256 characters fail; others go in."""
    stream, _ = producer(plain, stream_name)
    entries = [
        ("a" * 256, b"ok"),
        ("b" * 257, b"long key"),
        ("", b"empty key"),
        ("é" * 256, b"256 characters, 512 bytes"),
        ("k", b"x" * (1024 * 1024 - 1)),
        ("kk", b"x" * (1024 * 1024 - 1)),
        ("\U0001f695" * 128, b"256 UTF-16 units, as Kinesis counts"),
        ("\U0001f695" * 129, b"258 UTF-16 units"),
        ("\ud800", b"lone surrogate"),
    ]
    result = stream.put_records(entries)
    assert [index for index, _ in result.failed] == [1, 2, 5, 7, 8]
    reasons = dict(result.failed)
    assert all(reasons[i].startswith("bad_partition_key") for i in (1, 2, 7, 8))
    assert reasons[5].startswith("too_large")
    assert sorted(stored(plain, stream_name)) == sorted(entries[i] for i in (0, 3, 4, 6))


def test_batches_are_split_at_500_records_and_5_mib(
    plain: Any, hooked: Any, stream_name: str
) -> None:
    """1,201 small trips take calls of 500, 500, 201; 900 KiB trips go at most 5 to a call."""
    faults = Faults(plain, stream_name)
    faults.install(hooked)
    stream, _ = producer(hooked, stream_name)
    small = trips(1_201)
    result = stream.put_records(small)
    assert (result.sent, result.records) == (1_201, 1_201)
    assert [len(call) for call in faults.calls] == [500, 500, 201]
    faults.calls.clear()
    large = [(f"big-{i}", bytes([i]) * (900 * 1024)) for i in range(12)]
    assert stream.put_records(large).sent == 12
    assert [len(call) for call in faults.calls] == [5, 5, 2]
    for call in faults.calls:
        assert sum(len(data) + len(key) for key, data in call) <= 5 * 1024 * 1024
    assert Counter(stored(plain, stream_name)) == Counter(small + large)


def test_aggregated_records_deaggregate_to_every_trip(
    plain: Any, hooked: Any, stream_name: str
) -> None:
    """With KPL aggregation and partial failures, deaggregating the stream gives each trip once."""
    faults = Faults(plain, stream_name, seed=11, entry_failure=0.3)
    faults.install(hooked)
    stream, _ = producer(hooked, stream_name, aggregate=True, max_attempts=10)
    entries = trips(3_000, size=40)
    result = stream.put_records(entries)
    assert (result.sent, result.failed) == (3_000, [])
    records = stored(plain, stream_name)
    assert len(records) < 3_000 // 20
    assert result.records == len(records)
    user = [(key or outer, data) for outer, blob in records for key, data in kpl.deaggregate(blob)]
    assert Counter(user) == Counter(entries)


def test_aggregates_hold_only_keys_of_their_shard(plain: Any, stream_name: str) -> None:
    """Every user record of an aggregate hashes into the shard that stores the aggregate."""
    stream, _ = producer(plain, stream_name, aggregate=True)
    stream.put_records(trips(800))
    for shard in plain.list_shards(StreamName=stream_name)["Shards"]:
        low, high = (int(shard["HashKeyRange"][k]) for k in ("StartingHashKey", "EndingHashKey"))
        iterator = plain.get_shard_iterator(
            StreamName=stream_name, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        for record in plain.get_records(ShardIterator=iterator)["Records"]:
            for key, _ in kpl.deaggregate(record["Data"]):
                assert low <= hash_key(key or record["PartitionKey"]) <= high
