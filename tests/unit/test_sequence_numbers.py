"""Embedded-stream sequence numbers look and sort like Kinesis's; older logs keep their own."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from taxi_stream.core.errors import ConfigError, StreamError
from taxi_stream.core.records import DeadLetter, Origin
from taxi_stream.runner.checkpoint import Checkpoint
from taxi_stream.runner.mapping import EventSourceMapping, MappingConfig
from taxi_stream.stores.sqlite import SQLiteStore
from taxi_stream.streams.local import LocalStream
from tests.support.recording import RecordingHandler, sequences

KINESIS_DIGITS = 56  # the length of every Kinesis sequence number
SHARD_0, SHARD_1 = "shardId-000000000000", "shardId-000000000001"

# The schema and metadata the embedded stream wrote before its numbers were Kinesis-like.
OLD_SCHEMA = """
CREATE TABLE stream_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE shards (shard INTEGER PRIMARY KEY, last_seq INTEGER NOT NULL);
CREATE TABLE records (
    shard INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    arrival_ms INTEGER NOT NULL,
    partition_key TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (shard, seq)
) WITHOUT ROWID;
"""
OLD_NAME = "local-0123456789ab"
NOW_MS = 1_730_419_200_000


def old_stream(path: Path, records: int, meta: dict[str, str] | None = None) -> None:
    """Write a one-shard log as the earlier version did: ``records`` records numbered 1, 2, ..."""
    with sqlite3.connect(path) as db:
        db.executescript(OLD_SCHEMA)
        fields = {"shards": "1", "name": OLD_NAME} | (meta or {})
        db.executemany("INSERT INTO stream_meta VALUES (?, ?)", fields.items())
        rows = [(0, n, NOW_MS, "k", b"old %d" % n) for n in range(1, records + 1)]
        db.executemany("INSERT INTO records VALUES (?, ?, ?, ?, ?)", rows)
        db.execute("INSERT INTO shards VALUES (0, ?)", (records,))
    db.close()


def read_all(stream: LocalStream, shard: str = SHARD_0, after: str | None = None) -> list[str]:
    """Every sequence number of a shard after ``after``."""
    return [r.sequence_number for r in stream.read(shard, after, 10_000).records]


def test_sequence_numbers_are_56_digits_and_sort_as_strings_in_shard_order(
    tmp_path: Path,
) -> None:
    """56 decimal digits, no leading zero; string order is append order; unique across shards."""
    stream = LocalStream(tmp_path / "stream.db", 2, clock=lambda: NOW_MS)
    for _ in range(3):  # past 9, 99 records a shard: where plain counters stop sorting as text
        stream.put_records([(f"key-{i}", b"x") for i in range(100)])
    by_shard = {shard: read_all(stream, shard) for shard in (SHARD_0, SHARD_1)}
    assert all(len(seqs) > 99 for seqs in by_shard.values())
    for seqs in by_shard.values():
        assert all(len(s) == KINESIS_DIGITS and s.isdigit() and s[0] != "0" for s in seqs)
        assert sorted(seqs) == seqs
        assert [int(s) for s in seqs] == sorted(int(s) for s in seqs)
    assert not set(by_shard[SHARD_0]) & set(by_shard[SHARD_1])
    stream.close()


@pytest.mark.parametrize(
    "after",
    ["abc", "", "57", "4" * 57, "1" * 56, "49" + "0" * 53 + "x"],
    ids=["letters", "empty", "short", "too-long", "wrong-lead", "not-digits"],
)
def test_a_malformed_sequence_number_is_refused_clearly(tmp_path: Path, after: str) -> None:
    """Reading after something that is no sequence number of this stream is a StreamError."""
    stream = LocalStream(tmp_path / "stream.db", 1)
    stream.put_records([("k", b"x")])
    with pytest.raises(StreamError, match="not a sequence number"):
        stream.read(SHARD_0, after, 10)
    stream.close()


def test_a_sequence_number_of_another_shard_is_refused(tmp_path: Path) -> None:
    """A shard's read refuses another shard's sequence number (it would skip or repeat records)."""
    stream = LocalStream(tmp_path / "stream.db", 2)
    stream.put_records([(f"key-{i}", b"x") for i in range(20)])
    other = read_all(stream, SHARD_1)[0]
    with pytest.raises(StreamError, match=f"belongs to {SHARD_1}, not {SHARD_0}"):
        stream.read(SHARD_0, other, 10)
    stream.close()


def test_a_log_of_the_earlier_version_keeps_its_numbers_and_its_checkpoints(
    tmp_path: Path,
) -> None:
    """An old stream.db numbers on from its last record; a saved checkpoint resumes exactly."""
    old_stream(tmp_path / "stream.db", 3)
    stream = LocalStream(tmp_path / "stream.db", clock=lambda: NOW_MS)
    assert (stream.name, stream.legacy_sequences) == (OLD_NAME, True)
    stream.put_records([("k", b"new")])
    assert read_all(stream) == ["1", "2", "3", "4"]
    assert read_all(stream, after="2") == ["3", "4"]
    with pytest.raises(StreamError, match="not a sequence number"):
        stream.read(SHARD_0, "4" * 56, 10)
    store = SQLiteStore(tmp_path / "store.db", clock=lambda: NOW_MS)
    store.save_checkpoint("taxi-stream", OLD_NAME, SHARD_0, Checkpoint("2"))
    handler = RecordingHandler()
    config = MappingConfig(window_seconds=0)
    mapping = EventSourceMapping(stream, handler, store, config, now_ms=lambda: NOW_MS)
    mapping.poll()
    assert [sequences(event) for event in handler.events] == [["3", "4"]]
    stream.close()
    store.close()


def test_a_log_with_an_unknown_numbering_is_refused_in_one_line(tmp_path: Path) -> None:
    """A stream.db that says it numbers records some other way is refused, not misread."""
    old_stream(tmp_path / "stream.db", 1, meta={"sequences": "kinesis-99"})
    with pytest.raises(ConfigError, match="numbers its records as 'kinesis-99'") as caught:
        LocalStream(tmp_path / "stream.db")
    assert "\n" not in str(caught.value)


def test_dead_letters_stored_together_come_in_sequence_order(tmp_path: Path) -> None:
    """The SQLite store orders dead letters by sequence number as a number of any length."""
    kinesis = 49590338271490256608559692538361571095921575989136588898
    numbers = [str(kinesis + 10), str(kinesis + 9), str(kinesis), "10", "9"]
    letters = [
        DeadLetter(Origin("input-stream", SHARD_0, n, None, NOW_MS), "not_json", n, b"x")
        for n in numbers
    ]
    store = SQLiteStore(tmp_path / "store.db", clock=lambda: NOW_MS)
    store.put_dead_letters(letters)
    in_order = sorted(numbers, key=int)
    assert [d.origin.sequence_number for d in store.dead_letters()] == in_order
    store.close()
