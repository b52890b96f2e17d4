"""replay --stream kinesis://NAME sends the very records the embedded stream gets, each once, and
counts every one of them when it processes what it sends."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from taxi_stream.streams.kinesis import KinesisStream, create_stream
from taxi_stream.streams.local import LocalStream

KAGGLE = Path(__file__).parents[1] / "data" / "kaggle_trip_duration_train_first1k.csv"


def replay_env(kinesalite_url: str, aws_credentials: dict[str, str]) -> dict[str, str]:
    """The environment of a replay into kinesalite (no other endpoint)."""
    env = {**os.environ, **aws_credentials, "AWS_ENDPOINT_URL_KINESIS": kinesalite_url}
    env.pop("AWS_ENDPOINT_URL", None)
    return env


def all_data(stream: LocalStream | KinesisStream) -> list[bytes]:
    """Every record's data, from every shard."""
    out: list[bytes] = []
    for shard in stream.list_shards():
        after = None
        while records := stream.read(shard.shard_id, after, 10_000).records:
            out += [record.data for record in records]
            after = records[-1].sequence_number
    return out


@pytest.mark.aws
def test_a_replay_into_kinesis_sends_what_the_embedded_stream_gets(
    tmp_path: Path, kinesalite_url: str, aws_credentials: dict[str, str]
) -> None:
    """The Kaggle sample into kinesalite (2 shards) and into the embedded stream: same records."""
    client = boto3.client("kinesis", endpoint_url=kinesalite_url, region_name="us-east-1")
    create_stream(client, "replay-stream", 2)
    env = replay_env(kinesalite_url, aws_credentials)
    base = [sys.executable, "-m", "taxi_stream.cli", "replay", str(KAGGLE), "--quiet",
            "--produce-only", "--data-dir", str(tmp_path)]  # fmt: skip
    for where in (["--stream", "kinesis://replay-stream"], []):
        done = subprocess.run(
            [*base, "--as-fast-as-possible", *where],
            capture_output=True, text=True, env=env, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "read 1,000 rows, sent 1,000 records" in done.stderr
    kinesis = KinesisStream("replay-stream", endpoint_url=kinesalite_url, region="us-east-1")
    local = LocalStream(tmp_path / "stream.db")
    sent = all_data(kinesis)
    assert len(sent) == 1_000
    assert sorted(sent) == sorted(all_data(local))
    client.close()


@pytest.mark.aws
def test_a_processed_replay_into_kinesis_counts_every_row(
    tmp_path: Path, kinesalite_url: str, aws_credentials: dict[str, str]
) -> None:
    """The Kaggle sample into kinesalite (2 shards), processed as it goes: 1,000 trips counted."""
    client = boto3.client("kinesis", endpoint_url=kinesalite_url, region_name="us-east-1")
    create_stream(client, "replay-processed", 2)
    done = subprocess.run(
        [sys.executable, "-m", "taxi_stream.cli", "replay", str(KAGGLE), "--quiet",
         "--as-fast-as-possible", "--data-dir", str(tmp_path),
         "--stream", "kinesis://replay-processed"],
        capture_output=True, text=True, env=replay_env(kinesalite_url, aws_credentials),
        timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "rows read 1,000 = 1,000 trips in windows + 0 dead letters (balanced)" in done.stderr
    assert "gave up" not in done.stderr
    client.close()
