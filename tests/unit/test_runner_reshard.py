"""Resharding under the local event source mapping: parents drained first, children start fresh."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from taxi_stream.core.records import ReadResult, ShardInfo, StreamRecord
from taxi_stream.runner.mapping import EventSourceMapping, MappingConfig
from taxi_stream.stores.sqlite import SQLiteStore
from tests.support.harness import START_MS, Clock, snapshot_of
from tests.support.recording import RecordingHandler, has_records, is_final


@dataclass
class ReshardedStream:
    """A stream after a split: a closed parent and two children, held in memory."""

    name: str = "resharded"
    shards: dict[str, list[StreamRecord]] = field(default_factory=dict)
    infos: list[ShardInfo] = field(default_factory=list)

    def add(self, info: ShardInfo, count: int, arrival_ms: int) -> None:
        """A shard holding ``count`` records that arrived at ``arrival_ms``."""
        first = 100 * (len(self.infos) + 1)
        records = [StreamRecord(str(first + i), arrival_ms, "k", b"{}") for i in range(count)]
        self.shards[info.shard_id] = records
        self.infos.append(info)

    def list_shards(self) -> list[ShardInfo]:
        """Every shard, the parent first."""
        return list(self.infos)

    def read(self, shard_id: str, after: str | None, limit: int) -> ReadResult:
        """Records after ``after``; a closed shard read to its end says so."""
        records = [
            r for r in self.shards[shard_id] if after is None or int(r.sequence_number) > int(after)
        ]
        closed = next(i.closed for i in self.infos if i.shard_id == shard_id)
        return ReadResult(records[:limit], 0, end_of_shard=closed and len(records) <= limit)


def test_children_start_fresh_windows_after_the_parent_window_closes(tmp_path: Path) -> None:
    """AWS: "When a shard ends, Lambda considers the current window to be closed, and any child
    shards will start their own window in a fresh state." """
    stream = ReshardedStream()
    stream.add(ShardInfo("shardId-000000000000", closed=True), 5, START_MS)
    for child in ("shardId-000000000001", "shardId-000000000002"):
        stream.add(ShardInfo(child, ("shardId-000000000000",)), 3, START_MS + 1_000)
    clock = Clock()
    handler = RecordingHandler()
    store = SQLiteStore(tmp_path / "store.db", clock=clock)
    config = MappingConfig(batch_size=2, window_seconds=900)
    mapping = EventSourceMapping(stream, handler, store, config, now_ms=clock)
    for _ in range(30):
        mapping.poll(drain=snapshot_of(mapping).checkpoint.ended)
    order = [(e["shardId"], "final" if is_final(e) else "records") for e in handler.events]
    parent_final = order.index(("shardId-000000000000", "final"))
    assert all(shard == "shardId-000000000000" for shard, _ in order[: parent_final + 1])
    assert handler.events[parent_final]["state"] == {"records": 5}
    children = [e for e in handler.events[parent_final + 1 :] if has_records(e)]
    assert {e["shardId"] for e in children} == {"shardId-000000000001", "shardId-000000000002"}
    firsts = {e["shardId"]: e for e in reversed(children)}
    assert all(e["state"] == {} for e in firsts.values())
    assert mapping.idle()
    assert [s.checkpoint.ended for s in mapping.snapshot()] == [True, False, False]
    store.close()
