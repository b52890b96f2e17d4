"""The window clock is a type: configs, contributions and stored windows carry a WindowClock."""

from __future__ import annotations

import json
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from taxi_stream.core.errors import ConfigError
from taxi_stream.core.windows import WindowClock, window_clock
from taxi_stream.function.handler import CLOCKS, HandlerConfig, TumblingWindowHandler
from taxi_stream.stores.memory import MemoryStore
from taxi_stream.stores.sqlite import SQLiteStore


@pytest.mark.parametrize(
    ("given", "clock"),
    [
        (WindowClock.EVENT, WindowClock.EVENT),
        ("event", WindowClock.EVENT),
        ("arrival", WindowClock.ARRIVAL),
    ],
)
def test_a_config_takes_a_clock_or_its_text_and_holds_the_clock(given: Any, clock: Any) -> None:
    """HandlerConfig(clock=...) takes the enum or the text a flag gives, and keeps the enum."""
    assert HandlerConfig(clock=given).clock is clock


def test_the_default_clock_is_arrival() -> None:
    """Without a clock the handler windows by arrival time, as Lambda does."""
    assert HandlerConfig().clock is WindowClock.ARRIVAL


@pytest.mark.parametrize("bad", ["Event", "pickup", ""])
def test_an_unknown_clock_is_a_config_error_naming_the_clocks(bad: str) -> None:
    """Any other text is refused with the names of both clocks."""
    with pytest.raises(ConfigError, match="one of arrival, event"):
        window_clock(bad)
    with pytest.raises(ConfigError, match="one of arrival, event"):
        HandlerConfig(clock=bad)


def test_the_flags_spell_the_clocks_as_their_values() -> None:
    """The --clock choices are the clocks' values, in the order arrival, event."""
    assert CLOCKS == ("arrival", "event")


def test_clocks_are_their_text_where_text_is_written() -> None:
    """A clock formats, compares and serialises as its value (stores and JSON keep text)."""
    assert f"{WindowClock.EVENT} 60" == "event 60"
    assert json.dumps({"clock": WindowClock.ARRIVAL}) == '{"clock": "arrival"}'
    assert WindowClock.EVENT == "event"


def test_contributions_and_stored_windows_carry_the_clock(load_event: Any, tmp_path: Path) -> None:
    """The handler's contributions name its clock, and a SQLite store reads it back as one."""
    memory = MemoryStore()
    handler = TumblingWindowHandler(memory, HandlerConfig(clock="event", window_seconds=600))
    event = load_event("taxi_window_batch.json")
    handler({**event, "isFinalInvokeForWindow": True})
    assert memory.windows()
    assert {type(w.clock) for w in memory.windows()} == {WindowClock}
    assert {w.clock for w in memory.windows()} == {WindowClock.EVENT}
    with closing(SQLiteStore(tmp_path / "store.db", clock=lambda: 0)) as sqlite:
        TumblingWindowHandler(sqlite, HandlerConfig(clock="event", window_seconds=600))(
            {**event, "isFinalInvokeForWindow": True}
        )
        stored = sqlite.windows()
    assert stored
    assert {type(w.clock) for w in stored} == {WindowClock}
    assert {w.clock for w in stored} == {WindowClock.EVENT}
