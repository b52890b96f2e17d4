"""SQLite's unit of work: totals, dead letters and the checkpoint in one transaction, any thread."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from taxi_stream.core.errors import StoreError
from taxi_stream.core.records import Contribution, DeadLetter, Origin
from taxi_stream.core.totals import Totals
from taxi_stream.runner.checkpoint import Checkpoint
from taxi_stream.stores.sqlite import SQLiteStore, SQLiteUnitOfWork

NOW_MS = 1_730_419_200_000
SHARD = "shardId-000000000000"
STATE = {"taxiStream": 1, "records": 2, "totals": {str(NOW_MS): {"2": [2, 3_000, 1_200, 3]}}}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    """An empty store on tmp_path."""
    sqlite = SQLiteStore(tmp_path / "store.db", clock=lambda: NOW_MS)
    yield sqlite
    sqlite.close()


def contribution(contribution_id: str = "input-stream|shard|0|1") -> Contribution:
    """Two trips of vendor 2 in the minute starting at NOW_MS."""
    totals = Totals(trip_count=2, distance_milli=3_000, duration_s=1_200, passenger_count=3)
    return Contribution(contribution_id, "2", NOW_MS, NOW_MS + 60_000, totals, "arrival")


def letter() -> DeadLetter:
    """A dead letter of sequence number 1."""
    return DeadLetter(Origin("input-stream", SHARD, "1"), "not_json", "no JSON", b"x")


def test_totals_dead_letters_and_checkpoint_commit_together(store: SQLiteStore) -> None:
    """What is written through one unit of work is all there once its block ends."""
    with store.unit_of_work() as work:
        assert work.apply([contribution()]) == 1
        assert work.put_dead_letters([letter()]) == 1
        work.save_checkpoint("taxi-stream", "input-stream", SHARD, Checkpoint("2"))
    assert store.counts() == (2, 1)
    assert store.load_checkpoint("taxi-stream", "input-stream", SHARD) == Checkpoint("2")


def test_a_unit_of_work_that_raises_rolls_totals_and_checkpoint_back(store: SQLiteStore) -> None:
    """A failed invocation leaves neither its contributions, its dead letters nor its checkpoint."""

    def timed_out() -> None:
        with store.unit_of_work() as work:
            work.apply([contribution()])
            work.put_dead_letters([letter()])
            work.save_checkpoint("taxi-stream", "input-stream", SHARD, Checkpoint("2"))
            raise TimeoutError("Task timed out after 0.05 seconds")

    with pytest.raises(TimeoutError):
        timed_out()
    assert store.counts() == (0, 0)
    assert store.load_checkpoint("taxi-stream", "input-stream", SHARD) is None


def test_a_worker_thread_writes_through_the_unit_it_is_handed(store: SQLiteStore) -> None:
    """The handler's thread writes through the unit; a direct store write there joins nothing."""
    refused: list[StoreError] = []

    def handler_thread(work: SQLiteUnitOfWork) -> None:
        work.apply([contribution()])
        try:
            store.apply([contribution("input-stream|shard|0|other")])
        except StoreError as exc:
            refused.append(exc)

    with store.unit_of_work() as work:
        worker = threading.Thread(target=handler_thread, args=(work,))
        worker.start()
        worker.join()
        work.save_checkpoint("taxi-stream", "input-stream", SHARD, Checkpoint("2"))
    assert len(refused) == 1
    assert [w.contributions for w in store.windows()] == [1]
    assert store.load_checkpoint("taxi-stream", "input-stream", SHARD) == Checkpoint("2")


def test_checkpoints_keep_the_stored_format(store: SQLiteStore, tmp_path: Path) -> None:
    """A checkpoint is stored as before: its position, and a JSON state with window/state/ended."""
    saved = Checkpoint("17", window_start_ms=NOW_MS, state=STATE, ended=True)
    store.save_checkpoint("taxi-stream", "input-stream", SHARD, saved)
    with sqlite3.connect(tmp_path / "store.db") as db:
        position, state = db.execute("SELECT sequence_number, state FROM checkpoints").fetchone()
    assert position == "17"
    assert json.loads(state) == {"window": NOW_MS, "state": STATE, "ended": True}


@pytest.mark.parametrize(
    ("position", "state", "expected"),
    [
        ("17", {"window": NOW_MS, "state": STATE}, Checkpoint("17", NOW_MS, STATE)),
        ("17", {"ended": True}, Checkpoint("17", ended=True)),
        (None, {"startMs": NOW_MS}, Checkpoint(start_ms=NOW_MS)),
        ("3", None, Checkpoint("3")),
    ],
    ids=["open-window", "ended", "latest-before-any-record", "position-only"],
)
def test_checkpoints_written_before_the_typed_checkpoint_still_load(
    store: SQLiteStore,
    tmp_path: Path,
    position: str | None,
    state: dict[str, object] | None,
    expected: Checkpoint,
) -> None:
    """Rows of earlier versions (a position and a JSON state) load as the same checkpoint."""
    with sqlite3.connect(tmp_path / "store.db") as db:
        db.execute(
            "INSERT INTO checkpoints VALUES (?, ?, ?, ?, ?, ?)",
            ("taxi-stream", "input-stream", SHARD, position, state and json.dumps(state), NOW_MS),
        )
    assert store.load_checkpoint("taxi-stream", "input-stream", SHARD) == expected


@pytest.mark.parametrize(
    "state",
    ['{"window": ', "[1, 2]", '{"window": "noon", "state": {}}', '{"window": 1, "state": 7}'],
)
def test_a_damaged_checkpoint_is_one_store_error_naming_it(
    store: SQLiteStore, tmp_path: Path, state: str
) -> None:
    """A checkpoint row that cannot be read is a StoreError naming the shard, not a traceback."""
    with sqlite3.connect(tmp_path / "store.db") as db:
        db.execute(
            "INSERT INTO checkpoints VALUES (?, ?, ?, ?, ?, ?)",
            ("taxi-stream", "input-stream", SHARD, "3", state, NOW_MS),
        )
    with pytest.raises(StoreError, match=f"checkpoint of taxi-stream in input-stream {SHARD}"):
        store.load_checkpoint("taxi-stream", "input-stream", SHARD)
