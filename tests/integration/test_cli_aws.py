"""The CLI against local Kinesis and DynamoDB: create, produce, process, query, as a user would."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import boto3
import pytest
from tests.conftest import reference_totals

from taxi_stream.streams import kpl
from taxi_stream.streams.kinesis import create_stream

CLI = [sys.executable, "-m", "taxi_stream.cli"]
POISON = [
    "not json at all",
    "[1, 2, 3]",
    '{"vendorId": 1}',
    '{"vendorId": 2, "pickupDate": "2024-11-25T08:00:00Z", "googleDistance": -1}',
]


def cli(*args: str, env: dict[str, str], stdin: bytes | None = None) -> str:
    """Run one taxi-stream command; fail the test with its stderr if it fails."""
    done = subprocess.run(
        [*CLI, *args], input=stdin, capture_output=True, env=env, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.decode()


@pytest.mark.aws
def test_cli_round_trip_on_kinesis_and_dynamodb(
    tmp_path: Path, kinesalite_url: str, moto_url: str, aws_credentials: dict[str, str]
) -> None:
    """KPL-aggregated trips into kinesis://, processed into dynamodb://, queried: exact totals."""
    env = {
        **os.environ,
        **aws_credentials,
        "AWS_ENDPOINT_URL_KINESIS": kinesalite_url,
        "AWS_ENDPOINT_URL_DYNAMODB": moto_url,
    }
    env.pop("AWS_ENDPOINT_URL", None)
    names = ["--stream-name", "cli-stream", "--table-name", "cli-table", "--shards", "2"]
    assert "cli-table" in cli("aws", "create-resources", *names, env=env)
    clean = cli("generate", "--trips", "1500", "--seed", "5", env=env)
    trips = clean + "".join(line + "\n" for line in POISON)
    lines = trips.splitlines()
    stream, store = ["--stream", "kinesis://cli-stream"], ["--store", "dynamodb://cli-table"]
    data_dir = ["--data-dir", str(tmp_path)]
    cli("produce", "--from", "-", "--aggregate", *stream, *data_dir, env=env, stdin=trips.encode())
    cli("process", "--until-idle", "--window-seconds", "60", *stream, *store, *data_dir, env=env)
    rows = json.loads(cli("query", "--format", "json", *store, *data_dir, env=env))
    letters = json.loads(cli("query", "--dead-letters", "--format", "json", *store, env=env))

    stored: dict[str, list[int]] = defaultdict(lambda: [0] * 7)
    for row in rows:
        cell = stored[row["vendorId"]]
        cell[0] += row["tripCount"]
        cell[1] += round(row["totalDistanceMiles"] * 1000)
        cell[2] += row["totalDurationSeconds"]
        cell[3] += row["passengerCount"]
        cell[4] += row["totalFare"]
        cell[5] += row["totalTip"]
        cell[6] += row["totalAmount"]
    assert sum(c[0] for c in stored.values()) + len(letters) == len(lines)
    assert len(letters) == len(POISON)
    expected = reference_totals([json.loads(line) for line in clean.splitlines()])
    assert {v: tuple(c) for v, c in stored.items()} == expected


@pytest.mark.aws
def test_create_resources_says_whether_it_created_or_found_each(
    kinesalite_url: str, moto_url: str, aws_credentials: dict[str, str]
) -> None:
    """create-resources says "created" for a new stream and table, "already there" the next time."""
    env = {
        **os.environ,
        **aws_credentials,
        "AWS_ENDPOINT_URL_KINESIS": kinesalite_url,
        "AWS_ENDPOINT_URL_DYNAMODB": moto_url,
    }
    names = ["--stream-name", "twice-stream", "--table-name", "twice-table", "--shards", "3"]
    first = cli("aws", "create-resources", *names, env=env).splitlines()
    second = cli("aws", "create-resources", *names, env=env).splitlines()
    assert first == ["stream twice-stream: created (3 shard(s))", "table twice-table: created"]
    assert second == ["stream twice-stream: already there", "table twice-table: already there"]


@pytest.mark.aws
def test_produce_aggregate_reports_user_and_kinesis_records(
    tmp_path: Path, kinesalite_url: str, aws_credentials: dict[str, str]
) -> None:
    """produce --aggregate says how many trips went in how many Kinesis records, as stored."""
    env = {**os.environ, **aws_credentials, "AWS_ENDPOINT_URL_KINESIS": kinesalite_url}
    env.pop("AWS_ENDPOINT_URL", None)
    client = boto3.client("kinesis", endpoint_url=kinesalite_url, region_name="us-east-1")
    create_stream(client, "cli-aggregate", 2)
    trips = cli("generate", "--trips", "2000", "--seed", "3", env=env)
    done = subprocess.run(
        [*CLI, "produce", "--from", "-", "--aggregate", "--stream", "kinesis://cli-aggregate"],
        input=trips.encode(),
        capture_output=True,
        env={**env, "TAXI_STREAM_DATA_DIR": str(tmp_path)},
        timeout=120,
        check=True,
    )
    stored = []
    for shard in client.list_shards(StreamName="cli-aggregate")["Shards"]:
        iterator = client.get_shard_iterator(
            StreamName="cli-aggregate", ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        stored += client.get_records(ShardIterator=iterator, Limit=10_000)["Records"]
    client.close()
    users = sum(len(kpl.deaggregate(record["Data"])) for record in stored)
    assert users == 2_000
    assert 1 < len(stored) < 2_000
    assert (
        f"sent 2,000 records in {len(stored):,} Kinesis records, failed 0" in done.stderr.decode()
    )


def _create(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run `aws create-resources` with ``args``; the result, whatever it is."""
    return subprocess.run(
        [*CLI, "aws", "create-resources", *args], capture_output=True, text=True, env=env,
        timeout=120, check=False,
    )  # fmt: skip


@pytest.mark.aws
def test_create_resources_checks_both_names_before_creating_anything(
    kinesalite_url: str, moto_url: str, aws_credentials: dict[str, str]
) -> None:
    """A table name DynamoDB refuses (t3: under 3 characters) is one line, and no stream is made;
    a stream name Kinesis refuses is one line too."""
    env = {**os.environ, **aws_credentials, "AWS_ENDPOINT_URL_KINESIS": kinesalite_url,
           "AWS_ENDPOINT_URL_DYNAMODB": moto_url}  # fmt: skip
    env.pop("AWS_ENDPOINT_URL", None)
    done = _create(env, "--stream-name", "names-s3", "--table-name", "t3")
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert "'t3'" in line
    assert "3 to 255" in line
    client = boto3.client("kinesis", endpoint_url=kinesalite_url, region_name="us-east-1")
    assert "names-s3" not in client.list_streams()["StreamNames"]
    done = _create(env, "--stream-name", "bad name", "--table-name", "names-t3")
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert "'bad name'" in line
    assert "1 to 128" in line


@pytest.mark.aws
def test_create_resources_says_what_it_created_before_a_table_failure(
    kinesalite_url: str, aws_credentials: dict[str, str]
) -> None:
    """When the table cannot be made (no DynamoDB at its endpoint), the one error line says the
    stream was created first."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{closed.getsockname()[1]}"
    env = {**os.environ, **aws_credentials, "AWS_ENDPOINT_URL_KINESIS": kinesalite_url,
           "AWS_ENDPOINT_URL_DYNAMODB": nowhere}  # fmt: skip
    env.pop("AWS_ENDPOINT_URL", None)
    done = _create(env, "--stream-name", "before-failure", "--table-name", "no-dynamodb")
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("Error: stream before-failure: created (1 shard(s)); table no-dynamodb")
