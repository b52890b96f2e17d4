"""Reading a stream in tests: every record of a shard after a position, until a read is empty."""

from __future__ import annotations

from taxi_stream.core.records import StreamRecord
from taxi_stream.ports import StreamReader

MAX_READS = 1_000  # bound on the read loop: a shard that never runs dry fails the test


def read_shard(
    stream: StreamReader, shard_id: str, after: str | None = None, *, limit: int = 100
) -> list[StreamRecord]:
    """Every record of a shard after ``after``, ``limit`` at a time, until a read comes back
    empty; AssertionError after MAX_READS reads."""
    records: list[StreamRecord] = []
    for _ in range(MAX_READS):
        result = stream.read(shard_id, after, limit)
        if not result.records:
            return records
        records.extend(result.records)
        after = result.records[-1].sequence_number
    raise AssertionError(f"shard {shard_id} did not run dry in {MAX_READS} reads")
