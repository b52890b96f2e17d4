"""The embedded stream's batch write path gives what the Kinesis rules give entry by entry."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taxi_stream.core import hashkey
from taxi_stream.core.hashkey import shards_for_keys
from taxi_stream.core.limits import entry_problems
from taxi_stream.streams.local import LocalStream, shard_id
from tests.support.reading import read_shard

NOW_MS = 1_730_419_200_000
MIB = 1024 * 1024
TAXI = "\U0001f695"  # an emoji: 4 UTF-8 bytes, 2 UTF-16 units
# Keys a producer may send, hostile and quirky: empty, at and past 256 units in ASCII, in
# two-byte and in astral characters, a lone surrogate, blanks, NUL, and the plain kind.
QUIRKY_KEYS = [
    "",
    "k",
    "a" * 256,
    "a" * 257,
    "é" * 256,
    "é" * 257,
    TAXI * 128,
    TAXI * 129,
    "a" + TAXI * 128,
    "\ud800",
    "x\udfffy",
    " ",
    "\x00",
    "s1-0000000042",
    "ключ",
]


def md5_shard(key: str, shard_count: int) -> int:
    """The Kinesis rule spelled out with hashlib: MD5 of the UTF-8 key, big-endian, even slices."""
    digest = hashlib.md5(key.encode("utf-8")).digest()
    return int.from_bytes(digest, "big") * shard_count // 2**128


def one_by_one(key: str, data: Any) -> str | None:
    """Why Kinesis refuses one entry, by its documented rules, written out here on their own."""
    try:
        key_size = len(key.encode("utf-8"))
    except UnicodeEncodeError:
        return "bad_partition_key"
    units = len(key.encode("utf-16-le")) // 2
    if not 1 <= units <= 256:
        return "bad_partition_key"
    return "too_large" if len(data) + key_size > MIB else None


keys = st.text(max_size=300) | st.sampled_from(QUIRKY_KEYS)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.text(st.characters(codec="utf-8"), max_size=40), max_size=60),
    st.integers(1, 64),
)
def test_the_shards_of_a_batch_of_keys_are_those_of_md5_key_by_key(
    batch: list[str], shard_count: int
) -> None:
    """Any keys (ASCII, accented, astral, empty) over 1..64 shards: each the MD5 rule's shard."""
    assert shards_for_keys(batch, shard_count) == [md5_shard(k, shard_count) for k in batch]


@pytest.mark.parametrize("shard_count", [1, 2, 3, 4, 5, 7, 16, 63, 64])
def test_each_shard_starts_at_the_first_hash_key_the_even_slices_give_it(shard_count: int) -> None:
    """Shard i's first hash key is the least h with h * n // 2**128 == i; the one before is i-1."""
    starts = [int.from_bytes(start, "big") for start in hashkey._shard_starts(shard_count)]
    assert len(starts) == shard_count - 1
    for index, start in enumerate(starts, start=1):
        assert start * shard_count // 2**128 == index
        assert (start - 1) * shard_count // 2**128 == index - 1


class DigestOfHex:
    """A stand-in for MD5 whose digest is the 16 bytes its input spells in hex."""

    def __init__(self, data: bytes) -> None:
        self._digest = bytes.fromhex(data.decode())

    def digest(self) -> bytes:
        return self._digest


@pytest.mark.parametrize("shard_count", [2, 3, 4, 7, 64])
def test_a_hash_key_on_or_beside_a_shard_start_goes_to_the_even_slice_holding_it(
    monkeypatch: pytest.MonkeyPatch, shard_count: int
) -> None:
    """Hash keys at each shard start, one below and one above, and the range's ends."""
    monkeypatch.setattr(hashkey, "_md5", DigestOfHex)
    starts = [-(-i * 2**128 // shard_count) for i in range(1, shard_count)]
    hash_keys = [0, 2**128 - 1, *(s + d for s in starts for d in (-1, 0, 1))]
    batch = [f"{h:032x}" for h in hash_keys]
    assert shards_for_keys(batch, shard_count) == [h * shard_count >> 128 for h in hash_keys]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(keys, st.integers(0, 3)), max_size=30))
def test_a_batch_is_refused_entry_by_entry_as_kinesis_refuses_each(
    batch: list[tuple[str, int]],
) -> None:
    """Any keys with small payloads: the batch check names the entries the rules refuse."""
    payloads = [b"x" * size for _, size in batch]
    problems = entry_problems([k for k, _ in batch], payloads)
    expected = [
        (i, one_by_one(k, p)) for i, ((k, _), p) in enumerate(zip(batch, payloads, strict=True))
    ]
    assert [(i, why.split(":")[0]) for i, why in problems] == [
        (i, why) for i, why in expected if why is not None
    ]


@pytest.mark.parametrize(
    ("batch", "refused"),
    [
        ([("k", b"x" * (MIB - 1))], []),
        ([("a" * 256, b""), ("b", b"")], []),
        ([("a" * 257, b""), ("b", b"")], [0]),
        ([("b", b""), ("", b"")], [1]),
        ([("a" * 300, b"x"), ("", b"x"), ("ok", b"x")], [0, 1]),
        ([("kk", b"x" * (MIB - 1))], [0]),
        ([("a" * 256, b"x" * (MIB - 256)), ("b", b"")], []),
        ([("a" * 256, b"x" * (MIB - 255)), ("b", b"")], [0]),
        ([("b", b"x" * (MIB - 1)), ("a" * 256, b"")], []),  # longest key, longest data: apart
        ([("é", b"x" * (MIB - 2))], []),
        ([("é", b"x" * (MIB - 1))], [0]),
        ([("ok", b""), (TAXI * 129, b""), ("ok", bytearray(b"x" * (MIB - 1)))], [1, 2]),
        ([("ok", memoryview(b"x" * MIB)), ("", b"")], [0, 1]),
    ],
)
def test_the_limits_are_checked_per_entry_even_in_a_batch_of_ascii_keys(
    batch: list[tuple[str, bytes]], refused: list[int]
) -> None:
    """A key outside 1..256 or data + key over 1 MiB fails that entry only, whatever the rest."""
    problems = entry_problems([k for k, _ in batch], [d for _, d in batch])
    assert [i for i, _ in problems] == refused
    assert [i for i, d in enumerate(batch) if one_by_one(*d)] == refused


def expected_shards(
    entries: list[tuple[str, Any]], shard_count: int
) -> tuple[dict[int, list[tuple[str, bytes]]], list[int]]:
    """The records each shard holds after putting ``entries`` one by one, and the refused."""
    shards: dict[int, list[tuple[str, bytes]]] = {}
    refused = []
    for index, (key, data) in enumerate(entries):
        if one_by_one(key, data) is None:
            shards.setdefault(md5_shard(key, shard_count), []).append((key, bytes(data)))
        else:
            refused.append(index)
    return shards, refused


def stored(stream: LocalStream) -> dict[int, list[tuple[str, bytes]]]:
    """(key, data) of every record in every shard of the stream, in shard order."""
    out = {}
    for index in range(stream.shard_count):
        records = read_shard(stream, shard_id(index), limit=1000)
        if records:
            out[index] = [(r.partition_key, r.data) for r in records]
    return out


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(keys, st.binary(max_size=40)), max_size=40),
    st.sampled_from([1, 2, 3, 4, 7, 64]),
)
def test_a_put_of_quirky_entries_stores_what_puts_one_by_one_would(
    tmp_path_factory: pytest.TempPathFactory,
    entries: list[tuple[str, bytes]],
    shard_count: int,
) -> None:
    """Each good entry lands, in put order, in its MD5 shard; the bad are failed by index."""
    path = tmp_path_factory.mktemp("stream") / "stream.db"
    stream = LocalStream(path, shard_count, clock=lambda: NOW_MS)
    result = stream.put_records(entries)
    shards, refused = expected_shards(entries, shard_count)
    assert [i for i, _ in result.failed] == refused
    assert result.sent == len(entries) - len(refused)
    assert stored(stream) == shards
    stream.close()


def test_bytes_like_payloads_are_stored_as_their_bytes(tmp_path: Path) -> None:
    """A bytearray and memoryviews (of bytes, of 4-byte items) go in as the bytes they hold."""
    stream = LocalStream(tmp_path / "stream.db", 1, clock=lambda: NOW_MS)
    entries: list[tuple[str, Any]] = [
        ("a", b"one"),
        ("b", bytearray(b"two")),
        ("c", memoryview(b"3")),
        ("d", memoryview(b"four4444").cast("I")),  # 2 items, 8 bytes
    ]
    assert stream.put_records(entries).sent == 4
    assert stored(stream) == {0: [("a", b"one"), ("b", b"two"), ("c", b"3"), ("d", b"four4444")]}
    stream.close()


def test_a_put_past_4_mib_with_multibyte_keys_splits_by_their_utf8_bytes(tmp_path: Path) -> None:
    """Keys of 256 two-byte characters count 512 bytes: 5,000 such records take 2 rows."""
    stream = LocalStream(tmp_path / "stream.db", 1, clock=lambda: NOW_MS)
    entries = [("é" * 255 + chr(0x100 + n % 200), bytes([n % 256]) * 512) for n in range(5_000)]
    assert stream.put_records(entries).sent == 5_000
    assert stored(stream) == {0: entries}
    stream.close()
    per_row = 4 * MIB // (6 + 512 + 512)  # lengths, key, data: 4,072 records within 4 MiB
    with sqlite3.connect(tmp_path / "stream.db") as db:
        counts = [c for (c,) in db.execute("SELECT count FROM batches ORDER BY last_seq")]
    db.close()
    assert counts == [per_row, 5_000 - per_row]  # 3.9 MB if a character were a byte
