"""Damaged SQLite files are DamagedDatabaseError, never retried; locked ones stay transient."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from taxi_stream.core.errors import (
    DamagedDatabaseError,
    StoreError,
    StoreUnavailableError,
    StreamError,
)
from taxi_stream.core.records import ReadResult, ShardInfo
from taxi_stream.infra.sqlite import errors
from taxi_stream.runner.mapping import EventSourceMapping, MappingConfig
from taxi_stream.stores.sqlite import SQLiteStore
from taxi_stream.streams.local import LocalStream
from tests.support.harness import Harness, snapshot_of
from tests.support.recording import RecordingHandler

KEEP = 8192  # bytes left intact: the header and the first pages


def garbage_after_header(path: Path) -> None:
    """Overwrite the file from byte 8192 to its end."""
    size = path.stat().st_size
    assert size > 2 * KEEP
    with path.open("r+b") as file:
        file.seek(KEEP)
        file.write(b"\x5a" * (size - KEEP))


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    """A one-shard embedded stream and a store on tmp_path, with a settable clock."""
    h = Harness(tmp_path)
    yield h
    h.close()


def test_a_stream_damaged_past_its_header_raises_damaged_naming_the_file(tmp_path: Path) -> None:
    """Opening or reading a stream garbled past byte 8192 raises DamagedDatabaseError."""
    path = tmp_path / "stream.db"
    stream = LocalStream(path, 1)
    stream.put_records([(str(i), b"x" * 200) for i in range(500)])
    stream.close()
    garbage_after_header(path)
    with pytest.raises(DamagedDatabaseError, match="malformed") as raised:
        LocalStream(path).read("shardId-000000000000", None, 1000)
    assert str(path) in str(raised.value)
    assert not isinstance(raised.value, StreamError)  # not an error the runner retries


@pytest.mark.parametrize("opens", [LocalStream, SQLiteStore])
def test_a_file_that_is_no_database_is_damaged(opens: type, tmp_path: Path) -> None:
    """Opening text as the stream or the store raises DamagedDatabaseError naming the file."""
    path = tmp_path / "some.db"
    path.write_text("no pages here\n" * 500)
    with pytest.raises(DamagedDatabaseError, match="file is not a database") as raised:
        opens(path)
    assert str(path) in str(raised.value)


def test_a_locked_database_stays_a_transient_error(tmp_path: Path) -> None:
    """A database another connection holds for writing is StoreUnavailableError (retried)."""
    path = tmp_path / "store.db"
    SQLiteStore(path).close()
    with (
        closing(sqlite3.connect(path, isolation_level=None)) as holder,
        closing(sqlite3.connect(path, isolation_level=None, timeout=0)) as waiter,
    ):
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreUnavailableError), errors("store begin", StoreError, path):
            waiter.execute("BEGIN IMMEDIATE")


class DamagedReader:
    """A stream whose every read finds a damaged file."""

    name = "damaged"

    def list_shards(self) -> list[ShardInfo]:
        """One shard."""
        return [ShardInfo("shardId-000000000000")]

    def read(self, shard_id: str, after: str | None, limit: int) -> ReadResult:
        """Fail as a corrupt SQLite file does."""
        raise DamagedDatabaseError("stream.db is damaged")


def test_a_damaged_stream_is_raised_by_poll_not_retried(harness: Harness) -> None:
    """The runner raises a DamagedDatabaseError from a shard's read instead of backing off."""
    mapping = EventSourceMapping(
        DamagedReader(), RecordingHandler(), harness.store, MappingConfig(), now_ms=harness.clock
    )
    with pytest.raises(DamagedDatabaseError):
        mapping.poll()
    assert snapshot_of(mapping).stats.failures == 0


def test_a_damaged_store_under_the_handler_is_raised_not_a_function_error(
    harness: Harness,
) -> None:
    """A handler whose store is damaged stops the runner; the batch is not retried."""
    harness.put(3)
    handler = RecordingHandler()
    handler.fail(times=None, error=DamagedDatabaseError("store.db is damaged"))
    mapping = harness.mapping(handler, window_seconds=0)
    with pytest.raises(DamagedDatabaseError):
        mapping.poll()
    assert snapshot_of(mapping).stats.failures == 0
    assert harness.failure_records() == []
