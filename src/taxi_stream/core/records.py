"""What flows between the stages: stream records, window contributions, dead letters, windows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from taxi_stream.core.totals import Totals
from taxi_stream.core.windows import WindowClock


class StreamRecord(NamedTuple):
    """One record as a stream delivers it (Kinesis GetRecords or the embedded log).

    A named tuple rather than a dataclass, on the hot path: a read builds one per record, and
    the embedded stream builds a whole batch of them in C (``tuple.__new__`` over columns), at
    a fraction of a frozen dataclass's ``__init__``. Immutable and slotted like the rest.
    """

    sequence_number: str  # decimal digits, increasing within a shard
    arrival_ms: int  # ApproximateArrivalTimestamp, epoch ms
    partition_key: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a record came from; identifies it uniquely within a stream."""

    stream: str
    shard_id: str
    sequence_number: str
    sub_sequence: int | None = None  # position inside a KPL aggregate
    arrival_ms: int | None = None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A record that could not be understood, with the reason and its raw bytes."""

    origin: Origin
    reason: str
    message: str
    raw: bytes

    @property
    def letter_id(self) -> str:
        """Deterministic id: the same record dead-lettered twice is stored once."""
        o = self.origin
        sub = "" if o.sub_sequence is None else f"#{o.sub_sequence}"
        return f"{o.stream}|{o.shard_id}|{o.sequence_number}{sub}"


@dataclass(frozen=True, slots=True)
class Contribution:
    """One part's totals for one (vendor, window), applied to a store at most once.

    ``contribution_id`` is derived from where the records came from (stream, shard, window and
    the part's sequence numbers, see ``contribution_id``), so a redelivered part carries the
    same id.
    """

    contribution_id: str
    vendor_id: str
    window_start_ms: int
    window_end_ms: int
    totals: Totals
    clock: WindowClock


@dataclass(frozen=True, slots=True)
class WindowTotals:
    """The stored totals of one (vendor, window), as the read side sees them."""

    vendor_id: str
    window_start_ms: int
    window_end_ms: int
    totals: Totals
    contributions: int
    clock: WindowClock
    updated_ms: int


def contribution_id(stream: str, shard_id: str, window_start_ms: int, sequences: str) -> str:
    """The id of a part's contribution to a window (same inputs, same id).

    ``sequences`` names the part by its records: the first sequence number of a window's part,
    or ``first..last`` for an invocation without tumbling windows (which is its own part).
    """
    return f"{stream}|{shard_id}|{window_start_ms}|{sequences}"


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
    """One read from a shard: records, lag behind the tip, end of shard, records lost to trims."""

    records: Sequence[StreamRecord]  # a list, or the embedded stream's columns (RecordBatch)
    behind_ms: int | None = None
    end_of_shard: bool = False  # a closed shard read to its end
    expired: int = 0  # records after the read's position that retention trimmed before this read
