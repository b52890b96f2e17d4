"""A checkpoint from an earlier stream of the same name is refused at once, never retried."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from taxi_stream.core.errors import ForeignCheckpointError, StreamError
from taxi_stream.runner.checkpoint import Checkpoint
from taxi_stream.runner.mapping import EventSourceMapping, MappingConfig
from taxi_stream.stores.sqlite import SQLiteStore
from taxi_stream.streams.kinesis import KinesisStream
from tests.support.recording import RecordingHandler

SHARD = "shardId-000000000000"
OLD = "49680740721459070490734805141269801579894143512909709314"
# What Kinesis (and kinesalite) answer for a sequence number of a deleted stream of that name.
FOREIGN = (
    f"StartingSequenceNumber {OLD} used in GetShardIterator on shard {SHARD} in stream trips"
    " under account 000000000000 is invalid because it did not come from this stream."
)


@pytest.fixture
def kinesis(
    aws_credentials: dict[str, str],
) -> Iterator[tuple[KinesisStream, Stubber, list[float]]]:
    """A KinesisStream on a client whose answers the test gives; its backoff waits recorded."""
    client = boto3.client("kinesis", region_name="us-east-1", endpoint_url="http://127.0.0.1:9")
    waits: list[float] = []
    with Stubber(client) as stubber:
        yield KinesisStream("trips", client, sleep=waits.append), stubber, waits
    client.close()


def test_a_sequence_number_of_a_deleted_stream_is_a_foreign_checkpoint(
    kinesis: tuple[KinesisStream, Stubber, list[float]],
) -> None:
    """GetShardIterator refusing a checkpoint as not from this stream: one clear error, no wait."""
    stream, stubber, waits = kinesis
    stubber.add_client_error("get_shard_iterator", "InvalidArgumentException", FOREIGN, 400)
    with pytest.raises(ForeignCheckpointError) as caught:
        stream.read(SHARD, OLD, 10)
    assert f"no sequence number {OLD} in {SHARD}" in str(caught.value)
    assert "another --data-dir" in str(caught.value)
    assert waits == []


def test_other_refused_iterators_stay_stream_errors(
    kinesis: tuple[KinesisStream, Stubber, list[float]],
) -> None:
    """Another InvalidArgumentException is the StreamError the runner retries, not a foreign one."""
    stream, stubber, _ = kinesis
    stubber.add_client_error("get_shard_iterator", "InvalidArgumentException", "Bad shard.", 400)
    with pytest.raises(StreamError) as caught:
        stream.read(SHARD, OLD, 10)
    assert not isinstance(caught.value, ForeignCheckpointError)


def test_the_runner_stops_on_a_foreign_checkpoint_instead_of_retrying_it(
    kinesis: tuple[KinesisStream, Stubber, list[float]], tmp_path: Path
) -> None:
    """The mapping raises the foreign checkpoint out of poll: no shard retries it forever."""
    stream, stubber, _ = kinesis
    checkpoints = SQLiteStore(tmp_path / "store.db")
    checkpoints.save_checkpoint("taxi-stream", "trips", SHARD, Checkpoint(position=OLD))
    shard = {"ShardId": SHARD, "HashKeyRange": {"StartingHashKey": "0", "EndingHashKey": "1"},
             "SequenceNumberRange": {"StartingSequenceNumber": "0"}}  # fmt: skip
    stubber.add_response("list_shards", {"Shards": [shard]})
    stubber.add_client_error("get_shard_iterator", "InvalidArgumentException", FOREIGN, 400)
    config = MappingConfig(window_seconds=0)
    mapping = EventSourceMapping(stream, RecordingHandler(), checkpoints, config, now_ms=lambda: 0)
    with pytest.raises(ForeignCheckpointError):
        mapping.poll()
    checkpoints.close()
