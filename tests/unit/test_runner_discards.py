"""What a discard reports: the on-failure record as AWS sends it, and counts apart from delivery."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from taxi_stream.app.process import ProcessOptions, Processor
from taxi_stream.app.wiring import Settings
from taxi_stream.runner.mapping import MappingConfig
from taxi_stream.streams.local import LocalStream
from tests.support.harness import Harness, snapshot_of
from tests.support.recording import RecordingHandler, carries, sequences

# What AWS sent for ReportBatchItemFailures with BatchSize 3 and MaximumRetryAttempts 3 when the
# 6th of 6 records kept failing (recorded from AWS as LocalStack's validated snapshot
# test_kinesis_report_batch_item_failures, 2024-10-12): the fields that do not vary per run.
AWS_PARTIAL_DISCARD: dict[str, Any] = {
    "requestContext": {"condition": "RetryAttemptsExhausted", "approximateInvokeCount": 4},
    "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": None},
    "version": "1.0",
    "KinesisBatchInfo": {"shardId": "shardId-000000000000", "batchSize": 1},
}


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    """A one-shard embedded stream and a store on tmp_path, with a settable clock."""
    h = Harness(tmp_path)
    yield h
    h.close()


def pinned(record: dict[str, Any]) -> dict[str, Any]:
    """The parts of an on-failure record that AWS_PARTIAL_DISCARD pins."""
    return {
        part: {key: record[part][key] for key in fields}
        if isinstance(fields, dict)
        else record[part]
        for part, fields in AWS_PARTIAL_DISCARD.items()
    }


def test_a_partial_failure_discarded_is_reported_as_aws_reports_it(harness: Harness) -> None:
    """AWS: the records from the lowest failure on, invoke count 4, "functionError": null."""
    seqs = harness.put(6)
    handler = RecordingHandler()
    handler.fail_items(seqs[5], when=carries(seqs[5]), times=None)
    mapping = harness.mapping(
        handler,
        batch_size=3,
        window_seconds=0,
        maximum_retry_attempts=3,
        report_batch_item_failures=True,
    )
    harness.settle(mapping, step_ms=60_000)
    assert [sequences(e) for e in handler.events] == [seqs[:3], seqs[3:]] + [seqs[5:]] * 3
    (record,) = harness.failure_records()
    assert pinned(record) == AWS_PARTIAL_DISCARD
    assert record["responseContext"] == AWS_PARTIAL_DISCARD["responseContext"]
    info = record["KinesisBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"]) == (seqs[5], seqs[5])
    assert snapshot_of(mapping).checkpoint.position == seqs[5]


def test_a_response_that_fails_the_whole_batch_is_no_function_error(harness: Harness) -> None:
    """AWS reports "functionError": null for a batch failed by a bad itemIdentifier."""
    (seq,) = harness.put(1)
    handler = RecordingHandler()
    handler.respond({"batchItemFailures": [{"itemIdentifier": 123}]}, times=None)
    mapping = harness.mapping(
        handler,
        batch_size=1,
        window_seconds=0,
        maximum_retry_attempts=2,
        report_batch_item_failures=True,
    )
    harness.settle(mapping, step_ms=60_000)
    (record,) = harness.failure_records()
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["responseContext"]["functionError"] is None
    info = record["KinesisBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (
        seq,
        seq,
        1,
    )


def test_processor_counts_discarded_records_apart_from_delivered_ones(tmp_path: Path) -> None:
    """ "delivered N" is what the function processed; discarded records are counted apart."""
    data = tmp_path / "data"
    stream = LocalStream(data / "stream.db", 1)
    trips = [json.dumps({"n": i, "note": "poison" if i == 4 else ""}).encode() for i in range(6)]
    stream.put_records([("k", trip) for trip in trips])
    stream.close()
    failures = tmp_path / "failures.jsonl"
    mapping = MappingConfig(
        batch_size=3,
        window_seconds=0,
        maximum_retry_attempts=0,
        on_failure=f"file://{failures}",
    )
    options = ProcessOptions("tests.support.poison:lambda_handler", mapping)
    with Processor(Settings(data_dir=data), options) as processor:
        processor.loop(stop=lambda: True)
        assert (processor.delivered, processor.discarded) == (3, 3)
        assert processor.delivery().line() == (
            f"delivered 3 records, discarded 3 (sent to file://{failures})"
        )
    (record,) = [json.loads(line) for line in failures.read_text().splitlines()]
    assert record["KinesisBatchInfo"]["batchSize"] == 3
