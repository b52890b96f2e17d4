"""The handler's public state codec: Lambda window state to a part and back, and its totals.

The handler carries one shard's part of a window between invocations as Lambda's ``state``::

    {"taxiStream": 3, "firstSequenceNumber": "4959...", "records": 120,
     "totals": {"<window start ms>": {"<vendor>": [trips, distance_milli, duration_s,
                                                   passengers, fare_cents, tip_cents,
                                                   amount_cents, late_trips]}},
     "watermark": {"startMs": ..., "ms": ..., "lastArrivalMs": ...}}

The eight numbers are a ``Totals`` in ``Totals.as_list()`` order. ``watermark`` (event clock
only) is the shard's watermark when the part began (None: the shard had none) and as of its last
record, and the newest arrival time the part read. Version 1 (before the money totals) had the
first four numbers, version 2 (before late trips) seven, neither a watermark; their state is
still read, what they lack as 0, so a window in flight across an upgrade keeps its trips.
Readers outside the handler (the views) ask ``window_totals(state)``, never the layout.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from taxi_stream.core.errors import HandlerContractError
from taxi_stream.core.totals import Totals, WindowKey
from taxi_stream.function.contract import State

log = logging.getLogger(__name__)

STATE_KEY: Final = "taxiStream"
STATE_VERSION: Final = 3
_CELL_LENS: Final = {1: 4, 2: 7, STATE_VERSION: len(Totals().as_list())}  # by state version
LATE: Final = Totals.__slots__.index("late_trips")  # a cell's late-trip count


@dataclass(slots=True)
class Part:
    """One shard's part of a window while the handler adds records to it.

    ``cells`` are the hot path's running sums per (vendor, window start), each a list in
    ``Totals.as_list()`` order, so adding a trip creates no object; ``totals()`` reads them.
    """

    first_sequence: str | None  # the part's first sequence number (None: no record yet)
    records: int
    cells: dict[WindowKey, list[int]]
    watermark_start_ms: int | None = None  # event clock: the shard's when the part began
    watermark_ms: int | None = None  # event clock: as of the part's last record
    last_arrival_ms: int = 0  # event clock: the newest arrival time the part read

    @staticmethod
    def new_cell() -> list[int]:
        """An empty cell: every sum 0."""
        return [0] * _CELL_LENS[STATE_VERSION]

    def totals(self) -> dict[WindowKey, Totals]:
        """The part's totals per (vendor, window start)."""
        return {key: Totals(*cell) for key, cell in self.cells.items()}

    def to_state(self) -> State:
        """The part as Lambda state (JSON: window starts as text, grouped by window)."""
        nested: dict[str, dict[str, list[int]]] = {}
        for (vendor, start), cell in self.cells.items():
            nested.setdefault(str(start), {})[vendor] = cell
        state: State = {
            STATE_KEY: STATE_VERSION,
            "firstSequenceNumber": self.first_sequence,
            "records": self.records,
            "totals": nested,
        }
        if self.watermark_ms is not None:
            state["watermark"] = {
                "startMs": self.watermark_start_ms,
                "ms": self.watermark_ms,
                "lastArrivalMs": self.last_arrival_ms,
            }
        return state


def is_handler_state(state: object) -> bool:
    """Whether ``state`` was written by this handler (in this state version or an earlier one)."""
    if not isinstance(state, Mapping):
        return False
    version = state.get(STATE_KEY)
    return type(version) is int and version in _CELL_LENS


def part_from_state(state: object) -> Part:
    """Rebuild a part from Lambda state; empty or foreign state starts a fresh part.

    Our own state that is damaged raises HandlerContractError: its counts cannot be recovered,
    and starting afresh would drop them silently, so the shard stops where alarms see it.
    """
    if not isinstance(state, Mapping) or not is_handler_state(state):
        if state:
            what = sorted(map(str, state))[:5] if isinstance(state, Mapping) else type(state)
            log.warning(
                "ignoring state not written by this handler (%s): the open window starts"
                " afresh, and the partial totals that state held for it are dropped",
                what,
            )
        return Part(None, 0, {})
    length = _CELL_LENS[state[STATE_KEY]]
    try:
        cells = {
            (str(vendor), int(start)): _cell(cell, length)
            for start, vendors in state["totals"].items()
            for vendor, cell in vendors.items()
        }
        part = Part(state.get("firstSequenceNumber"), int(state.get("records", 0)), cells)
        mark = state.get("watermark")
        if mark is not None:
            part.watermark_start_ms = _optional_int(mark["startMs"])
            part.watermark_ms = _optional_int(mark["ms"])
            part.last_arrival_ms = int(mark["lastArrivalMs"])
        return part
    except (KeyError, AttributeError, TypeError, ValueError) as exc:
        raise HandlerContractError(f"the window state is damaged: {exc!r}") from exc


def window_totals(state: object) -> dict[WindowKey, Totals]:
    """The totals a shard's open window part holds, per (vendor, window start).

    Empty for state this handler did not write (another handler's, or none), without a warning;
    HandlerContractError for our own state that is damaged, as the handler would raise.
    """
    if not is_handler_state(state):
        return {}
    return part_from_state(state).totals()


def _cell(cell: Any, length: int) -> list[int]:
    """A cell of ``length`` whole numbers, padded with zeros to this version's length."""
    if not isinstance(cell, list) or len(cell) != length or not all(type(x) is int for x in cell):
        raise ValueError(f"a total must be {length} whole numbers, got {cell!r}")
    return cell + [0] * (_CELL_LENS[STATE_VERSION] - length)


def _optional_int(value: Any) -> int | None:
    if value is not None and type(value) is not int:
        raise ValueError(f"a watermark must be a whole number of ms, got {value!r}")
    return value
