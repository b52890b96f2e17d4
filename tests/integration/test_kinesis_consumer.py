"""The Kinesis consumer against real kinesalite: resharding, starting positions, iterators."""

from __future__ import annotations

import itertools
import json
import random
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from tests.support.reading import read_shard

from taxi_stream.core.errors import ConfigError, StreamError
from taxi_stream.core.records import StreamRecord
from taxi_stream.streams.kinesis import KinesisStream, create_stream, wait_active

pytestmark = pytest.mark.aws

_names = itertools.count()


@pytest.fixture
def client(kinesalite_url: str) -> Iterator[Any]:
    """A boto3 Kinesis client for kinesalite."""
    kinesis = boto3.client("kinesis", endpoint_url=kinesalite_url, region_name="us-east-1")
    yield kinesis
    kinesis.close()


def new_stream(client: Any, shards: int = 1) -> str:
    """Create an empty stream and return its name."""
    name = f"consumer-{next(_names)}"
    create_stream(client, name, shards)
    return name


def reader(client: Any, name: str, **options: Any) -> tuple[KinesisStream, list[float]]:
    """A KinesisStream whose backoff waits are recorded instead of slept."""
    waits: list[float] = []
    options = {"base_delay_s": 0.01, "rng": random.Random(3)} | options
    return KinesisStream(name, client, sleep=waits.append, **options), waits


def put(client: Any, name: str, count: int, *, key: str = "k", tag: str = "r") -> list[bytes]:
    """Put ``count`` records under one key; return their payloads in order."""
    payloads = [json.dumps({"id": f"{tag}-{i}"}).encode() for i in range(count)]
    records = [{"PartitionKey": key, "Data": data} for data in payloads]
    client.put_records(StreamName=name, Records=records)
    return payloads


def count_calls(client: Any, operation: str) -> list[dict[str, Any]]:
    """Record the request body of every call of ``operation`` made by ``client``."""
    bodies: list[dict[str, Any]] = []

    def hook(params: dict[str, Any], **_: Any) -> None:
        bodies.append(json.loads(params["body"]))

    client.meta.events.register(f"before-call.kinesis.{operation}", hook)
    return bodies


def fail_calls(client: Any, operation: str, code: str, times: int) -> None:
    """Make the next ``times`` calls of ``operation`` fail with ``code`` (400)."""
    remaining = [times]

    def hook(**_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if remaining[0] == 0:
            return None
        remaining[0] -= 1
        meta = {"HTTPStatusCode": 400, "HTTPHeaders": {}, "RetryAttempts": 0}
        error = {"Error": {"Code": code, "Message": "injected"}, "ResponseMetadata": meta}
        return AWSResponse("", 400, {}, None), error

    client.meta.events.register(f"before-call.kinesis.{operation}", hook)


def test_resharding_closes_parents_and_lists_children(client: Any) -> None:
    """After a split and a merge, parents are closed and children name their parents."""
    name = new_stream(client, shards=2)
    client.split_shard(
        StreamName=name, ShardToSplit="shardId-000000000000", NewStartingHashKey=str(2**126)
    )
    wait_active(client, name)
    client.merge_shards(
        StreamName=name,
        ShardToMerge="shardId-000000000003",
        AdjacentShardToMerge="shardId-000000000001",
    )
    wait_active(client, name)
    stream, _ = reader(client, name)
    shards = {shard.shard_id[-1]: shard for shard in stream.list_shards()}
    assert {k: s.closed for k, s in shards.items()} == {
        "0": True,
        "1": True,
        "2": False,
        "3": True,
        "4": False,
    }
    assert shards["2"].parent_shard_ids == ("shardId-000000000000",)
    assert set(shards["4"].parent_shard_ids) == {"shardId-000000000003", "shardId-000000000001"}


def test_a_closed_parent_reads_to_its_end_then_its_children(client: Any) -> None:
    """Records before a split are in the parent, which ends; later ones are in a child."""
    name = new_stream(client, shards=1)
    before = put(client, name, 5, key="a", tag="before")
    client.split_shard(
        StreamName=name, ShardToSplit="shardId-000000000000", NewStartingHashKey=str(2**127)
    )
    wait_active(client, name)
    after = put(client, name, 5, key="a", tag="after")
    stream, _ = reader(client, name)
    parent: list[StreamRecord] = []
    for _ in range(10):
        result = stream.read(
            "shardId-000000000000", parent[-1].sequence_number if parent else None, 2
        )
        parent.extend(result.records)
        if result.end_of_shard:
            break
    assert result.end_of_shard
    assert [r.data for r in parent] == before
    end = stream.read("shardId-000000000000", parent[-1].sequence_number, 100)
    assert (end.records, end.end_of_shard) == ([], True)
    children = [s for s in stream.list_shards() if s.parent_shard_ids]
    assert sorted(r.data for c in children for r in read_shard(stream, c.shard_id)) == sorted(after)


def test_latest_reads_only_records_put_after_the_first_read(client: Any) -> None:
    """LATEST skips what is already there; the kept iterator then sees new records."""
    name = new_stream(client)
    put(client, name, 3, tag="old")
    stream, _ = reader(client, name, starting_position="LATEST")
    assert stream.read("shardId-000000000000", None, 10).records == []
    new = put(client, name, 3, tag="new")
    assert [r.data for r in stream.read("shardId-000000000000", None, 10).records] == new


def test_at_timestamp_reads_records_from_that_time(client: Any) -> None:
    """AT_TIMESTAMP starts at the first record that arrived at or after the timestamp."""
    name = new_stream(client)
    put(client, name, 3, tag="old")
    old = read_shard(reader(client, name)[0], "shardId-000000000000")
    start_ms = max(r.arrival_ms for r in old) + 1
    while time.time_ns() // 1_000_000 <= start_ms:  # at most ~2 ms: new records arrive later
        pass
    new = put(client, name, 3, tag="new")
    stream, _ = reader(client, name, starting_position="AT_TIMESTAMP", start_timestamp_ms=start_ms)
    assert [r.data for r in read_shard(stream, "shardId-000000000000")] == new


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"starting_position": "EARLIEST"}, "starting_position"),
        ({"starting_position": "AT_TIMESTAMP"}, "start_timestamp_ms"),
        ({"start_timestamp_ms": 5}, "start_timestamp_ms"),
        ({"max_attempts": 0}, "max_attempts"),
    ],
)
def test_bad_reader_settings_are_config_errors(options: dict[str, Any], message: str) -> None:
    """Starting positions and retry settings are checked when the stream is built."""
    with pytest.raises(ConfigError, match=message):
        KinesisStream("s", None, **options)


def test_continuing_reads_reuse_the_shard_iterator(client: Any) -> None:
    """Reading on from the last record uses NextShardIterator: one GetShardIterator in all."""
    name = new_stream(client)
    payloads = put(client, name, 12)
    stream, _ = reader(client, name)
    iterator_calls = count_calls(client, "GetShardIterator")
    records = []
    after = None
    for _ in range(4):
        batch = stream.read("shardId-000000000000", after, 4).records
        records.extend(batch)
        after = batch[-1].sequence_number if batch else after
    assert [r.data for r in records] == payloads
    assert [call["ShardIteratorType"] for call in iterator_calls] == ["TRIM_HORIZON"]


def test_reading_from_another_checkpoint_gets_a_new_iterator(client: Any) -> None:
    """A read after a different sequence number (a rewind) starts AFTER_SEQUENCE_NUMBER it."""
    name = new_stream(client)
    payloads = put(client, name, 6)
    stream, _ = reader(client, name)
    first = stream.read("shardId-000000000000", None, 6).records
    iterator_calls = count_calls(client, "GetShardIterator")
    again = stream.read("shardId-000000000000", first[1].sequence_number, 10).records
    assert [r.data for r in again] == payloads[2:]
    assert iterator_calls[0]["ShardIteratorType"] == "AFTER_SEQUENCE_NUMBER"
    assert iterator_calls[0]["StartingSequenceNumber"] == first[1].sequence_number


def test_an_expired_iterator_is_renewed_from_the_last_sequence_number(client: Any) -> None:
    """ExpiredIteratorException: a new iterator after the checkpoint; nothing lost or repeated."""
    name = new_stream(client)
    payloads = put(client, name, 10)
    stream, _ = reader(client, name)
    first = stream.read("shardId-000000000000", None, 4).records
    fail_calls(client, "GetRecords", "ExpiredIteratorException", times=1)
    iterator_calls = count_calls(client, "GetShardIterator")
    rest = stream.read("shardId-000000000000", first[-1].sequence_number, 100).records
    assert [r.data for r in first + rest] == payloads
    assert [c.get("StartingSequenceNumber") for c in iterator_calls] == [first[-1].sequence_number]


def test_throttled_reads_back_off_and_succeed(client: Any) -> None:
    """ProvisionedThroughputExceededException on GetRecords: bounded backoff, then the records."""
    name = new_stream(client)
    payloads = put(client, name, 3)
    stream, waits = reader(client, name, max_attempts=4)
    fail_calls(client, "GetRecords", "ProvisionedThroughputExceededException", times=3)
    assert [r.data for r in stream.read("shardId-000000000000", None, 10).records] == payloads
    assert len(waits) == 3


def test_reads_throttled_past_the_attempts_raise_stream_error(client: Any) -> None:
    """Throttling that outlasts max_attempts is a StreamError from the boto error."""
    name = new_stream(client)
    stream, waits = reader(client, name, max_attempts=3)
    fail_calls(client, "GetRecords", "ProvisionedThroughputExceededException", times=5)
    with pytest.raises(StreamError, match="ProvisionedThroughputExceeded") as caught:
        stream.read("shardId-000000000000", None, 10)
    assert caught.value.__cause__ is not None
    assert len(waits) == 2


def test_unknown_stream_is_a_stream_error(client: Any) -> None:
    """Listing the shards of a missing stream raises StreamError, not a boto error."""
    stream, waits = reader(client, "missing")
    with pytest.raises(StreamError, match="ResourceNotFoundException"):
        stream.list_shards()
    assert waits == []


def test_reads_report_how_far_behind_the_tip(client: Any) -> None:
    """behind_ms comes from MillisBehindLatest; records keep key, data and arrival time."""
    name = new_stream(client)
    before_ms = time.time_ns() // 1_000_000
    put(client, name, 2, key="vendor-1")
    stream, _ = reader(client, name)
    result = stream.read("shardId-000000000000", None, 10)
    assert result.behind_ms is not None
    assert result.behind_ms >= 0
    assert {r.partition_key for r in result.records} == {"vendor-1"}
    assert all(before_ms - 2_000 <= r.arrival_ms <= before_ms + 60_000 for r in result.records)


def test_list_shards_follows_next_token(client: Any) -> None:
    """Pages of one shard each (NextToken without StreamName, as AWS requires) are all read."""
    name = new_stream(client, shards=5)
    plain = boto3.client("kinesis", endpoint_url=client.meta.endpoint_url, region_name="us-east-1")
    every = plain.list_shards(StreamName=name)["Shards"]
    bodies: list[dict[str, Any]] = []

    def paginate(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        body = json.loads(params["body"])
        bodies.append(body)
        assert ("StreamName" in body) != ("NextToken" in body)
        page = int(body.get("NextToken", "0"))
        answer: dict[str, Any] = {"Shards": every[page : page + 1]}
        if page + 1 < len(every):
            answer["NextToken"] = str(page + 1)
        meta = {"HTTPStatusCode": 200, "HTTPHeaders": {}, "RetryAttempts": 0}
        return AWSResponse("", 200, {}, None), answer | {"ResponseMetadata": meta}

    client.meta.events.register("before-call.kinesis.ListShards", paginate)
    stream, _ = reader(client, name)
    assert [s.shard_id for s in stream.list_shards()] == [s["ShardId"] for s in every]
    assert len(bodies) == 5
    plain.close()


def test_a_default_client_is_built_from_the_standard_endpoint_variable(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without an injected client, boto3's AWS_ENDPOINT_URL_KINESIS points the stream."""
    name = new_stream(client, shards=2)
    monkeypatch.setenv("AWS_ENDPOINT_URL_KINESIS", client.meta.endpoint_url)
    stream = KinesisStream(name, region="us-east-1", partition_key=lambda key, data: "one")
    try:
        assert stream.put_records([("a", b"1"), ("b", b"2")]).sent == 2
        keys = {
            r.partition_key for s in stream.list_shards() for r in read_shard(stream, s.shard_id)
        }
        assert keys == {"one"}
    finally:
        stream.close()
