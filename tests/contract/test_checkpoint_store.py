"""The checkpoint store contract: SQLite and the memory store keep checkpoints the same way."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from taxi_stream.core.errors import StoreError
from taxi_stream.ports import CheckpointStore, UnitOfWork
from taxi_stream.runner.checkpoint import Checkpoint
from taxi_stream.stores.memory import MemoryCheckpointStore
from taxi_stream.stores.sqlite import SQLiteStore

CONSUMER, STREAM = "taxi-stream", "input-stream"
SHARD_0, SHARD_1 = "shardId-000000000000", "shardId-000000000001"
WINDOW_MS = 1_730_419_200_000
STATE = {"taxiStream": 1, "records": 3, "totals": {str(WINDOW_MS): {"1": [3, 4_500, 900, 5]}}}


@pytest.fixture(params=["sqlite", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CheckpointStore[Any]]:
    """A fresh, empty checkpoint store on each implementation."""
    if request.param == "memory":
        yield MemoryCheckpointStore()
        return
    sqlite = SQLiteStore(tmp_path / "store.db", clock=lambda: WINDOW_MS)
    yield sqlite
    sqlite.close()


def load(store: CheckpointStore[Any], shard_id: str = SHARD_0) -> Checkpoint | None:
    """The consumer's checkpoint in ``shard_id``."""
    return store.load_checkpoint(CONSUMER, STREAM, shard_id)


def save(
    work: UnitOfWork | CheckpointStore[Any], checkpoint: Checkpoint, shard_id: str = SHARD_0
) -> None:
    """Save the consumer's checkpoint in ``shard_id`` through a store or a unit of work."""
    work.save_checkpoint(CONSUMER, STREAM, shard_id, checkpoint)


def test_a_shard_never_saved_has_no_checkpoint(store: CheckpointStore[Any]) -> None:
    """Loading a checkpoint nobody saved gives None, not an empty checkpoint."""
    assert load(store) is None


def test_every_field_of_a_saved_checkpoint_loads_back(store: CheckpointStore[Any]) -> None:
    """Position, open window, its Lambda state and the end of the shard load as saved."""
    saved = Checkpoint("42", window_start_ms=WINDOW_MS, state=STATE, ended=True)
    save(store, saved)
    assert load(store) == Checkpoint("42", WINDOW_MS, STATE, ended=True)
    assert load(store, SHARD_1) is None


def test_the_state_is_kept_only_with_an_open_window(store: CheckpointStore[Any]) -> None:
    """Without an open window a checkpoint carries no state (Lambda's state is per window)."""
    save(store, Checkpoint("7", window_start_ms=None, state={"records": 2}))
    assert load(store) == Checkpoint("7")


def test_the_starting_time_is_kept_until_the_first_position(store: CheckpointStore[Any]) -> None:
    """LATEST's starting time survives a restart before any record, and is dropped after one."""
    save(store, Checkpoint(start_ms=WINDOW_MS))
    assert load(store) == Checkpoint(start_ms=WINDOW_MS)
    save(store, Checkpoint("1", start_ms=WINDOW_MS))
    assert load(store) == Checkpoint("1")


def test_a_unit_of_work_commits_its_checkpoints_together(store: CheckpointStore[Any]) -> None:
    """Checkpoints saved through a unit of work all load once its block has ended."""
    with store.unit_of_work() as work:
        save(work, Checkpoint("5"), SHARD_0)
        save(work, Checkpoint("9", WINDOW_MS, STATE), SHARD_1)
    assert (load(store, SHARD_0), load(store, SHARD_1)) == (
        Checkpoint("5"),
        Checkpoint("9", WINDOW_MS, STATE),
    )


def test_a_unit_of_work_that_raises_saves_nothing(store: CheckpointStore[Any]) -> None:
    """A block that raises rolls its unit of work back: the previous checkpoint stays."""
    save(store, Checkpoint("3"))

    def failed() -> None:
        with store.unit_of_work() as work:
            save(work, Checkpoint("4"))
            save(work, Checkpoint("8"), SHARD_1)
            raise RuntimeError("the function failed")

    with pytest.raises(RuntimeError, match="the function failed"):
        failed()
    assert (load(store), load(store, SHARD_1)) == (Checkpoint("3"), None)


def test_a_unit_of_work_takes_no_writes_once_it_is_over(store: CheckpointStore[Any]) -> None:
    """Writing through a unit of work after its block ended is a StoreError, not a lost write."""
    with store.unit_of_work() as work:
        save(work, Checkpoint("1"))
    with pytest.raises(StoreError, match="unit of work is over"):
        save(work, Checkpoint("2"))
    assert load(store) == Checkpoint("1")


def test_a_write_beside_an_open_unit_of_work_is_refused(store: CheckpointStore[Any]) -> None:
    """While a unit of work is open the store takes no write of its own: nothing joins silently."""
    with store.unit_of_work() as work:
        save(work, Checkpoint("6"))
        with pytest.raises(StoreError):
            save(store, Checkpoint("99"), SHARD_1)
    assert (load(store), load(store, SHARD_1)) == (Checkpoint("6"), None)


def test_a_checkpoint_store_keeps_one_identity(store: CheckpointStore[Any]) -> None:
    """A checkpoint store's id is the same on every call and differs from another store's."""
    first = store.identity()
    assert first
    assert store.identity() == first
    assert MemoryCheckpointStore().identity() != first


def test_a_sqlite_store_keeps_its_identity_when_reopened(tmp_path: Path) -> None:
    """The id of a store.db is made once: reopened, the file gives the same id back."""
    with closing(SQLiteStore(tmp_path / "store.db")) as opened:
        made = opened.identity()
    with closing(SQLiteStore(tmp_path / "store.db")) as reopened:
        assert reopened.identity() == made
    with closing(SQLiteStore(tmp_path / "other.db")) as other:
        assert other.identity() != made
