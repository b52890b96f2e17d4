"""The local event source mapping on Kinesis (kinesalite): a split shard's parent drains first."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from tests.servers.moto import fake_aws_credentials
from tests.servers.node import kinesalite_server
from tests.support.harness import snapshot_of
from tests.support.recording import RecordingHandler, has_records, is_final, sequences

from taxi_stream.runner.mapping import EventSourceMapping, MappingConfig
from taxi_stream.stores.sqlite import SQLiteStore
from taxi_stream.streams.kinesis import KinesisStream, create_stream, wait_active

pytestmark = pytest.mark.aws

PARENT = "shardId-000000000000"
MAX_POLLS = 500


def now_ms() -> int:
    """Wall-clock epoch milliseconds (kinesalite stamps arrivals with the real time)."""
    return time.time_ns() // 1_000_000


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    """A boto3 Kinesis client for kinesalite on 127.0.0.1."""
    with fake_aws_credentials(), kinesalite_server() as url:
        kinesis = boto3.client("kinesis", endpoint_url=url, region_name="us-east-1")
        yield kinesis
        kinesis.close()


def put(client: Any, name: str, keys: list[str]) -> None:
    """One record per partition key."""
    records = [{"PartitionKey": key, "Data": json.dumps({"key": key}).encode()} for key in keys]
    client.put_records(StreamName=name, Records=records)


def test_split_parent_is_drained_and_its_window_closed_before_children_start(
    client: Any, tmp_path: Path
) -> None:
    """AWS: "Tumbling window aggregations do not support resharding. When a shard ends, Lambda
    considers the current window to be closed, and any child shards will start their own window
    in a fresh state." """
    name = "runner-reshard"
    create_stream(client, name, 1)
    put(client, name, [f"before-{i}" for i in range(7)])
    client.split_shard(StreamName=name, ShardToSplit=PARENT, NewStartingHashKey=str(2**127))
    wait_active(client, name)
    put(client, name, [f"after-{i}" for i in range(24)])
    handler = RecordingHandler()
    store = SQLiteStore(tmp_path / "store.db")
    config = MappingConfig(batch_size=3, window_seconds=900)
    mapping = EventSourceMapping(KinesisStream(name, client), handler, store, config, now_ms=now_ms)
    for _ in itertools.takewhile(
        lambda _: not snapshot_of(mapping).checkpoint.ended, range(MAX_POLLS)
    ):
        mapping.poll()
    assert snapshot_of(mapping).checkpoint.ended, snapshot_of(mapping).stats.last_error
    for _ in itertools.takewhile(lambda _: not mapping.idle(), range(MAX_POLLS)):
        mapping.poll(drain=True)
    shards = [e["shardId"] for e in handler.events]
    last_of_parent = len(shards) - shards[::-1].index(PARENT) - 1
    assert shards[: last_of_parent + 1] == [PARENT] * (last_of_parent + 1)
    assert is_final(handler.events[last_of_parent])
    assert handler.events[last_of_parent]["state"] == {"records": 7}
    children = handler.events[last_of_parent + 1 :]
    assert {e["shardId"] for e in children} == {"shardId-000000000001", "shardId-000000000002"}
    for shard in ("shardId-000000000001", "shardId-000000000002"):
        mine = [e for e in children if e["shardId"] == shard]
        assert mine[0]["state"] == {}
        assert is_final(mine[-1])
    assert sum(len(sequences(e)) for e in children if has_records(e)) == 24
    store.close()
