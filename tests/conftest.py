"""Shared test helpers: local AWS servers, real event payloads, an independent reference sum."""

from __future__ import annotations

import base64
import json
import logging
from collections import defaultdict
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest

from taxi_stream import lambda_handler as entry
from tests.servers.moto import fake_aws_credentials, moto_server
from tests.servers.node import kinesalite_server

EVENTS = Path(__file__).parent / "events"


@pytest.fixture
def load_event() -> Any:
    """Load a Lambda event payload kept under tests/events/."""

    def load(name: str) -> dict[str, Any]:
        return json.loads((EVENTS / name).read_text())

    return load


def reference_totals(trips: list[dict[str, Any]]) -> dict[str, tuple[int, ...]]:
    """Per-vendor (trips, distance in thousandths of a mile, seconds, passengers, fare, tip and
    total amount in cents), by the DESIGN rules, written independently of the code under test."""
    out: dict[str, list[int]] = defaultdict(lambda: [0] * 7)
    for trip in trips:
        miles = trip.get("googleDistance")
        if miles is None:
            miles = trip["gcDistance"]
        seconds = trip.get("tripDuration")
        if seconds is None:
            seconds = trip["googleDuration"]
        cell = out[str(trip["vendorId"]).strip()]
        cell[0] += 1
        cell[1] += round(float(miles) * 1000)
        cell[2] += round(float(seconds))
        cell[3] += int(float(trip.get("passengerCount") or 0))
        for k, name in enumerate(("fareAmount", "tipAmount", "totalAmount"), start=4):
            cell[k] += reference_cents(trip.get(name))
    return {vendor: tuple(c) for vendor, c in out.items()}


def reference_cents(dollars: Any) -> int:
    """Dollars (a number, numeric text, or absent) as cents, halves away from zero."""
    if dollars is None or not str(dollars).strip():
        return 0
    exact = Decimal(str(dollars).strip()) * 100
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def event_trips(event: dict[str, Any]) -> list[dict[str, Any]]:
    """The JSON objects carried by an event's records (non-aggregated records only)."""
    return [json.loads(base64.b64decode(r["kinesis"]["data"])) for r in event["Records"]]


@pytest.fixture
def package_logger(monkeypatch: pytest.MonkeyPatch) -> Iterator[logging.Logger]:
    """A cold Lambda container: no entry-point handler built, the ``taxi_stream`` logger without
    the entry's log handler; whatever the entry configures is undone afterwards."""
    package = logging.getLogger("taxi_stream")
    saved = (list(package.handlers), package.propagate, package.level)
    for handler in saved[0]:
        if isinstance(handler, entry.JsonLinesHandler):
            package.removeHandler(handler)
    monkeypatch.setattr(entry, "_handler", None)
    yield package
    package.handlers[:] = saved[0]
    package.propagate = saved[1]
    package.setLevel(saved[2])


@pytest.fixture(scope="session")
def aws_credentials() -> Iterator[dict[str, str]]:
    """Fake credentials and region for the whole session (never real ones)."""
    with fake_aws_credentials() as env:
        yield env


@pytest.fixture(scope="session")
def kinesalite_url(aws_credentials: dict[str, str]) -> Iterator[str]:
    """kinesalite on 127.0.0.1, once per session."""
    with kinesalite_server() as url:
        yield url


@pytest.fixture(scope="session")
def moto_url(aws_credentials: dict[str, str]) -> Iterator[str]:
    """moto's server on 127.0.0.1, once per session."""
    with moto_server() as url:
        yield url
