"""The handler's public state codec: Lambda window state to a part and back, and its totals.

The handler carries one shard's part of a window between invocations as Lambda's ``state``::

    {"taxiStream": 2, "firstSequenceNumber": "4959...", "records": 120,
     "totals": {"<window start ms>": {"<vendor>": [trips, distance_milli, duration_s,
                                                   passengers, fare_cents, tip_cents,
                                                   amount_cents]}}}

The seven numbers are a ``Totals`` in ``Totals.as_list()`` order. Version 1 (before the money
totals) had the first four; its state is still read, the money as 0, so a window in flight
across an upgrade keeps its trips. Readers outside the handler (the views) ask
``window_totals(state)``, never the layout.
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
STATE_VERSION: Final = 2
_CELL_LENS: Final = {1: 4, STATE_VERSION: len(Totals().as_list())}  # by state version


@dataclass(slots=True)
class Part:
    """One shard's part of a window while the handler adds records to it.

    ``cells`` are the hot path's running sums per (vendor, window start), each a list in
    ``Totals.as_list()`` order, so adding a trip creates no object; ``totals()`` reads them.
    """

    first_sequence: str | None  # the part's first sequence number (None: no record yet)
    records: int
    cells: dict[WindowKey, list[int]]

    def totals(self) -> dict[WindowKey, Totals]:
        """The part's totals per (vendor, window start)."""
        return {key: Totals(*cell) for key, cell in self.cells.items()}

    def to_state(self) -> State:
        """The part as Lambda state (JSON: window starts as text, grouped by window)."""
        nested: dict[str, dict[str, list[int]]] = {}
        for (vendor, start), cell in self.cells.items():
            nested.setdefault(str(start), {})[vendor] = cell
        return {
            STATE_KEY: STATE_VERSION,
            "firstSequenceNumber": self.first_sequence,
            "records": self.records,
            "totals": nested,
        }


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
        return Part(state.get("firstSequenceNumber"), int(state.get("records", 0)), cells)
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
