"""Kinesis and Lambda limits: the documented numbers, and the partition-key rule of both streams."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from taxi_stream.core import limits
from taxi_stream.core.hashkey import hash_key, shard_for_key
from taxi_stream.core.limits import entry_problem, fit_key, key_units

TAXI = "\U0001f695"  # outside the Basic Multilingual Plane: two UTF-16 units


def test_kinesis_limits_are_the_documented_numbers() -> None:
    """A record is 1 MiB, a PutRecords call 500 records and 5 MiB, a partition key 256 units."""
    assert limits.MAX_RECORD_BYTES == 1024 * 1024
    assert (limits.MAX_BATCH_RECORDS, limits.MAX_BATCH_BYTES) == (500, 5 * 1024 * 1024)
    assert limits.MAX_KEY_UNITS == 256


def test_lambda_limits_are_the_documented_numbers() -> None:
    """A 6 MB (6,291,456-byte) payload, 1 MB of state, BatchSize 10,000, windows of 1..900 s."""
    assert (limits.MAX_PAYLOAD_BYTES, limits.MAX_STATE_BYTES) == (6_291_456, 1_048_576)
    assert limits.MAX_BATCH_SIZE == 10_000
    assert (limits.MIN_WINDOW_S, limits.MAX_WINDOW_S) == (1, 900)


@pytest.mark.parametrize(
    ("key", "units"),
    [("k", 1), ("a" * 256, 256), ("é" * 256, 256), (TAXI * 128, 256), (TAXI * 256, 512)],
)
def test_a_key_is_counted_in_utf16_units(key: str, units: int) -> None:
    """ASCII and other BMP characters count one unit each, an emoji two."""
    assert key_units(key) == units


@pytest.mark.parametrize(
    ("key", "data"),
    [
        ("a" * 256, b""),
        ("é" * 256, b""),  # 512 bytes, 256 characters
        (TAXI * 128, b""),
        ("k", b"x" * (1024 * 1024 - 1)),
    ],
)
def test_an_entry_within_the_limits_fits(key: str, data: bytes) -> None:
    """Keys of 1..256 UTF-16 units, records of data + key up to 1 MiB."""
    assert entry_problem(key, data) is None


@pytest.mark.parametrize(
    ("key", "data", "problem"),
    [
        ("", b"x", "bad_partition_key: must be 1..256 characters, got 0"),
        ("a" * 257, b"x", "bad_partition_key: must be 1..256 characters, got 257"),
        (TAXI * 256, b"x", "bad_partition_key: must be 1..256 characters, got 512"),
        ("\ud800", b"x", "bad_partition_key: not encodable as UTF-8 (a lone surrogate)"),
        ("kk", b"x" * (1024 * 1024 - 1), "too_large: 1048577 bytes (data + partition key)"),
        ("é", b"x" * (1024 * 1024 - 1), "too_large: 1048577 bytes (data + partition key)"),
    ],
)
def test_an_entry_kinesis_refuses_is_named_with_its_reason(
    key: str, data: bytes, problem: str
) -> None:
    """A key of no or too many units, or one UTF-8 cannot encode, or a record over 1 MiB."""
    assert (entry_problem(key, data) or "").startswith(problem)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("7", "7"),
        ("a" * 300, "a" * 256),
        (TAXI * 200, TAXI * 128),
        ("a" + TAXI * 200, "a" + TAXI * 127),  # a 128th emoji would make 257 units
    ],
)
def test_a_long_text_is_cut_to_a_key_of_whole_characters(text: str, key: str) -> None:
    """A text too long for a key keeps its longest start of at most 256 UTF-16 units."""
    assert fit_key(text) == key


@given(st.text(min_size=1, max_size=400))
def test_a_cut_key_is_the_longest_start_that_fits(text: str) -> None:
    """The cut is a start of the text within 256 units; one more character would not fit."""
    key = fit_key(text)
    assert text.startswith(key)
    assert 1 <= len(key.encode("utf-16-le", "surrogatepass")) // 2 <= 256
    rest = text[len(key) :]
    assert not rest or len((key + rest[0]).encode("utf-16-le", "surrogatepass")) // 2 > 256


def test_the_hash_key_is_the_md5_of_the_key_read_big_endian() -> None:
    """Known MD5 digests: "" is d41d8cd9..., "a" is 0cc175b9... (RFC 1321's test suite)."""
    assert hash_key("") == 0xD41D8CD98F00B204E9800998ECF8427E
    assert hash_key("a") == 0x0CC175B9C0F1B6A831C399E269772661


def test_a_key_goes_to_the_shard_whose_even_slice_holds_its_hash_key() -> None:
    """Of 4 shards, d41d... (in the top quarter) is shard 3 and 0cc1... (the bottom) shard 0."""
    assert shard_for_key("", 4) == 3
    assert shard_for_key("a", 4) == 0
    assert shard_for_key("", 1) == shard_for_key("a", 1) == 0
