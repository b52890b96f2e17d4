"""Embedded streams and local stores keep their identity: nothing collides, nothing is skipped."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from taxi_stream.app.wiring import in_process_handler
from taxi_stream.core.errors import ConfigError
from taxi_stream.function.handler import HandlerConfig
from taxi_stream.runner.mapping import EventSourceMapping, MappingConfig
from taxi_stream.sources.simulator import Simulator, SimulatorConfig
from taxi_stream.stores.sqlite import SQLiteStore
from taxi_stream.streams.local import LocalStream
from tests.support.harness import settle


def consume(stream: LocalStream, store: SQLiteStore) -> None:
    """Process a stream into a store until every window is closed."""
    clock = itertools.count(10**13, 1000)
    handler = in_process_handler(HandlerConfig(window_seconds=60))
    mapping = EventSourceMapping(
        stream, handler, store, MappingConfig(window_seconds=60), now_ms=lambda: next(clock)
    )
    settle(mapping)


def trips(seed: int, n: int) -> list[tuple[str, bytes]]:
    """Clean simulated trips."""
    return Simulator(SimulatorConfig(seed=seed)).batch(n).entries


def test_a_stream_keeps_its_name_across_reopening(tmp_path: Path) -> None:
    """The name is drawn once, stored, and read back; another file gets another name."""
    first = LocalStream(tmp_path / "a" / "stream.db").name
    assert LocalStream(tmp_path / "a" / "stream.db").name == first
    assert LocalStream(tmp_path / "b" / "stream.db").name != first


def test_two_streams_into_one_store_both_count(tmp_path: Path) -> None:
    """Two data dirs' streams feeding one shared store: every trip of both is counted."""
    store = SQLiteStore(tmp_path / "shared.db")
    for name, seed in (("a", 1), ("b", 2)):
        stream = LocalStream(tmp_path / name / "stream.db", 2)
        stream.put_records(trips(seed, 100))
        consume(stream, store)
    assert store.counts() == (200, 0)


def test_a_recreated_stream_is_read_from_its_start(tmp_path: Path) -> None:
    """Deleting stream.db and producing again: the new records count, old checkpoints don't."""
    store = SQLiteStore(tmp_path / "store.db")
    path = tmp_path / "stream.db"
    stream = LocalStream(path, 2)
    stream.put_records(trips(1, 100))
    consume(stream, store)
    stream.close()
    for leftover in tmp_path.glob("stream.db*"):
        leftover.unlink()
    again = LocalStream(path, 2)
    again.put_records(trips(2, 30))
    consume(again, store)
    assert store.counts() == (130, 0)


def test_a_store_refuses_a_second_window_size(tmp_path: Path) -> None:
    """10 s and 5 s windows in one store would add into one row: the second size is refused."""
    store = SQLiteStore(tmp_path / "store.db")
    store.claim_windows(10, "arrival")
    store.claim_windows(10, "arrival")
    with pytest.raises(ConfigError, match="windows of 10 s"):
        SQLiteStore(tmp_path / "store.db").claim_windows(5, "arrival")
