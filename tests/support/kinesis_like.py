"""An in-memory stream that looks like Kinesis: `shardId-…` ids, lineage, 56-digit sequences."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from taxi_stream.core.records import ReadResult, ShardInfo, StreamRecord

# A real Kinesis sequence number, and a step that changes its middle and last digits alike.
FIRST_SEQUENCE: Final = 49546986683135544286507457936321625675700192471156785154
SEQUENCE_STEP: Final = 2_728_119_420_315_915_754_854_733_440
SEQUENCE_DIGITS: Final = 56


def shard_id(index: int) -> str:
    """The Kinesis id of the shard with this index."""
    return f"shardId-{index:012d}"


@dataclass
class KinesisLikeStream:
    """Shards held in memory; records get Kinesis-long sequence numbers, increasing per shard."""

    name: str = "input-stream"
    records: dict[str, list[StreamRecord]] = field(default_factory=dict)
    infos: list[ShardInfo] = field(default_factory=list)

    def add_shard(self, index: int, *, parents: tuple[int, ...] = (), closed: bool = False) -> str:
        """A shard (a child of ``parents``, closed or open); returns its id."""
        sid = shard_id(index)
        self.infos.append(ShardInfo(sid, tuple(map(shard_id, parents)), closed))
        self.records[sid] = []
        return sid

    def put(self, sid: str, data: list[bytes], arrival_ms: int) -> list[str]:
        """Append records to a shard; returns their sequence numbers."""
        shard = self.records[sid]
        position = [info.shard_id for info in self.infos].index(sid)
        index = position * 1_000_003 + len(shard)
        out = []
        for i, item in enumerate(data):
            sequence = str(FIRST_SEQUENCE + (index + i) * SEQUENCE_STEP)
            assert len(sequence) == SEQUENCE_DIGITS
            shard.append(StreamRecord(sequence, arrival_ms, f"key-{i}", item))
            out.append(sequence)
        return out

    def list_shards(self) -> list[ShardInfo]:
        """Every shard, parents first."""
        return list(self.infos)

    def read(self, shard_id: str, after: str | None, limit: int) -> ReadResult:
        """Records after ``after``; a closed shard read to its end says so."""
        rest = [
            r
            for r in self.records[shard_id]
            if after is None or int(r.sequence_number) > int(after)
        ]
        closed = next(i.closed for i in self.infos if i.shard_id == shard_id)
        return ReadResult(rest[:limit], 0, end_of_shard=closed and len(rest) <= limit)
