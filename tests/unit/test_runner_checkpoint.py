"""The runner owns its checkpoint: any checkpoint store, one unit of work, snapshots for views."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from taxi_stream.core.errors import StoreError
from taxi_stream.core.records import ReadResult, ShardInfo
from taxi_stream.runner.checkpoint import Checkpoint
from taxi_stream.runner.mapping import EventSourceMapping, Handler, InProcess, MappingConfig
from taxi_stream.stores.memory import MemoryCheckpointStore, MemoryUnitOfWork
from tests.support.harness import START_MS, Clock, snapshot_of
from tests.support.kinesis_like import KinesisLikeStream
from tests.support.recording import RecordingHandler, sequences

CONSUMER, SHARD = "taxi-stream", "shardId-000000000000"


def one_shard(count: int, *, closed: bool = False) -> tuple[KinesisLikeStream, list[str]]:
    """A stream of one shard holding ``count`` records that arrived at START_MS."""
    stream = KinesisLikeStream()
    shard = stream.add_shard(0, closed=closed)
    return stream, stream.put(shard, [b"{}"] * count, START_MS)


def mapping_over(
    stream: Any,
    handler: Handler | InProcess[MemoryUnitOfWork],
    store: MemoryCheckpointStore,
    clock: Clock | None = None,
) -> EventSourceMapping:
    """A mapping with 60 s windows and batches of 2 over ``stream`` (a clock at START_MS)."""
    config = MappingConfig(batch_size=2, window_seconds=60)
    return EventSourceMapping(stream, handler, store, config, now_ms=clock or Clock())


def test_a_restart_on_the_memory_store_resumes_with_the_window_state() -> None:
    """Any checkpoint store will do: a new mapping on the memory store resumes where one stopped."""
    stream, seqs = one_shard(5)
    store, first = MemoryCheckpointStore(), RecordingHandler()
    mapping_over(stream, first, store).poll()
    assert store.load_checkpoint(CONSUMER, stream.name, SHARD) == Checkpoint(
        seqs[1], START_MS, {"records": 2}
    )
    again = RecordingHandler()
    mapping_over(stream, again, store).poll()
    (event,) = again.events
    assert (sequences(event), event["state"]) == (seqs[2:4], {"records": 2})


class Writing:
    """An in-process handler: writes through the unit of work it is bound to, fails on command."""

    def __init__(self) -> None:
        self.fail = True
        self.bound: list[MemoryUnitOfWork] = []

    def bind(self, work: MemoryUnitOfWork) -> Handler:
        """The handler for one invocation, writing a checkpoint of its own through ``work``."""
        self.bound.append(work)

        def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
            work.save_checkpoint("written-by-the-handler", "input-stream", SHARD, Checkpoint("0"))
            if self.fail:
                raise RuntimeError("the function failed")
            return {"state": {"seen": len(event["Records"])}}

        return handle


def test_an_in_process_handler_writes_through_the_unit_it_is_handed() -> None:
    """The handler's writes roll back with a failed invocation and commit with its checkpoint."""
    stream, seqs = one_shard(2)
    store, writing, clock = MemoryCheckpointStore(), Writing(), Clock()
    mapping = mapping_over(stream, InProcess(writing.bind), store, clock)
    mapping.poll()
    assert store.load_checkpoint("written-by-the-handler", stream.name, SHARD) is None
    assert store.load_checkpoint(CONSUMER, stream.name, SHARD) is None
    writing.fail = False
    clock.ms = snapshot_of(mapping).retry_at_ms
    mapping.poll()
    assert store.load_checkpoint("written-by-the-handler", stream.name, SHARD) == Checkpoint("0")
    assert store.load_checkpoint(CONSUMER, stream.name, SHARD) == Checkpoint(
        seqs[1], START_MS, {"seen": 2}
    )
    first, second = writing.bound
    assert first is not second


class ReaderWithABug:
    """A stream reader whose read has a programming error (not a stream failure)."""

    name = "input-stream"

    def list_shards(self) -> list[ShardInfo]:
        """One open shard."""
        return [ShardInfo(SHARD)]

    def read(self, shard_id: str, after: str | None, limit: int) -> ReadResult:
        """Fail as a bug does."""
        raise TypeError("unsupported operand type(s) for +: 'int' and 'NoneType'")


def test_a_programming_error_in_a_shard_step_is_raised_not_retried() -> None:
    """Only stream, store and destination errors are retried: a bug stops poll at once."""
    mapping = mapping_over(ReaderWithABug(), RecordingHandler(), MemoryCheckpointStore())
    with pytest.raises(TypeError, match="unsupported operand"):
        mapping.poll()
    assert snapshot_of(mapping).stats.failures == 0


class FailingEnd(MemoryCheckpointStore):
    """A memory checkpoint store that cannot save a shard's end the first time."""

    def __init__(self) -> None:
        super().__init__()
        self.refused = 0

    def save_checkpoint(
        self, consumer: str, stream: str, shard_id: str, checkpoint: Checkpoint
    ) -> None:
        """Refuse the first checkpoint that ends a shard."""
        if checkpoint.ended and not self.refused:
            self.refused += 1
            raise StoreError("the disk is full")
        super().save_checkpoint(consumer, stream, shard_id, checkpoint)


def test_a_shard_ends_only_once_its_end_is_saved() -> None:
    """A closed shard whose end could not be saved is not ended: the end is saved on a retry."""
    stream, _ = one_shard(2, closed=True)
    store, clock = FailingEnd(), Clock()
    mapping = mapping_over(stream, RecordingHandler(), store, clock)
    for _ in range(10):
        mapping.poll(drain=True)
        clock.advance(1_000)
        if snapshot_of(mapping).checkpoint.ended:
            break
    saved = store.load_checkpoint(CONSUMER, stream.name, SHARD)
    assert store.refused == 1
    assert snapshot_of(mapping).stats.last_error == "StoreError: the disk is full"
    assert saved == dataclasses.replace(snapshot_of(mapping).checkpoint, ended=True)
    assert snapshot_of(mapping).checkpoint.ended


def test_a_snapshot_is_read_only_and_stays_as_it_was_taken() -> None:
    """Views read a frozen snapshot: it cannot be changed, and later polls do not move it."""
    stream, seqs = one_shard(4)
    mapping = mapping_over(stream, RecordingHandler(), MemoryCheckpointStore())
    mapping.poll()
    before = snapshot_of(mapping)
    mapping.poll()
    assert before.checkpoint.position == seqs[1]
    assert before.stats.records == 2
    assert snapshot_of(mapping).checkpoint.position == seqs[3]
    assert snapshot_of(mapping).stats.records == 4
    with pytest.raises(dataclasses.FrozenInstanceError):
        before.stats = dataclasses.replace(before.stats, records=0)  # type: ignore[misc]


class InPlace:
    """A handler that counts records into the state it was given, in place, failing once."""

    def __init__(self) -> None:
        self.seen: list[int] = []
        self.fail_second = True

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        """Add the batch's records to ``event["state"]`` itself; fail the second call once."""
        state = event["state"]
        state["records"] = state.get("records", 0) + len(event["Records"])
        self.seen.append(state["records"])
        if len(self.seen) == 2 and self.fail_second:
            raise RuntimeError("the function failed after changing its state")
        return {"state": state}


def test_a_handler_changing_its_state_in_place_changes_no_checkpoint() -> None:
    """Each invocation gets its own copy of the state, as Lambda's is deserialised per call."""
    stream, seqs = one_shard(4)
    clock, handler = Clock(), InPlace()
    mapping = mapping_over(stream, handler, MemoryCheckpointStore(), clock)
    mapping.poll()
    mapping.poll()
    assert snapshot_of(mapping).checkpoint.state == {"records": 2}
    clock.ms = snapshot_of(mapping).retry_at_ms
    mapping.poll()
    assert handler.seen == [2, 4, 4]
    assert snapshot_of(mapping).checkpoint == Checkpoint(seqs[3], START_MS, {"records": 4})
