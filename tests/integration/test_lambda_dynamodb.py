"""The deployed entry point, lambda_handler, on real event shapes against DynamoDB (moto server)."""

from __future__ import annotations

import copy
import logging
from decimal import Decimal
from typing import Any

import boto3
import pytest
from tests.conftest import event_trips, reference_totals

from taxi_stream import lambda_handler as entry
from taxi_stream.core.errors import Reason
from taxi_stream.stores.dynamodb import DynamoDBStore, create_table

pytestmark = pytest.mark.aws


@pytest.fixture
def table(
    moto_url: str,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
    package_logger: logging.Logger,
) -> str:
    """A fresh table named by the environment, and a fresh handler (one per container)."""
    name = f"t-{request.node.name[:40].replace('[', '-').replace(']', '')}"
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", moto_url)
    monkeypatch.delenv("TABLE_NAME", raising=False)
    monkeypatch.setenv("dynamoDBTableName", name)  # the original variable is honoured
    create_table(boto3.client("dynamodb", endpoint_url=moto_url), name)
    return name


def items(table: str, moto_url: str) -> dict[tuple[str, str], dict[str, Any]]:
    """Every window item of the table, keyed by (vendorId, windowStart)."""
    scan = boto3.resource("dynamodb", endpoint_url=moto_url).Table(table).scan()["Items"]
    return {(i["vendorId"], i["windowStart"]): i for i in scan if i["vendorId"] != "#dead-letter"}


def test_batch_and_final_invoke_write_design_items(
    table: str, moto_url: str, load_event: Any
) -> None:
    """One item per (vendor, window) with the DESIGN attributes, numbers exact."""
    event = load_event("taxi_window_batch.json")
    response = entry.lambda_handler(event, None)
    assert response["batchItemFailures"] == []
    assert items(table, moto_url) == {}
    final = {**event, "Records": [], "state": response["state"], "isFinalInvokeForWindow": True}
    assert entry.lambda_handler(final, None) == {"state": {}, "batchItemFailures": []}
    stored = items(table, moto_url)
    expected = reference_totals(event_trips(event))
    assert set(stored) == {(vendor, "2024-11-25T08:00:00Z") for vendor in expected}
    for (vendor, _), item in stored.items():
        trips, milli, seconds, passengers, fare, tip, amount = expected[vendor]
        assert (item["totalFare"], item["totalTip"], item["totalAmount"]) == (
            Decimal(fare) / 100,
            Decimal(tip) / 100,
            Decimal(amount) / 100,
        )  # exact dollars; absent money (this event has none) is 0
        assert item["tripCount"] == trips
        assert item["totalDistance"] == Decimal(milli) / 1000
        assert item["totalDuration"] == seconds
        assert item["passengerCount"] == passengers
        assert item["windowEnd"] == "2024-11-25T08:01:00Z"
        assert len(item["contributions"]) == 1


def test_final_invoke_delivered_twice_writes_once(
    table: str, moto_url: str, load_event: Any
) -> None:
    """At-least-once delivery of the final invoke: the conditional update applies it once."""
    final = load_event("taxi_final_invoke.json")
    entry.lambda_handler(copy.deepcopy(final), None)
    entry.lambda_handler(copy.deepcopy(final), None)
    stored = items(table, moto_url)
    assert stored[("1", "2024-11-25T08:00:00Z")]["tripCount"] == 2
    assert stored[("2", "2024-11-25T08:00:00Z")]["tripCount"] == 1


def test_poison_batch_dead_letters_in_dynamodb(table: str, moto_url: str, load_event: Any) -> None:
    """Every poison record is a dead letter with its reason and origin; none fail the batch."""
    event = load_event("taxi_poison_batch.json")
    response = entry.lambda_handler(event, None)
    assert response["batchItemFailures"] == []
    letters = DynamoDBStore(table, endpoint_url=moto_url).dead_letters()
    assert len(letters) == 7
    assert {d.reason for d in letters} >= {Reason.NOT_JSON, Reason.NOT_BASE64, Reason.NOT_UTF8}
    assert all(d.origin.shard_id == "shardId-000000000000" for d in letters)


def test_kpl_and_early_termination(table: str, moto_url: str, load_event: Any) -> None:
    """A KPL aggregate then an early-terminated window: its part is written, state restarts."""
    event = load_event("kpl_aggregated_batch.json")
    state = entry.lambda_handler(event, None)["state"]
    early = {**event, "Records": [], "state": state, "isWindowTerminatedEarly": True}
    assert entry.lambda_handler(early, None)["state"] == {}
    totals = {k[0]: v["tripCount"] for k, v in items(table, moto_url).items()}
    expected = reference_totals(event_trips(load_event("taxi_window_batch.json")))
    assert totals == {vendor: t[0] for vendor, t in expected.items()}
