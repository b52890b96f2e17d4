"""Where records travel: the interfaces every stream implements (embedded log, Kinesis)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from taxi_stream.core.records import StreamRecord


@dataclass(frozen=True, slots=True)
class PutResult:
    """What a producer call achieved; ``failed`` holds (index, reason) of entries not accepted.

    ``records`` is how many stream records were put: fewer than ``sent`` when KPL aggregates
    carry many entries each (None: one record per entry sent).
    """

    sent: int
    retried: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)
    records: int | None = None


@dataclass(frozen=True, slots=True)
class ShardInfo:
    """A shard and its lineage (closed parents are read to their end before their children)."""

    shard_id: str
    parent_shard_ids: tuple[str, ...] = ()
    closed: bool = False


@dataclass(frozen=True, slots=True)
class ReadResult:
    """One read from a shard: records, how far behind the tip, and whether the shard is done."""

    records: list[StreamRecord]
    behind_ms: int | None = None
    end_of_shard: bool = False  # a closed shard read to its end


class StreamWriter(Protocol):
    """The producer side."""

    def put_records(self, entries: Sequence[tuple[str, bytes]]) -> PutResult:
        """Append (partition key, data) entries; never report success for one not accepted."""
        ...


class StreamReader(Protocol):
    """The consumer side, shard by shard, from a checkpoint."""

    @property
    def name(self) -> str:
        """The stream's name (used in origins and contribution ids)."""
        ...

    def list_shards(self) -> list[ShardInfo]:
        """Every shard, open and closed, with parents."""
        ...

    def read(self, shard_id: str, after: str | None, limit: int) -> ReadResult:
        """Up to ``limit`` records after sequence number ``after`` (None: from the start)."""
        ...
