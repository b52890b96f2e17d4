"""A Kinesis stream's life: created when missing, and waited for until it is ACTIVE."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from taxi_stream.core.errors import ConfigError, StreamError
from taxi_stream.streams.kinesis_retry import error_code

if TYPE_CHECKING:
    from mypy_boto3_kinesis import KinesisClient


def create_stream(
    client: KinesisClient,
    name: str,
    shard_count: int,
    *,
    timeout_s: float = 30.0,
    poll_s: float = 0.05,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """Create a stream unless it exists, wait (bounded) until ACTIVE; True if it was created."""
    if shard_count < 1:
        raise ConfigError(f"shard count must be at least 1, got {shard_count}")
    created = True
    try:
        client.create_stream(StreamName=name, ShardCount=shard_count)
    except ClientError as exc:
        if error_code(exc) != "ResourceInUseException":
            raise StreamError(f"cannot create stream {name}: {exc}") from exc
        created = False
    except BotoCoreError as exc:
        raise StreamError(f"cannot create stream {name}: {exc}") from exc
    wait_active(client, name, timeout_s=timeout_s, poll_s=poll_s, sleep=sleep)
    return created


def wait_active(
    client: KinesisClient,
    name: str,
    *,
    timeout_s: float = 30.0,
    poll_s: float = 0.05,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Wait, bounded, until a stream is ACTIVE (after creating or resharding it)."""
    deadline = time.monotonic() + timeout_s
    while (status := _stream_status(client, name)) != "ACTIVE":
        if time.monotonic() >= deadline:
            raise StreamError(f"stream {name} still {status} after {timeout_s:.0f} s")
        sleep(poll_s)


def _stream_status(client: KinesisClient, name: str) -> str:
    try:
        return client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"][
            "StreamStatus"
        ]
    except (ClientError, BotoCoreError) as exc:
        raise StreamError(f"cannot describe stream {name}: {exc}") from exc
