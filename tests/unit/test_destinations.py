"""On-failure destinations that cannot take a record raise their own error, DestinationError."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from taxi_stream.core.errors import DestinationError, StoreError
from taxi_stream.runner.destinations import FileDestination, SQSDestination

RECORD = {"requestContext": {"condition": "RetryAttemptsExhausted"}}
QUEUE_URL = "http://127.0.0.1:9/000000000000/failed-batches"


@pytest.fixture
def sqs(aws_credentials: dict[str, str]) -> Iterator[Stubber]:
    """An SQS client whose answers the test gives (no request leaves the process)."""
    client = boto3.client("sqs", region_name="us-east-1", endpoint_url="http://127.0.0.1:9")
    with Stubber(client) as stubber:
        yield stubber
    client.close()


def test_a_file_destination_that_cannot_be_written_raises_a_destination_error(
    tmp_path: Path,
) -> None:
    """A path that is a directory is a DestinationError naming the destination, no OSError."""
    with pytest.raises(DestinationError, match=f"file://{tmp_path}"):
        FileDestination(tmp_path).send(RECORD)


def test_an_sqs_destination_that_refuses_a_message_raises_a_destination_error(
    sqs: Stubber,
) -> None:
    """An SQS error on SendMessage is a DestinationError, not a store's error."""
    sqs.add_client_error("send_message", "AWS.SimpleQueueService.NonExistentQueue")
    with pytest.raises(DestinationError, match="sqs://") as caught:
        SQSDestination(QUEUE_URL, sqs.client).send(RECORD)
    assert not isinstance(caught.value, StoreError)
