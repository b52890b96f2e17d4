"""`taxi-stream process` as users run it: AWS-named flags, on-failure file and SQS, stuck shards."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from tests.servers.moto import fake_aws_credentials, moto_server
from tests.support.brackets import MESSAGE

from taxi_stream.sources.simulator import Simulator, SimulatorConfig
from taxi_stream.streams.local import LocalStream

REPO = Path(__file__).resolve().parents[2]
CLI_TIMEOUT_S = 120
TRIPS = 300


def produce(data_dir: Path, *, poison_at: int | None = None) -> list[bytes]:
    """Seeded trips in a one-shard embedded stream (one of them poisoned if asked)."""
    entries = Simulator(SimulatorConfig(seed=11)).batch(TRIPS).entries
    if poison_at is not None:
        key, data = entries[poison_at]
        entries[poison_at] = (key, data[:-1] + b', "note": "poison"}')
    stream = LocalStream(data_dir / "stream.db", 1)
    stream.put_records(entries)
    stream.close()
    return [data for _, data in entries]


def sequence_numbers(data_dir: Path) -> list[str]:
    """The sequence numbers of the one-shard embedded stream, in order."""
    stream = LocalStream(data_dir / "stream.db")
    records = stream.read("shardId-000000000000", None, TRIPS).records
    stream.close()
    return [record.sequence_number for record in records]


def process(
    data_dir: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `taxi-stream process --until-idle --quiet` on ``data_dir`` with more flags."""
    argv = [sys.executable, "-m", "taxi_stream.cli", "process", "--data-dir", str(data_dir)]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TAXI_")}
    path = os.pathsep.join([str(REPO / "src"), str(REPO)])  # this checkout's code, and tests/
    environment |= {"PYTHONPATH": path, "PYTHONWARNINGS": "error"} | (env or {})
    return subprocess.run(
        [*argv, "--until-idle", "--quiet", *args],
        cwd=data_dir.parent,
        env=environment,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        check=False,
    )


def test_a_poisoned_record_is_isolated_and_its_batch_details_written(tmp_path: Path) -> None:
    """AWS: "For function errors, you can also configure the event source mapping to split a
    failed batch into two batches. Retrying with smaller batches isolates bad records" """
    produce(tmp_path / "data", poison_at=123)
    failures = tmp_path / "failures.jsonl"
    done = process(
        tmp_path / "data",
        "--handler", "tests.support.poison:lambda_handler",
        "--batch-size", "64",
        "--maximum-retry-attempts", "0",
        "--bisect-batch-on-function-error",
        "--on-failure", f"file://{failures}",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (record,) = [json.loads(line) for line in failures.read_text().splitlines()]
    info = record["KinesisBatchInfo"]
    poisoned = sequence_numbers(tmp_path / "data")[123]
    assert (info["startSequenceNumber"], info["batchSize"]) == (poisoned, 1)
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert "discarded 1 (1 rec) -> file://" in done.stderr
    assert f"delivered {TRIPS - 1:,} records, discarded 1 (sent to file://{failures})\n" in (
        done.stderr
    )


def test_the_workshop_handler_is_reported_stuck(tmp_path: Path) -> None:
    """AWS: "If invocation is unsuccessful, your Lambda function suspends further processing
    until a successful invocation." """
    produce(tmp_path / "data")
    done = process(
        tmp_path / "data",
        "--handler", "tests.support.workshop:lambda_handler",
        "--give-up-after", "1",
        env={"AWS_REGION": "us-east-1"},
    )  # fmt: skip
    assert done.returncode == 3, done.stderr
    assert "shard shardId-000000000000 STUCK: final invoke failed, shard suspended" in done.stderr
    assert "KeyError: 'googleDistance'" in done.stderr


def test_parallelization_with_tumbling_windows_is_refused_in_one_line(tmp_path: Path) -> None:
    """AWS: "Your state can be a maximum of 1 MB per shard." - so one batch at a time per shard."""
    done = process(tmp_path / "data", "--parallelization-factor", "2")
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1
    assert "ParallelizationFactor 2 cannot be used with tumbling windows" in done.stderr


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    """moto's server on 127.0.0.1 with fake credentials."""
    with fake_aws_credentials(), moto_server() as url:
        yield url


def receive(sqs: Any, url: str) -> list[dict[str, Any]]:
    """Every message waiting in a queue, as JSON."""
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(message["Body"]) for message in messages]


def test_discarded_batches_go_to_an_sqs_queue(moto_url: str, tmp_path: Path) -> None:
    """AWS: "The following example shows what Lambda sends to an SQS queue or SNS topic for a
    failed Kinesis event source invocation." """
    sqs = boto3.client("sqs", endpoint_url=moto_url, region_name="us-east-1")
    url = sqs.create_queue(QueueName="failed-batches")["QueueUrl"]
    produce(tmp_path / "data", poison_at=7)
    done = process(
        tmp_path / "data",
        "--handler", "tests.support.poison:lambda_handler",
        "--batch-size", "10",
        "--maximum-retry-attempts", "1",
        "--on-failure", "sqs://failed-batches",
        "--endpoint-url", moto_url,
        env={"AWS_DEFAULT_REGION": "us-east-1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (record,) = receive(sqs, url)
    info = record["KinesisBatchInfo"]
    first_batch = sequence_numbers(tmp_path / "data")[:10]
    assert (info["startSequenceNumber"], info["endSequenceNumber"]) == (
        first_batch[0],
        first_batch[-1],
    )
    name = LocalStream(tmp_path / "data" / "stream.db").name
    assert info["streamArn"] == f"arn:aws:kinesis:us-east-1:000000000000:stream/{name}"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert set(record) == {
        "requestContext",
        "responseContext",
        "version",
        "timestamp",
        "KinesisBatchInfo",
    }
    sqs.close()


def test_our_handler_after_a_stuck_one_says_it_drops_the_foreign_state(tmp_path: Path) -> None:
    """After the workshop handler got stuck, our handler starts the open window afresh and says
    so on stderr, in one line, as README's Troubleshooting tells."""
    produce(tmp_path / "data")
    stuck = process(
        tmp_path / "data",
        "--handler", "tests.support.workshop:lambda_handler",
        "--give-up-after", "1",
        env={"AWS_REGION": "us-east-1"},
    )  # fmt: skip
    assert stuck.returncode == 3, stuck.stderr
    done = process(tmp_path / "data")
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1
    assert warnings[0].startswith("warning: ignoring state not written by this handler ([")
    assert warnings[0].endswith(
        "the open window starts afresh, and the partial totals that state held for it are dropped"
    )
    assert "Traceback" not in done.stderr


def test_a_handler_error_that_reads_like_markup_is_printed_as_it_is(tmp_path: Path) -> None:
    """A foreign handler's error ``boom [/x] [red]`` is no terminal markup: the retrying notice
    and the shard's summary show it whole, and the command ends as it should (exit 3)."""
    produce(tmp_path / "data")
    done = process(
        tmp_path / "data",
        "--handler", "tests.support.brackets:lambda_handler",
        "--give-up-after", "1",
    )  # fmt: skip
    assert done.returncode == 3, done.stderr
    error = f"RuntimeError: {MESSAGE}"
    notice, summary, *rest = done.stderr.splitlines()
    assert notice == f"shard shardId-000000000000 retrying: {error}"
    assert summary.startswith("shard shardId-000000000000: retrying, ")
    assert summary.endswith(f" failures; last error: {error}")
    assert rest[0] == "gave up: work left has kept failing for 1 s"


def test_discarded_batches_sent_to_a_path_with_brackets_name_it_as_it_is(tmp_path: Path) -> None:
    """An on-failure file under ``runs [1]/[/x] [red]`` is named as it is wherever the discards
    are told: the notice, the shard's summary (with the handler's error) and the delivery line."""
    produce(tmp_path / "data")
    failures = tmp_path / "runs [1]" / "[/x] [red]" / "failures.jsonl"
    failures.parent.mkdir(parents=True)
    done = process(
        tmp_path / "data",
        "--handler", "tests.support.brackets:lambda_handler",
        "--maximum-retry-attempts", "0",
        "--on-failure", f"file://{failures}",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    where = f"discarded 1 ({TRIPS} rec) -> file://{failures}"
    assert done.stderr.splitlines() == [
        f"shard shardId-000000000000: {where}",
        f"shard shardId-000000000000: caught up, 1 failures, {where}; last error: RuntimeError:"
        f" {MESSAGE}",
        f"delivered 0 records, discarded {TRIPS} (sent to file://{failures})",
        "store: 0 trips in windows, 0 dead letters",
    ]
    assert len(failures.read_text().splitlines()) == 1
