"""The embedded stream's write side: a put's records by shard, cut into encoded batch rows."""

from __future__ import annotations

from taxi_stream.core.hashkey import shards_for_keys
from taxi_stream.streams import batches

Row = tuple[int, int, tuple[int, int, bytes]]
"""(shard, record count, (codec, body length, stored bytes)) of one batch row to insert."""


def encoded_rows(keys: list[str], payloads: list[bytes], shard_count: int) -> list[Row]:
    """The batch rows of a put of accepted records: shard by shard, each within 4 MiB."""
    return [
        (shard, len(run[0]), batches.encode(*run))
        for shard, (shard_keys, shard_payloads) in by_shard(keys, payloads, shard_count).items()
        for run in batches.split(shard_keys, shard_payloads)
    ]


def by_shard(
    keys: list[str], payloads: list[bytes], shard_count: int
) -> dict[int, tuple[list[str], list[bytes]]]:
    """The keys and payloads by shard (MD5 of the key, as in Kinesis), each in put order."""
    if shard_count == 1 or not keys:
        return {0: (keys, payloads)} if keys else {}
    lists: list[tuple[list[str], list[bytes]]] = [([], []) for _ in range(shard_count)]
    add_key = [shard_keys.append for shard_keys, _ in lists]
    add_payload = [shard_payloads.append for _, shard_payloads in lists]
    shards = shards_for_keys(keys, shard_count)
    for shard, key, data in zip(shards, keys, payloads, strict=True):
        add_key[shard](key)
        add_payload[shard](data)
    return {shard: run for shard, run in enumerate(lists) if run[0]}
