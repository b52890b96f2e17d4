"""The failure-destination contract: a JSON-lines file and an SQS queue (moto) behave the same."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from taxi_stream.app.wiring import open_destination
from taxi_stream.core.errors import DestinationError
from taxi_stream.ports import FailureDestination

_queues = itertools.count()

Received = Callable[[], list[dict[str, Any]]]


def record(n: int) -> dict[str, Any]:
    """An invocation record as the runner sends one (the fields a reader relies on)."""
    return {
        "requestContext": {"requestId": f"id-{n}", "condition": "RetryAttemptsExhausted"},
        "version": "1.0",
        "KinesisBatchInfo": {"shardId": "shardId-000000000000", "batchSize": n},
    }


def _file(tmp_path: Path) -> Iterator[tuple[FailureDestination, Received, str]]:
    path = tmp_path / "failed" / "batches.jsonl"
    destination = open_destination(f"file://{path}")
    assert destination is not None

    def received() -> list[dict[str, Any]]:
        return [json.loads(line) for line in path.read_text().splitlines()]

    yield destination, received, f"file://{path}"


def _sqs(endpoint_url: str) -> Iterator[tuple[FailureDestination, Received, str]]:
    client = boto3.client("sqs", endpoint_url=endpoint_url, region_name="us-east-1")
    name = f"failed-{next(_queues)}"
    url = client.create_queue(QueueName=name)["QueueUrl"]
    destination = open_destination(f"sqs://{name}", endpoint_url=endpoint_url, region="us-east-1")
    assert destination is not None

    def received() -> list[dict[str, Any]]:
        messages = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        return [json.loads(m["Body"]) for m in messages]

    yield destination, received, f"sqs://{name}"
    client.delete_queue(QueueUrl=url)
    client.close()


@pytest.fixture(params=["file", pytest.param("sqs", marks=pytest.mark.aws)])
def destination(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[FailureDestination, Received, str]]:
    """A fresh destination, how to read back what it received, and its description."""
    if request.param == "file":
        yield from _file(tmp_path)
    else:
        yield from _sqs(request.getfixturevalue("moto_url"))


def test_each_record_sent_is_received_whole(
    destination: tuple[FailureDestination, Received, str],
) -> None:
    """Every record sent arrives once, as the same JSON object."""
    target, received, _ = destination
    target.send(record(1))
    target.send(record(2))
    got = received()
    assert sorted(got, key=lambda r: r["requestContext"]["requestId"]) == [record(1), record(2)]


def test_a_destination_describes_itself_by_its_url(
    destination: tuple[FailureDestination, Received, str],
) -> None:
    """The description people see is the URL that named it."""
    target, _, url = destination
    assert target.description == url


@pytest.mark.parametrize(
    "url",
    [
        "file://{tmp}/a-file/under-a-file.jsonl",
        pytest.param("sqs://missing", marks=pytest.mark.aws),
    ],
)
def test_a_destination_that_cannot_take_a_record_raises_destination_error(
    url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Nothing is lost silently: a failed send raises DestinationError (the discard is retried)."""
    (tmp_path / "a-file").write_text("a file, not a folder")
    endpoint = request.getfixturevalue("moto_url") if url.startswith("sqs") else None
    target = open_destination(url.format(tmp=tmp_path), endpoint_url=endpoint, region="us-east-1")
    assert target is not None
    with pytest.raises(DestinationError, match="on-failure destination"):
        target.send(record(1))
