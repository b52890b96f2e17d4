"""A put given as two columns stores and fails exactly what the same put of pairs does."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from taxi_stream.app.produce import Produced, produce
from taxi_stream.cli import main
from taxi_stream.core.records import PutResult
from taxi_stream.sources.files import Entry
from taxi_stream.streams.local import LocalStream

NOW_MS = 1_730_419_200_000
MIB = 1024 * 1024
# Keys a stream refuses or hashes oddly: empty, past 256 units, astral, lone surrogates, NUL.
HOSTILE_KEYS = ["", "k", "a" * 257, "é" * 256, "\U0001f695" * 129, "\ud800", "x\udfffy", "\x00"]
keys = st.text(max_size=300) | st.sampled_from(HOSTILE_KEYS)
payloads = st.binary(max_size=40) | st.sampled_from([b"", b"\xff\xfe", b"x" * (MIB - 1)])


def rows(path: Path) -> list[tuple[Any, ...]]:
    """Every stored batch row, as SQLite holds it (arrival, codec, lengths and body bytes)."""
    with sqlite3.connect(path) as db:
        found = db.execute(
            "SELECT shard, last_seq, count, arrival_ms, codec, size, body FROM batches"
            " ORDER BY shard, last_seq"
        ).fetchall()
    db.close()
    return found


class PairsOnly:
    """A stream writer that takes pairs only (as Kinesis does): the path without columns."""

    def __init__(self, stream: LocalStream) -> None:
        self._stream = stream

    def put_records(self, entries: Any) -> PutResult:
        return self._stream.put_records(entries)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(keys, payloads), max_size=12),
    st.sampled_from([1, 2, 4, 7]),
    st.integers(min_value=1, max_value=3),
)
def test_two_columns_store_the_rows_and_failures_that_pairs_do(
    tmp_path_factory: pytest.TempPathFactory,
    entries: list[tuple[str, bytes]],
    shard_count: int,
    puts: int,
) -> None:
    """Any keys and payloads, in one or more puts: the same results, byte-identical rows."""
    pairs_path = tmp_path_factory.mktemp("pairs") / "stream.db"
    columns_path = tmp_path_factory.mktemp("columns") / "stream.db"
    by_pairs = LocalStream(pairs_path, shard_count, clock=lambda: NOW_MS)
    by_columns = LocalStream(columns_path, shard_count, clock=lambda: NOW_MS)
    for part in range(puts):
        chunk = entries[part::puts]
        expected = by_pairs.put_records(chunk)
        got = by_columns.put_columns([k for k, _ in chunk], [d for _, d in chunk])
        assert got == expected
    by_pairs.close()
    by_columns.close()
    assert rows(columns_path) == rows(pairs_path)


def test_bytes_like_payloads_in_columns_are_stored_as_their_bytes(tmp_path: Path) -> None:
    """A bytearray and a memoryview of 4-byte items go in as the bytes they hold."""
    stream = LocalStream(tmp_path / "stream.db", 1, clock=lambda: NOW_MS)
    data: list[Any] = [bytearray(b"two"), memoryview(b"four4444").cast("I")]
    assert stream.put_columns(["a", "b"], data).sent == 2
    records = stream.read("shardId-000000000000", None, 10).records
    assert [(r.partition_key, r.data) for r in records] == [("a", b"two"), ("b", b"four4444")]
    stream.close()


def test_columns_of_different_lengths_are_refused_before_anything_is_stored(
    tmp_path: Path,
) -> None:
    """Two keys for one payload is a ValueError naming both counts; the stream stays empty."""
    stream = LocalStream(tmp_path / "stream.db", 1, clock=lambda: NOW_MS)
    with pytest.raises(ValueError, match="2 keys for 1 payloads"):
        stream.put_columns(["a", "b"], [b"x"])
    assert stream.appended() == 0
    stream.close()


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(keys, payloads), max_size=25), st.integers(min_value=1, max_value=7))
def test_produce_over_columns_counts_and_stores_what_it_does_over_pairs(
    tmp_path_factory: pytest.TempPathFactory, pairs: list[tuple[str, bytes]], batch: int
) -> None:
    """produce into the embedded stream (columns) and into a pairs-only writer: same outcome."""
    entries: list[Entry] = [(10 + n, key, data) for n, (key, data) in enumerate(pairs)]
    columns_path = tmp_path_factory.mktemp("columns") / "stream.db"
    pairs_path = tmp_path_factory.mktemp("pairs") / "stream.db"
    results: list[Produced] = []
    for path, wrap in ((columns_path, False), (pairs_path, True)):
        stream = LocalStream(path, 4, clock=lambda: NOW_MS)
        results.append(produce(PairsOnly(stream) if wrap else stream, entries, batch))
        stream.close()
    assert results[0] == results[1]
    assert rows(columns_path) == rows(pairs_path)


def stored_counts(data_dir: Path) -> list[int]:
    """The record count of each batch row of a data dir's one-shard stream, in order."""
    return [row[2] for row in rows(data_dir / "stream.db")]


def test_a_file_goes_into_the_embedded_stream_5000_lines_a_put(tmp_path: Path) -> None:
    """12,000 lines of a regular file, one shard: rows of 5,000, 5,000 and 2,000 records."""
    lines = tmp_path / "trips.jsonl"
    lines.write_bytes(b"".join(b'{"n": %d}\n' % n for n in range(12_000)))
    argv = ["produce", "--data-dir", str(tmp_path), "--shards", "1", "--from", str(lines)]
    done = CliRunner().invoke(main, argv)
    assert done.exit_code == 0, done.output
    assert stored_counts(tmp_path) == [5_000, 5_000, 2_000]


def test_a_pipe_goes_in_500_lines_a_put_as_a_putrecords_call_takes(tmp_path: Path) -> None:
    """1,200 lines on a stdin that is no regular file: rows of 500, 500 and 200 records."""
    text = b"".join(b'{"n": %d}\n' % n for n in range(1_200))
    argv = ["produce", "--data-dir", str(tmp_path), "--shards", "1", "--from", "-"]
    done = CliRunner().invoke(main, argv, input=text)
    assert done.exit_code == 0, done.output
    assert stored_counts(tmp_path) == [500, 500, 200]
