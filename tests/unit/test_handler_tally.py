"""The handler's metrics count each invocation once its checkpoint commits, never twice."""

from __future__ import annotations

from pathlib import Path

import pytest

from taxi_stream.app.tally import HandlerTally
from taxi_stream.app.wiring import in_process_handler, our_handler
from taxi_stream.core.errors import StoreError
from taxi_stream.function.handler import HandlerConfig
from taxi_stream.runner.checkpoint import Checkpoint
from taxi_stream.sources.simulator import Simulator, SimulatorConfig
from taxi_stream.stores.sqlite import SQLiteStore, SQLiteUnitOfWork
from tests.support.harness import Harness

WINDOW_S = 10
TRIPS = 30
BAD = [b"not json", b"[1, 2]"]


def _fail_first_commit(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Make the runner's first checkpoint save raise (after the handler returned), once."""
    calls: list[int] = []
    save = SQLiteUnitOfWork.save_checkpoint

    def failing(
        self: SQLiteUnitOfWork, consumer: str, stream: str, shard_id: str, checkpoint: Checkpoint
    ) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise StoreError("disk I/O error (injected)")
        save(self, consumer, stream, shard_id, checkpoint)

    monkeypatch.setattr(SQLiteUnitOfWork, "save_checkpoint", failing)
    return calls


def _put_trips(harness: Harness) -> None:
    trips = [data for _, data in Simulator(SimulatorConfig(seed=4)).batch(TRIPS).entries]
    harness.put(len(trips), data=trips.__getitem__)
    harness.put(len(BAD), data=BAD.__getitem__)


def _trips_in(store: SQLiteStore) -> int:
    return sum(w.totals.trip_count for w in store.windows())


def test_a_commit_that_fails_after_the_handler_returned_is_counted_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In process: the commit fails once and is retried; trips, records, dead letters and
    contributions written are counted once, as the store holds them."""
    harness = Harness(tmp_path)
    try:
        _put_trips(harness)
        calls = _fail_first_commit(monkeypatch)
        tally = HandlerTally()
        handler = in_process_handler(HandlerConfig(window_seconds=WINDOW_S), tally)
        harness.settle(harness.mapping(handler, window_seconds=WINDOW_S), drain=True)
        assert len(calls) >= 2  # the failure happened, and the retry committed
        counts = tally.counts()
        assert _trips_in(harness.store) == TRIPS
        assert counts.trips == TRIPS
        assert counts.records == TRIPS + len(BAD)
        assert sum(counts.dead_letters.values()) == len(BAD) == len(harness.store.dead_letters())
        assert counts.contributions_written == len(harness.store.windows())
    finally:
        harness.close()


def test_a_checkpoint_that_fails_beside_another_store_is_counted_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a store of its own: the checkpoint's commit fails once; the redelivered batch's
    trips and records are counted once, and the store holds each trip once."""
    harness = Harness(tmp_path)
    store = SQLiteStore(tmp_path / "other.db")
    try:
        _put_trips(harness)
        calls = _fail_first_commit(monkeypatch)
        tally = HandlerTally()
        handler = our_handler(store, HandlerConfig(window_seconds=WINDOW_S), tally=tally)
        harness.settle(harness.mapping(handler, window_seconds=WINDOW_S), drain=True)
        assert len(calls) >= 2
        counts = tally.counts()
        assert _trips_in(store) == TRIPS
        assert counts.trips == TRIPS
        assert counts.records == TRIPS + len(BAD)
        assert sum(counts.dead_letters.values()) == len(BAD)
    finally:
        store.close()
        harness.close()
