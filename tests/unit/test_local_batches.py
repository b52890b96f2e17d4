"""The embedded stream's record batches: small on disk, every record readable from anywhere."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pytest
import zstandard

from taxi_stream.core.errors import StreamError
from taxi_stream.sources.simulator import Simulator, SimulatorConfig
from taxi_stream.streams.local import LocalStream
from tests.support.reading import read_shard

NOW_MS = 1_730_419_200_000
SHARD_0 = "shardId-000000000000"
TARGET_BYTES_PER_TRIP = 150  # issue 10: the stream on disk, against ~355 bytes of JSON a trip

# The layout of a log written before batches (Kinesis-like numbers, one row per record).
ONE_ROW_PER_RECORD = """
CREATE TABLE stream_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE shards (shard INTEGER PRIMARY KEY, last_seq INTEGER NOT NULL);
CREATE TABLE records (
    shard INTEGER NOT NULL, seq INTEGER NOT NULL, arrival_ms INTEGER NOT NULL,
    partition_key TEXT NOT NULL, data BLOB NOT NULL, PRIMARY KEY (shard, seq)
) WITHOUT ROWID;
"""


def kinesis_number(counter: int, shard: int = 0) -> str:
    """The 56-digit number of a shard's ``counter``-th record, spelled out here on its own."""
    return "49" + str(shard).zfill(4) + str(counter).zfill(50)


def on_disk(directory: Path) -> int:
    """Bytes of every file of the stream (the database, its log and its index)."""
    return sum(path.stat().st_size for path in directory.glob("stream.db*"))


def test_simulated_trips_take_at_most_150_bytes_each_on_disk(tmp_path: Path) -> None:
    """20,000 simulated trips put 500 a call into 4 shards fill at most 150 bytes a trip."""
    entries = Simulator(SimulatorConfig(seed=3)).batch(20_000).entries
    stream = LocalStream(tmp_path / "stream.db", 4, clock=lambda: NOW_MS)
    for start in range(0, len(entries), 500):
        assert stream.put_records(entries[start : start + 500]).failed == []
    stream.close()
    assert on_disk(tmp_path) / len(entries) <= TARGET_BYTES_PER_TRIP


def test_a_read_from_any_position_with_any_limit_gives_the_records_that_follow(
    tmp_path: Path,
) -> None:
    """Three puts of 7: from every position and limit 1..10, the next records in put order."""
    stream = LocalStream(tmp_path / "stream.db", 1, clock=lambda: NOW_MS)
    payloads = [b"trip %d" % n for n in range(21)]
    for start in range(0, 21, 7):
        stream.put_records([(f"key-{n}", payloads[n]) for n in range(start, start + 7)])
    positions: list[str | None] = [None] + [kinesis_number(n) for n in range(1, 22)]
    for skip, after in enumerate(positions):
        for limit in range(1, 11):
            records = stream.read(SHARD_0, after, limit).records
            assert [r.data for r in records] == payloads[skip : skip + limit], (after, limit)
            numbers = [kinesis_number(n) for n in range(skip + 1, skip + 1 + len(records))]
            assert [r.sequence_number for r in records] == numbers
            assert [r.partition_key for r in records] == [
                f"key-{n}" for n in range(skip, skip + len(records))
            ]
    stream.close()


def test_a_log_of_one_row_per_record_is_read_first_then_its_new_batches(tmp_path: Path) -> None:
    """A log written before batches reads its old records, then the new ones, numbered on."""
    path = tmp_path / "stream.db"
    with sqlite3.connect(path) as db:
        db.executescript(ONE_ROW_PER_RECORD)
        meta = {"shards": "1", "name": "local-0123456789ab", "sequences": "kinesis-56"}
        db.executemany("INSERT INTO stream_meta VALUES (?, ?)", meta.items())
        rows = [(0, n, NOW_MS, "old", b"old %d" % n) for n in range(1, 4)]
        db.executemany("INSERT INTO records VALUES (?, ?, ?, ?, ?)", rows)
        db.execute("INSERT INTO shards VALUES (0, 3)")
    db.close()
    stream = LocalStream(path, clock=lambda: NOW_MS + 1)
    stream.put_records([("new", b"new 4"), ("new", b"new 5")])
    records = read_shard(stream, SHARD_0, limit=2)
    assert [r.data for r in records] == [b"old 1", b"old 2", b"old 3", b"new 4", b"new 5"]
    assert [r.sequence_number for r in records] == [kinesis_number(n) for n in range(1, 6)]
    assert [r.arrival_ms for r in records] == [NOW_MS] * 3 + [NOW_MS + 1] * 2
    after_old = stream.read(SHARD_0, kinesis_number(2), 10).records
    assert [r.data for r in after_old] == [b"old 3", b"new 4", b"new 5"]
    stream.close()


def test_a_damaged_batch_is_a_stream_error_naming_the_batch(tmp_path: Path) -> None:
    """A batch whose stored bytes were overwritten reads as one clear StreamError."""
    stream = LocalStream(tmp_path / "stream.db", 1, clock=lambda: NOW_MS)
    stream.put_records([(f"k{n}", b'{"trip": %d, "vendorId": "1"}' % n) for n in range(50)])
    stream.close()
    with sqlite3.connect(tmp_path / "stream.db") as db:
        db.execute("UPDATE batches SET body = ?", (b"\x00" * 40,))
    db.close()
    stream = LocalStream(tmp_path / "stream.db", clock=lambda: NOW_MS)
    with pytest.raises(StreamError, match="a batch of the embedded stream") as raised:
        stream.read(SHARD_0, None, 10)
    assert "\n" not in str(raised.value)
    stream.close()


def test_a_put_of_large_records_is_stored_in_batches_of_at_most_4_mib(tmp_path: Path) -> None:
    """Nine 1 MB records to one shard take three rows of four, four and one; all read back."""
    stream = LocalStream(tmp_path / "stream.db", 1, clock=lambda: NOW_MS)
    payloads = [bytes([n]) * 1_000_000 for n in range(9)]  # four fit in 4 MiB, five do not
    assert stream.put_records([(f"k{n}", data) for n, data in enumerate(payloads)]).sent == 9
    records = read_shard(stream, SHARD_0, limit=3)
    assert [r.data for r in records] == payloads
    stream.close()
    with sqlite3.connect(tmp_path / "stream.db") as db:
        counts = [count for (count,) in db.execute("SELECT count FROM batches ORDER BY last_seq")]
    db.close()
    assert counts == [4, 4, 1]


def stored_bodies(path: Path) -> list[tuple[int, int, bytes]]:
    """(codec, body length, stored bytes) of every batch row, in shard and put order."""
    with sqlite3.connect(path) as db:
        query = "SELECT codec, size, body FROM batches ORDER BY shard, last_seq"
        return [(int(c), int(s), bytes(b)) for c, s, b in db.execute(query)]


def simulated_body(count: int) -> bytes:
    """A batch body as the module docstring lays it out, built here on its own from trips."""
    entries = Simulator(SimulatorConfig(seed=5)).batch(count).entries
    keys = [key.encode() for key, _ in entries]
    lengths = b"".join(len(key).to_bytes(2, "little") for key in keys)
    lengths += b"".join(len(data).to_bytes(4, "little") for _, data in entries)
    return lengths + b"".join(keys) + b"".join(data for _, data in entries)


def test_a_batch_of_trips_is_stored_compressed_by_zstd_at_level_minus_3(tmp_path: Path) -> None:
    """A put's trips are one zstd frame at level -3, the fast level docs/architecture.md names."""
    body = simulated_body(1_000)
    entries = Simulator(SimulatorConfig(seed=5)).batch(1_000).entries
    stream = LocalStream(tmp_path / "stream.db", 1, clock=lambda: NOW_MS)
    assert stream.put_records(entries).failed == []
    stream.close()
    expected = pa.Codec("zstd", -3).compress(body, asbytes=True)
    assert stored_bodies(tmp_path / "stream.db") == [(1, len(body), expected)]


def test_batches_compressed_at_level_1_by_an_earlier_version_read_back(tmp_path: Path) -> None:
    """A log whose batches were compressed at zstd level 1 reads every record as it was put."""
    entries = Simulator(SimulatorConfig(seed=5)).batch(1_000).entries
    path = tmp_path / "stream.db"
    stream = LocalStream(path, 1, clock=lambda: NOW_MS)
    stream.put_records(entries)
    stream.close()
    body = simulated_body(1_000)
    with sqlite3.connect(path) as db:
        db.execute(
            "UPDATE batches SET body = ?", (pa.Codec("zstd", 1).compress(body, asbytes=True),)
        )
    stream = LocalStream(path, 1, clock=lambda: NOW_MS)
    records = read_shard(stream, SHARD_0)
    stream.close()
    assert [(r.partition_key, r.data) for r in records] == entries


def rewritten_body(tmp_path: Path, count: int, stored: bytes) -> LocalStream:
    """A one-batch log of ``count`` simulated trips whose stored body is replaced by ``stored``."""
    path = tmp_path / "stream.db"
    stream = LocalStream(path, 1, clock=lambda: NOW_MS)
    stream.put_records(Simulator(SimulatorConfig(seed=5)).batch(count).entries)
    stream.close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE batches SET body = ?", (stored,))
    db.close()
    return LocalStream(path, clock=lambda: NOW_MS)


def streamed_frame(body: bytes) -> bytes:
    """A zstd frame whose header does not name its content size, as streaming writers make it."""
    packer = zstandard.ZstdCompressor(level=3, write_content_size=False).compressobj()
    return packer.compress(body) + packer.flush()


def test_a_frame_that_does_not_name_its_size_reads_back(tmp_path: Path) -> None:
    """A batch body in a zstd frame without a content size reads every record as it was put."""
    body = simulated_body(300)
    stream = rewritten_body(tmp_path, 300, streamed_frame(body))
    records = read_shard(stream, SHARD_0)
    stream.close()
    entries = Simulator(SimulatorConfig(seed=5)).batch(300).entries
    assert [(r.partition_key, r.data) for r in records] == entries


def forged_frame(content_size: int) -> bytes:
    """A zstd frame header naming ``content_size`` (4 bytes, one segment), then one empty block."""
    return b"\x28\xb5\x2f\xfd" + b"\xa0" + content_size.to_bytes(4, "little") + b"\x01\x00\x00"


def frame_one_byte_over(body: bytes) -> bytes:
    return pa.Codec("zstd", -3).compress(body + b"x", asbytes=True)


def frame_a_gib_over(body: bytes) -> bytes:
    return forged_frame(len(body) + (1 << 30))


@pytest.mark.parametrize("frame", [frame_one_byte_over, frame_a_gib_over])
def test_a_frame_larger_than_its_row_says_is_a_stream_error(
    tmp_path: Path, frame: Callable[[bytes], bytes]
) -> None:
    """A frame naming more bytes than its row (1 byte, or 1 GiB) is refused by its header alone."""
    body = simulated_body(300)
    said = zstandard.frame_content_size(frame(body))
    stream = rewritten_body(tmp_path, 300, frame(body))
    row = re.escape(f"(the batches row shard=0, last_seq=300 of {tmp_path / 'stream.db'})")
    with pytest.raises(StreamError, match=f"says {said} bytes, not {len(body)} {row}$") as raised:
        stream.read(SHARD_0, None, 10)
    assert "\n" not in str(raised.value)
    stream.close()


def test_a_frame_without_its_size_holding_more_than_the_row_is_a_stream_error(
    tmp_path: Path,
) -> None:
    """A frame that does not name its size yet holds more than its row says is refused."""
    stream = rewritten_body(tmp_path, 300, streamed_frame(simulated_body(300) + b"x" * 4096))
    with pytest.raises(StreamError, match="a batch of the embedded stream"):
        stream.read(SHARD_0, None, 10)
    stream.close()


def resized(tmp_path: Path, count: int, stored: bytes, size: int) -> LocalStream:
    """A one-batch log of ``count`` simulated trips whose row says ``size`` for ``stored``."""
    rewritten_body(tmp_path, count, stored).close()
    with sqlite3.connect(tmp_path / "stream.db") as db:
        db.execute("UPDATE batches SET size = ?", (size,))
    db.close()
    return LocalStream(tmp_path / "stream.db", clock=lambda: NOW_MS)


@pytest.mark.parametrize("size", [(1 << 30) + 1, 1 << 40, (1 << 63) - 1, -1])
def test_a_row_whose_size_is_past_1_gib_is_a_stream_error_naming_the_row(
    tmp_path: Path, size: int
) -> None:
    """A damaged size column (past 1 GiB, or below 0) under a frame that does not name its own
    size is refused as a StreamError that names the row, before any memory is taken for it."""
    stream = resized(tmp_path, 300, streamed_frame(simulated_body(300)), size)
    with pytest.raises(StreamError) as raised:
        stream.read(SHARD_0, None, 10)
    stream.close()
    assert str(raised.value) == (
        f"a batch of the embedded stream says its body is {size:,} bytes, outside 0 to"
        f" 1,073,741,824 (the batches row shard=0, last_seq=300 of {tmp_path / 'stream.db'})"
    )


def frame_then_junk(body: bytes) -> bytes:
    return zstandard.ZstdCompressor(level=-3).compress(body) + b"\x00"


def two_frames(body: bytes) -> bytes:
    return zstandard.ZstdCompressor(level=-3).compress(body) + streamed_frame(b"more")


def streamed_frame_then_junk(body: bytes) -> bytes:
    return streamed_frame(body) + b"junk"


@pytest.mark.parametrize("stored", [frame_then_junk, two_frames, streamed_frame_then_junk])
def test_bytes_after_the_batch_frame_are_a_stream_error(
    tmp_path: Path, stored: Callable[[bytes], bytes]
) -> None:
    """A batch's stored bytes are one zstd frame: anything after it (a byte, a second frame) is
    a damaged row, refused by name, not left unread."""
    stream = rewritten_body(tmp_path, 300, stored(simulated_body(300)))
    with pytest.raises(StreamError, match="unused data") as raised:
        stream.read(SHARD_0, None, 10)
    stream.close()
    assert str(raised.value).startswith("a batch of the embedded stream cannot be read: ")
    row = f"(the batches row shard=0, last_seq=300 of {tmp_path / 'stream.db'})"
    assert str(raised.value).endswith(row)


def test_threads_writing_and_reading_batches_at_once_keep_every_record(tmp_path: Path) -> None:
    """Four threads, each with its own log, put and read back 20 batches at once, none mixed."""

    def put_and_read(n: int) -> bool:
        entries = Simulator(SimulatorConfig(seed=n)).batch(2_000).entries
        stream = LocalStream(tmp_path / f"stream-{n}.db", 1, clock=lambda: NOW_MS)
        for start in range(0, len(entries), 100):
            stream.put_records(entries[start : start + 100])
        records = read_shard(stream, SHARD_0)
        stream.close()
        return [(r.partition_key, r.data) for r in records] == entries

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(put_and_read, range(4))) == [True] * 4
