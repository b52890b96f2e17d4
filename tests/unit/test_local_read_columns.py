"""The embedded stream's read builds records column by column: the same records as one by one."""

from __future__ import annotations

import struct
from itertools import accumulate
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taxi_stream.core.errors import StreamError
from taxi_stream.core.records import StreamRecord
from taxi_stream.streams import batches
from taxi_stream.streams.local import LocalStream

NOW_MS = 1_730_419_200_000


def spelled_out(shard: int, counter: int) -> str:
    """A Kinesis-like number written out by hand: 49, the shard in 4 digits, the counter in 50."""
    return "49" + str(shard).zfill(4) + str(counter).zfill(50)


def one_by_one(count: int, body: bytes) -> tuple[list[str], list[bytes]]:
    """The batch layout read record by record, as the docstring of ``streams.batches`` says."""
    lengths = struct.unpack_from(f"<{count}H{count}I", body)
    ends = list(accumulate(lengths, initial=6 * count))
    keys = [body[ends[i] : ends[i + 1]].decode() for i in range(count)]
    payloads = [body[ends[i] : ends[i + 1]] for i in range(count, 2 * count)]
    return keys, payloads


def raw_body(keys: list[bytes], payloads: list[bytes]) -> bytes:
    """An uncompressed batch body of these key bytes and payloads."""
    n = len(keys)
    header = struct.pack(f"<{n}H{n}I", *map(len, keys), *map(len, payloads))
    return b"".join([header, *keys, *payloads])


@pytest.fixture
def stream(tmp_path: Path) -> LocalStream:
    """An empty embedded stream of 3 shards."""
    return LocalStream(tmp_path / "stream.db", 3, clock=lambda: NOW_MS)


@pytest.mark.parametrize(
    ("first", "stop"),
    [(1, 2), (1, 12), (8, 12), (95, 1_005), (10**49 - 2, 10**49 + 3), (10**50 - 1, 10**50 + 2)],
)
def test_a_run_of_counters_gets_the_numbers_written_one_by_one(
    stream: LocalStream, first: int, stop: int
) -> None:
    """Counters across every change of digit count (and past 50 digits) keep the one format."""
    numbers = stream._numbers(2, first, stop)
    assert numbers == [
        spelled_out(2, n) if n < 10**50 else f"490002{n}" for n in range(first, stop)
    ]


def test_a_legacy_log_numbers_a_run_of_counters_as_plain_decimals(stream: LocalStream) -> None:
    """Before Kinesis-like numbers, a record's number is its counter as decimal digits."""
    stream._legacy = True
    assert stream._numbers(1, 98, 102) == ["98", "99", "100", "101"]


def test_records_read_across_digit_boundaries_carry_their_numbers(stream: LocalStream) -> None:
    """120 records put 7 at a time into one shard read back in order, numbered 1..120."""
    entries = [("same-key", b"trip %d" % n) for n in range(120)]
    for start in range(0, 120, 7):
        stream.put_records(entries[start : start + 7])
    shard = next(i for i in range(3) if stream.read(f"shardId-{i:012d}", None, 1).records)
    records = stream.read(f"shardId-{shard:012d}", None, 200).records
    assert records == [
        StreamRecord(spelled_out(shard, n + 1), NOW_MS, "same-key", b"trip %d" % n)
        for n in range(120)
    ]


keys_strategy = st.text(max_size=20).map(str.encode) | st.binary(max_size=20)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(keys_strategy, st.binary(max_size=60)), min_size=1, max_size=30))
def test_a_batch_decodes_column_wise_as_it_does_record_by_record(
    entries: list[tuple[bytes, bytes]],
) -> None:
    """Any key bytes (UTF-8 or not) and payloads: the same keys, payloads, or the same error."""
    keys, payloads = [k for k, _ in entries], [p for _, p in entries]
    body = raw_body(keys, payloads)
    try:
        expected: object = one_by_one(len(entries), body)
    except UnicodeDecodeError as exc:
        expected = (type(exc), exc.reason)
    try:
        got: object = batches.decode(len(entries), batches.RAW, len(body), body)
    except StreamError as error:  # a damaged file's key: one clear error, its cause the same
        exc = error.__cause__
        assert isinstance(exc, UnicodeDecodeError)
        got = (type(exc), exc.reason)
    assert got == expected


@pytest.mark.parametrize(
    "keys",
    [
        [b"trip-1", b"trip-22", b"", b"k" * 256],  # ASCII, one empty, one long
        [b"caf\xc3\xa9", b"plain"],  # valid UTF-8 beside ASCII
        [b"half \xc3", b"\xa9 half"],  # a character split across two keys: valid only joined
        [b"\xff", b"ok"],  # one invalid byte, one character's worth
        [b"\x7f\x00", b"\x80"],  # the last ASCII byte, NUL, the first byte past ASCII
    ],
)
def test_quirky_keys_decode_column_wise_as_one_by_one(keys: list[bytes]) -> None:
    """ASCII, UTF-8, split and invalid key bytes: the same keys as one by one, or the same error."""
    payloads = [bytes([0x80 + n]) * 300 for n in range(len(keys))]  # header bytes past ASCII
    body = raw_body(keys, payloads)
    try:
        expected: object = one_by_one(len(keys), body)
    except UnicodeDecodeError as exc:
        expected = (type(exc), exc.reason, exc.object[exc.start : exc.end])
    try:
        got: object = batches.decode(len(keys), batches.RAW, len(body), body)
    except StreamError as error:  # a damaged file's key: one clear error, its cause the same
        exc = error.__cause__
        assert isinstance(exc, UnicodeDecodeError)
        got = (type(exc), exc.reason, exc.object[exc.start : exc.end])
    assert got == expected


def test_a_key_that_is_no_utf8_in_a_damaged_file_is_a_stream_error_naming_it() -> None:
    """A batch whose stored key bytes are no UTF-8 (only damage writes them) is one StreamError."""
    body = raw_body([b"\xff\xfe", b"ok"], [b"{}", b"{}"])
    with pytest.raises(StreamError, match="a key that is no UTF-8"):
        batches.decode(2, batches.RAW, len(body), body)
