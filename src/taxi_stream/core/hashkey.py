"""Kinesis's shard rule: a partition key's 128-bit hash key (MD5), and the shard holding it."""

from __future__ import annotations

import hashlib
from typing import Final

HASH_KEY_BITS: Final = 128  # hash keys run over 0 .. 2**128 - 1


def hash_key(partition_key: str) -> int:
    """The 128-bit hash key of a partition key: MD5 of its UTF-8 bytes, read big-endian."""
    return int.from_bytes(hashlib.md5(partition_key.encode()).digest(), "big")  # noqa: S324


def shard_for_key(partition_key: str, shard_count: int) -> int:
    """The index of the shard whose even slice of the hash-key range holds the key's hash key."""
    return (hash_key(partition_key) * shard_count) >> HASH_KEY_BITS
