"""Event source mapping settings: the ranges and combinations AWS accepts, checked on creation."""

from __future__ import annotations

from typing import Any

import pytest

from taxi_stream.app.wiring import open_destination
from taxi_stream.cli.process import parse_timestamp
from taxi_stream.core.errors import ConfigError
from taxi_stream.runner.config import MappingConfig
from taxi_stream.runner.destinations import FileDestination, SQSDestination
from taxi_stream.runner.mapping import EventSourceMapping
from tests.support.harness import Harness
from tests.support.recording import RecordingHandler


@pytest.mark.parametrize(
    "settings",
    [
        {"batch_size": 0},
        {"batch_size": 10_001},
        {"window_seconds": 901},
        {"window_seconds": -1},
        {"maximum_batching_window_s": 301},
        {"maximum_retry_attempts": -2},
        {"maximum_retry_attempts": 10_001},
        {"maximum_record_age_s": 59},
        {"maximum_record_age_s": 604_801},
        {"parallelization_factor": 0},
        {"parallelization_factor": 11, "window_seconds": 0},
        {"starting_position": "EARLIEST"},
        {"starting_position": "AT_TIMESTAMP"},
        {"starting_position_timestamp_ms": 0},
        {"function_timeout_s": 0},
        {"function_timeout_s": 901},
        {"idle_close_s": 121},
        {"on_failure": "s3://bucket"},
        {"on_failure": "file://"},
    ],
    ids=lambda settings: ",".join(f"{k}={v}" for k, v in settings.items()),
)
def test_values_out_of_the_aws_ranges_are_refused(settings: dict[str, Any]) -> None:
    """AWS API: "BatchSize ... Max 10,000", "MaximumBatchingWindowInSeconds to any value from 0
    seconds to 300 seconds", TumblingWindowInSeconds 0..900, MaximumRetryAttempts -1..10,000."""
    with pytest.raises(ConfigError):
        MappingConfig(**settings)


@pytest.mark.parametrize(
    "settings",
    [
        {"batch_size": 10_000, "window_seconds": 900},
        {"maximum_retry_attempts": -1, "maximum_record_age_s": -1},
        {"maximum_retry_attempts": 10_000, "maximum_record_age_s": 604_800},
        {"maximum_record_age_s": 60, "maximum_batching_window_s": 300},
        {"parallelization_factor": 10, "window_seconds": 0},
        {"starting_position": "AT_TIMESTAMP", "starting_position_timestamp_ms": 0},
        {"on_failure": "sqs://failed-batches"},
    ],
)
def test_values_at_the_aws_limits_are_accepted(settings: dict[str, Any]) -> None:
    """AWS API: "MaximumRecordAgeInSeconds ... Minimum: -1 Maximum: 604,800" and the like."""
    config = MappingConfig(**settings)
    assert all(getattr(config, key) == value for key, value in settings.items())


def test_parallelization_factor_with_tumbling_windows_is_refused_clearly() -> None:
    """AWS: "Your state can be a maximum of 1 MB per shard." - one state per shard."""
    with pytest.raises(ConfigError, match="ParallelizationFactor 2 cannot be used with tumbling"):
        MappingConfig(window_seconds=60, parallelization_factor=2)


def test_a_starting_timestamp_in_the_future_is_refused(tmp_path: Any) -> None:
    """AWS API: "StartingPositionTimestamp cannot be in the future." """
    harness = Harness(tmp_path)
    future = harness.clock() + 1
    with pytest.raises(ConfigError, match="future"):
        harness.mapping(
            RecordingHandler(),
            starting_position="AT_TIMESTAMP",
            starting_position_timestamp_ms=future,
        )
    harness.close()


def test_starting_timestamps_read_as_iso_or_unix_seconds() -> None:
    """AWS CLI: "--starting-position-timestamp 1541139109" is Unix time in seconds."""
    assert parse_timestamp("1541139109") == 1_541_139_109_000
    assert parse_timestamp("2018-11-02T06:11:49Z") == 1_541_139_109_000
    with pytest.raises(ConfigError):
        parse_timestamp("yesterday")


def test_destinations_are_named_by_their_scheme(tmp_path: Any) -> None:
    """AWS: "To retain discarded events, you can configure the event source mapping to send
    details about failed batches to an SQS queue or SNS topic." """
    assert open_destination(None) is None
    file = open_destination(f"file://{tmp_path}/failed.jsonl")
    assert isinstance(file, FileDestination)
    assert file.description == f"file://{tmp_path}/failed.jsonl"
    queue = open_destination("sqs://http://127.0.0.1:1/000000000000/failed")
    assert isinstance(queue, SQSDestination)
    assert queue.description == "sqs://http://127.0.0.1:1/000000000000/failed"


def test_mapping_reports_its_settings(tmp_path: Any) -> None:
    """The mapping exposes TumblingWindowInSeconds and its settings to the views."""
    harness = Harness(tmp_path)
    mapping: EventSourceMapping = harness.mapping(RecordingHandler(), window_seconds=5)
    assert mapping.window_seconds == 5
    assert mapping.config.window_seconds == 5
    assert mapping.destination is not None
    harness.close()
