"""The handler's public state codec: Lambda state to a part and back, and the totals it holds."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from taxi_stream.core.errors import HandlerContractError
from taxi_stream.core.timefmt import parse_iso_ms
from taxi_stream.core.totals import Totals
from taxi_stream.function.handler import TumblingWindowHandler
from taxi_stream.function.state import part_from_state, window_totals
from taxi_stream.stores.memory import MemoryStore
from tests.conftest import event_trips, reference_totals

# One part by hand: vendor 1 in two windows, vendor 2 in one.
STATE = {
    "taxiStream": 2,
    "firstSequenceNumber": "7",
    "records": 4,
    "totals": {
        "60000": {"1": [2, 3000, 120, 3, 0], "2": [1, 500, 60, 1, 0]},
        "120000": {"1": [1, 1, 1, 1, 1]},
    },
    "watermark": {"startMs": None, "ms": 150_000, "lastArrivalMs": 9},
}
# The same part as version 1 wrote it: four numbers a cell, no late trips, no watermark.
STATE_V1 = {
    "taxiStream": 1,
    "firstSequenceNumber": "7",
    "records": 4,
    "totals": {
        "60000": {"1": [2, 3000, 120, 3], "2": [1, 500, 60, 1]},
        "120000": {"1": [1, 1, 1, 1]},
    },
}


def test_window_totals_reads_each_vendor_and_window_of_a_state() -> None:
    """Each (vendor, window start) of the state, as the Totals its four numbers spell."""
    assert window_totals(STATE) == {
        ("1", 60_000): Totals(trip_count=2, distance_milli=3000, duration_s=120, passenger_count=3),
        ("2", 60_000): Totals(trip_count=1, distance_milli=500, duration_s=60, passenger_count=1),
        ("1", 120_000): Totals(
            trip_count=1, distance_milli=1, duration_s=1, passenger_count=1, late_trips=1
        ),
    }


def test_a_version_1_state_is_read_with_no_late_trips_and_no_watermark() -> None:
    """A window in flight across the upgrade keeps its totals: version 1 state reads as before."""
    part = part_from_state(copy.deepcopy(STATE_V1))
    assert window_totals(STATE_V1)[("1", 120_000)] == Totals(1, 1, 1, 1)
    assert part.watermark_ms is None
    assert part.to_state()["totals"]["60000"]["1"] == [2, 3000, 120, 3, 0]


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
    damaged["totals"]["60000"]["1"] = [2, 3000]
    with pytest.raises(HandlerContractError, match="damaged"):
        window_totals(damaged)
