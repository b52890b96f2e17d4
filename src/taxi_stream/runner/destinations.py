"""On-failure destinations: where the metadata of a discarded batch goes (JSON lines, or SQS)."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from taxi_stream.core.errors import DestinationError
from taxi_stream.core.records import StreamRecord
from taxi_stream.core.timefmt import iso_ms

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

RETRY_ATTEMPTS_EXHAUSTED: Final = "RetryAttemptsExhausted"
RECORD_AGE_EXCEEDED: Final = "RecordAgeExceeded"


def invocation_record(
    records: Sequence[StreamRecord],
    *,
    shard_id: str,
    stream_arn: str,
    function_arn: str,
    condition: str,
    invoke_count: int,
    unhandled: bool,
    now_ms: int,
) -> dict[str, Any]:
    """The on-failure invocation record of discarded records (their metadata, not the records).

    The shape Lambda sends to an SQS queue or SNS topic for a Kinesis event source:
    ``requestContext`` (``condition`` RetryAttemptsExhausted or RecordAgeExceeded),
    ``responseContext`` (only when the function was invoked; ``functionError`` is "Unhandled"
    when the last invocation raised or timed out, null when it returned a response that failed
    records: partial batch failures, a bad ``batchItemFailures``), ``version``, ``timestamp`` and
    ``KinesisBatchInfo`` (the records discarded: after a partial batch failure, those from the
    lowest failed one on). ``requestId`` is derived from the records, so a record sent again
    after a crash (it is sent before the checkpoint moves past them) carries the same id.
    """
    first, last = records[0], records[-1]
    key = f"{stream_arn}/{shard_id}/{first.sequence_number}/{last.sequence_number}/{condition}"
    record: dict[str, Any] = {
        "requestContext": {
            "requestId": str(uuid.uuid5(uuid.NAMESPACE_URL, key)),
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": invoke_count,
        },
    }
    if invoke_count:
        record["responseContext"] = {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled" if unhandled else None,
        }
    record["version"] = "1.0"
    record["timestamp"] = iso_ms(now_ms)
    record["KinesisBatchInfo"] = {
        "shardId": shard_id,
        "startSequenceNumber": first.sequence_number,
        "endSequenceNumber": last.sequence_number,
        "approximateArrivalOfFirstRecord": iso_ms(first.arrival_ms),
        "approximateArrivalOfLastRecord": iso_ms(last.arrival_ms),
        "batchSize": len(records),
        "streamArn": stream_arn,
    }
    return record


class FileDestination:
    """Appends each record as one JSON line to a file, flushed and synced to disk."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @property
    def description(self) -> str:
        """``file://PATH``."""
        return f"file://{self.path}"

    def send(self, record: dict[str, Any]) -> None:
        """Append one line and sync it."""
        line = json.dumps(record, separators=(",", ":")) + "\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as out:
                out.write(line)
                out.flush()
                os.fsync(out.fileno())
        except OSError as exc:
            raise DestinationError(f"on-failure destination {self.description}: {exc}") from exc


class SQSDestination:
    """Sends each record as one SQS message (``sqs:SendMessage``, as Lambda does)."""

    def __init__(
        self,
        queue: str,
        client: SQSClient | None = None,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
    ) -> None:
        self._queue = queue
        self._client = client
        self._endpoint_url = endpoint_url or _endpoint_of(queue)
        self._region = region
        self._url = queue if _is_url(queue) else None

    @property
    def description(self) -> str:
        """``sqs://QUEUE``."""
        return f"sqs://{self._queue}"

    @property
    def client(self) -> SQSClient:
        """The boto3 SQS client (built on first use unless one was injected)."""
        if self._client is None:
            from taxi_stream.infra.awsclient import make_client  # noqa: PLC0415 - SQS only

            self._client = make_client("sqs", region=self._region, endpoint_url=self._endpoint_url)
        return self._client

    def send(self, record: dict[str, Any]) -> None:
        """Send one message; SQS errors become DestinationError (the discard is retried)."""
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

        body = json.dumps(record, separators=(",", ":"))
        try:
            self.client.send_message(QueueUrl=self._queue_url(), MessageBody=body)
        except (BotoCoreError, ClientError) as exc:
            raise DestinationError(f"on-failure destination {self.description}: {exc}") from exc

    def _queue_url(self) -> str:
        if self._url is None:
            self._url = self.client.get_queue_url(QueueName=self._queue)["QueueUrl"]
        return self._url


def _is_url(queue: str) -> bool:
    return queue.startswith(("http://", "https://"))


def _endpoint_of(queue: str) -> str | None:
    """The endpoint a queue URL lives at (so a local queue needs no separate endpoint)."""
    if not _is_url(queue):
        return None
    parts = urlsplit(queue)
    return f"{parts.scheme}://{parts.netloc}"
