"""The handler's public state codec: Lambda state to a part and back, and the totals it holds."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import pytest

from taxi_stream.core.errors import HandlerContractError
from taxi_stream.core.timefmt import parse_iso_ms
from taxi_stream.core.totals import Totals
from taxi_stream.function.handler import TumblingWindowHandler
from taxi_stream.function.state import part_from_state, window_totals
from taxi_stream.stores.memory import MemoryStore
from tests.conftest import event_trips, reference_totals

# One part by hand: vendor 1 in two windows, vendor 2 in one (a refund makes one fare negative).
STATE = {
    "taxiStream": 3,
    "firstSequenceNumber": "7",
    "records": 4,
    "totals": {
        "60000": {"1": [2, 3000, 120, 3, 2410, 300, 3160, 0],
                  "2": [1, 500, 60, 1, -700, 0, -850, 0]},
        "120000": {"1": [1, 1, 1, 1, 1, 1, 1, 1]},
    },
    "watermark": {"startMs": None, "ms": 150_000, "lastArrivalMs": 9},
}  # fmt: skip
# The same part as the handler before late trips wrote it (state version 2: no watermark).
STATE_V2 = {
    "taxiStream": 2,
    "firstSequenceNumber": "7",
    "records": 4,
    "totals": {
        "60000": {"1": [2, 3000, 120, 3, 2410, 300, 3160], "2": [1, 500, 60, 1, -700, 0, -850]},
        "120000": {"1": [1, 1, 1, 1, 1, 1, 1]},
    },
}
# The same part as the handler before the money totals wrote it (state version 1).
STATE_V1 = {
    "taxiStream": 1,
    "firstSequenceNumber": "7",
    "records": 4,
    "totals": {
        "60000": {"1": [2, 3000, 120, 3], "2": [1, 500, 60, 1]},
        "120000": {"1": [1, 1, 1, 1]},
    },
}


def with_money(event: dict[str, Any]) -> dict[str, Any]:
    """The event with fareAmount, tipAmount and totalAmount added to each record, by index."""
    for k, record in enumerate(event["Records"]):
        trip = json.loads(base64.b64decode(record["kinesis"]["data"]))
        trip.update(fareAmount=10 + k / 4, tipAmount=k % 3, totalAmount=f"{13.5 + k:.2f}")
        record["kinesis"]["data"] = base64.b64encode(json.dumps(trip).encode()).decode()
    return event


def test_window_totals_reads_each_vendor_and_window_of_a_state() -> None:
    """Each (vendor, window start) of the state, as the Totals its eight numbers spell."""
    assert window_totals(STATE) == {
        ("1", 60_000): Totals(2, 3000, 120, 3, fare_cents=2410, tip_cents=300, amount_cents=3160),
        ("2", 60_000): Totals(1, 500, 60, 1, fare_cents=-700, tip_cents=0, amount_cents=-850),
        ("1", 120_000): Totals(1, 1, 1, 1, fare_cents=1, tip_cents=1, amount_cents=1, late_trips=1),
    }


def test_state_of_the_previous_version_reads_with_no_money() -> None:
    """Version-1 state (four numbers a cell) is the handler's own: its counts, money 0."""
    assert window_totals(STATE_V1) == {
        ("1", 60_000): Totals(trip_count=2, distance_milli=3000, duration_s=120, passenger_count=3),
        ("2", 60_000): Totals(trip_count=1, distance_milli=500, duration_s=60, passenger_count=1),
        ("1", 120_000): Totals(trip_count=1, distance_milli=1, duration_s=1, passenger_count=1),
    }


def test_state_of_version_2_reads_with_no_late_trips_and_no_watermark() -> None:
    """Version-2 state (seven numbers a cell, no watermark): its money kept, late trips 0."""
    part = part_from_state(copy.deepcopy(STATE_V2))
    assert window_totals(STATE_V2)[("2", 60_000)] == Totals(1, 500, 60, 1, -700, 0, -850)
    assert part.watermark_ms is None
    assert part.to_state()["totals"]["60000"]["1"] == [2, 3000, 120, 3, 2410, 300, 3160, 0]


def test_a_window_in_flight_across_the_upgrade_keeps_its_trips(load_event: Any) -> None:
    """A batch whose state a version-1 handler wrote adds its trips to that state's, and the
    state returned is today's version, money included."""
    event = with_money(load_event("taxi_window_batch.json"))
    start = parse_iso_ms(event["window"]["start"])
    old = {"1": [5, 7_000, 600, 6], "2": [3, 2_000, 300, 2]}
    event["state"] = {"taxiStream": 1, "firstSequenceNumber": "1", "records": 8,
                      "totals": {str(start): old}}  # fmt: skip
    state = TumblingWindowHandler(MemoryStore())(event)["state"]
    assert state["taxiStream"] == 3
    assert state["records"] == 8 + len(event["Records"])
    batch = reference_totals(event_trips(event))
    expected = {
        (vendor, start): Totals(*old.get(vendor, [])) + Totals(*batch.get(vendor, ()))
        for vendor in {*old, *batch}
    }
    assert all(t.amount_cents for t in expected.values())  # the batch's trips carry money
    assert window_totals(state) == expected


def test_a_state_round_trips_through_a_part() -> None:
    """Reading a state into a part and writing it back gives the same state."""
    assert part_from_state(copy.deepcopy(STATE)).to_state() == STATE


def test_the_handlers_own_state_reads_as_the_totals_of_its_records(load_event: Any) -> None:
    """The state a window batch returns holds, per vendor, the totals of that batch's trips."""
    event = load_event("taxi_window_batch.json")
    state = TumblingWindowHandler(MemoryStore())(event)["state"]
    start = parse_iso_ms(event["window"]["start"])
    expected = {
        (vendor, start): Totals(*sums)
        for vendor, sums in reference_totals(event_trips(event)).items()
    }
    assert window_totals(state) == expected


@pytest.mark.parametrize("state", [{}, None, {"1": 282, "2": 715}, {"taxiStream": 99}, []])
def test_state_another_handler_wrote_holds_no_totals(state: Any) -> None:
    """Empty, foreign or another version's state: no totals (a custom handler's is not ours)."""
    assert window_totals(state) == {}


def test_our_state_damaged_is_a_contract_error_not_empty_totals() -> None:
    """A damaged total of our own state raises, as the handler would: its counts are not zero."""
    damaged = copy.deepcopy(STATE)
    damaged["totals"]["60000"]["1"] = [2, 3000, 120, 3]  # a version-1 cell in version-3 state
    with pytest.raises(HandlerContractError, match="damaged"):
        window_totals(damaged)
