"""The Lambda entry's embedded-metric-format line: one per invocation, counts as the event holds."""

from __future__ import annotations

import json
import logging
from collections import Counter
from typing import Any

import pytest

from taxi_stream import lambda_handler as entry
from taxi_stream.core.errors import ConfigError, Reason
from taxi_stream.function.handler import TumblingWindowHandler
from taxi_stream.stores.memory import MemoryStore
from tests.conftest import event_trips, reference_totals

# What tests/events/taxi_poison_batch.json holds: two trips and one record per reason.
POISON_REASONS = [Reason.NOT_JSON, Reason.NOT_OBJECT, Reason.MISSING_VENDOR, Reason.BAD_DISTANCE,
                  Reason.BAD_TIMESTAMP, Reason.NOT_UTF8, Reason.NOT_BASE64]  # fmt: skip


class Context:
    """The part of a Lambda context the entry reads."""

    function_name = "taxi-stream-fn"
    aws_request_id = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@pytest.fixture
def warm(package_logger: logging.Logger, monkeypatch: pytest.MonkeyPatch) -> MemoryStore:
    """A warm container whose handler writes to memory, in the namespace ``Taxi/Test``."""
    store = MemoryStore()
    monkeypatch.setattr(entry, "_handler", TumblingWindowHandler(store))
    monkeypatch.setattr(entry, "_namespace", "Taxi/Test")
    return store


def invoke(event: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> tuple[Any, dict[str, Any]]:
    """The response and the one EMF line the invocation wrote on stdout."""
    response = entry.lambda_handler(event, Context())  # type: ignore[arg-type]
    (line,) = capsys.readouterr().out.splitlines()
    return response, json.loads(line)


def metric_names(line: dict[str, Any]) -> set[str]:
    """The metric names the line's directive declares (each must be a value in the line)."""
    (directive,) = line["_aws"]["CloudWatchMetrics"]
    names = {m["Name"] for m in directive["Metrics"]}
    assert names <= set(line)
    assert directive["Dimensions"] == [["FunctionName"]]
    return names


def test_a_clean_batch_counts_its_records_and_trips(
    warm: MemoryStore, load_event: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Records and Trips equal the event's records; no dead letters, nothing written yet."""
    event = load_event("taxi_window_batch.json")
    _, line = invoke(event, capsys)
    assert line["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Taxi/Test"
    assert line["FunctionName"] == "taxi-stream-fn"
    assert line["ShardId"] == event["shardId"]
    assert (line["Records"], line["Trips"]) == (len(event["Records"]), len(event_trips(event)))
    assert (line["DeadLetters"], line["LateTrips"], line["ContributionsWritten"]) == (0, 0, 0)
    assert metric_names(line) == {"Records", "Trips", "DeadLetters", "LateTrips",
                                  "ContributionsWritten"}  # fmt: skip


def test_the_final_invoke_counts_the_contributions_written(
    warm: MemoryStore, load_event: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """The final invoke writes one contribution per vendor, and a redelivery writes none."""
    event = load_event("taxi_window_batch.json")
    response, _ = invoke(event, capsys)
    final = {**event, "Records": [], "state": response["state"], "isFinalInvokeForWindow": True}
    _, line = invoke(dict(final), capsys)
    assert (line["Records"], line["Trips"]) == (0, 0)
    assert line["ContributionsWritten"] == len(reference_totals(event_trips(event)))
    _, again = invoke(dict(final), capsys)
    assert again["ContributionsWritten"] == 0


def test_a_poison_batch_counts_dead_letters_by_reason(
    warm: MemoryStore, load_event: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each reason is its own metric; together they are DeadLetters; the good trips still count."""
    event = load_event("taxi_poison_batch.json")
    _, line = invoke(event, capsys)
    by_reason = {f"DeadLetters_{reason}": n for reason, n in Counter(POISON_REASONS).items()}
    assert {name: line[name] for name in by_reason} == by_reason
    assert line["DeadLetters"] == len(POISON_REASONS)
    assert line["Trips"] == len(event["Records"]) - len(POISON_REASONS)
    assert set(by_reason) <= metric_names(line)


def test_a_kpl_aggregate_is_one_record_of_many_trips(
    warm: MemoryStore, load_event: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """One Kinesis record carrying an aggregate: Records 1, Trips as many as it packs."""
    _, line = invoke(load_event("kpl_aggregated_batch.json"), capsys)
    packed = event_trips(load_event("taxi_window_batch.json"))  # what the aggregate was made of
    assert (line["Records"], line["Trips"], line["DeadLetters"]) == (1, len(packed), 0)


@pytest.mark.parametrize("value", ["", "AWS/Kinesis", "bad|name", "x" * 256])
def test_a_bad_namespace_is_a_config_error_naming_its_variable(value: str) -> None:
    """METRICS_NAMESPACE must be a namespace CloudWatch takes (and not one of AWS's)."""
    with pytest.raises(ConfigError, match=r"^METRICS_NAMESPACE: "):
        entry.metrics_namespace_from_env({"METRICS_NAMESPACE": value})


def test_the_namespace_defaults_to_taxistream() -> None:
    """Without METRICS_NAMESPACE the metrics land in TaxiStream."""
    assert entry.metrics_namespace_from_env({}) == "TaxiStream"
    assert entry.metrics_namespace_from_env({"METRICS_NAMESPACE": "Ops/Taxi"}) == "Ops/Taxi"
