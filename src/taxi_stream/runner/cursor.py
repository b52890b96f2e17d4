"""Where one shard stands: its checkpoint, read-ahead, retry state, statistics, and a snapshot."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any

import msgspec

from taxi_stream.core.recordbatch import RecordBatch
from taxi_stream.runner.checkpoint import Checkpoint


@dataclass(slots=True)
class Pending:
    """A batch being tried: its records, the retries it has had, how often it was invoked."""

    records: RecordBatch
    retries: int = 0
    invokes: int = 0
    unhandled: bool = True  # the last failure raised or timed out (not a response that failed)
    discard: str | None = None  # why it is being discarded, once its retries are spent


@dataclass(slots=True)
class RetryState:
    """The batch in flight, the other halves of bisected batches, and the failure streak."""

    inflight: Pending | None = None
    queue: deque[Pending] = field(default_factory=deque)
    consecutive_failures: int = 0
    retry_at_ms: int = 0  # the shard is not tried again before this
    failing_since_ms: int | None = None
    stuck: bool = False  # a failing window-closing invoke suspends the shard until it succeeds

    @property
    def pending(self) -> bool:
        """True while a batch is in flight or waiting."""
        return bool(self.inflight or self.queue)

    def next_pending(self) -> None:
        """Move on to the next bisected half, if any, else to fresh records."""
        self.inflight = self.queue.popleft() if self.queue else None

    def succeeded(self) -> None:
        """Forget the failure streak."""
        self.consecutive_failures = 0
        self.failing_since_ms = None
        self.stuck = False
        self.retry_at_ms = 0


@dataclass(frozen=True, slots=True)
class ShardStats:
    """What views and metrics read about a shard: counts, lag, the last error."""

    invocations: int = 0
    records: int = 0  # processed by the function (not failed by it)
    failures: int = 0  # failed attempts: the function's errors and the services' alike
    function_errors: int = 0  # invocations that raised, timed out or returned no valid response
    retries: int = 0  # failed attempts tried again (a bisected batch's halves included)
    timeouts: int = 0
    discarded_batches: int = 0
    discarded_records: int = 0
    expired_records: int = 0  # trimmed by the stream's retention before they were read
    behind_ms: int = 0  # how far the last read was behind the tip (MillisBehindLatest)
    iterator_age_ms: int = 0  # age of the last record of the last batch when it was processed
    last_error: str | None = None  # kept after recovery, for the live view
    sent_to: str | None = None  # where discarded batches' records went

    def function_failed(self, *, timed_out: bool) -> ShardStats:
        """These statistics with one more function error (and timeout, if it timed out)."""
        return replace(
            self, function_errors=self.function_errors + 1, timeouts=self.timeouts + timed_out
        )


@dataclass(frozen=True, slots=True)
class ShardSnapshot:
    """One shard as it stands, read-only: what ``EventSourceMapping.snapshot()`` returns."""

    shard_id: str
    checkpoint: Checkpoint  # the position, open window and state last committed
    stats: ShardStats
    ready: bool  # every parent is read to its end (or gone): the shard may be read
    reading: bool  # records are left to read or deliver
    busy: bool  # reading, or a window is open
    stuck: bool
    consecutive_failures: int
    retries: int | None  # retries of the batch in flight (None: no batch in flight)
    retry_at_ms: int  # the shard is not tried again before this


@dataclass(slots=True)
class ShardCursor:
    """Where one shard stands: its durable checkpoint, read-ahead, retry state and statistics.

    ``checkpoint`` changes only once a new one is committed, so it is always what a restart
    would resume from; the read-ahead and the retry state live in memory only.
    """

    shard_id: str
    parents: tuple[str, ...] = ()
    checkpoint: Checkpoint = field(default_factory=Checkpoint)
    retry: RetryState = field(default_factory=RetryState)
    stats: ShardStats = field(default_factory=ShardStats)
    buffer: RecordBatch = field(default_factory=RecordBatch)  # read ahead, in no batch yet
    read_after: str | None = None  # the last sequence number read (skipped records included)
    at_end: bool = False  # the stream said this closed shard has no more records
    caught_up: bool = False  # the last read found nothing new
    gather_since_ms: int = 0  # the batching window began here (the last invocation's end)
    terminate_early: bool = False  # the state outgrew 1 MB: an early-termination invoke is due

    @property
    def busy(self) -> bool:
        """True while records are read ahead, a batch is pending or a window is open."""
        return bool(
            self.buffer
            or self.retry.pending
            or self.checkpoint.window_start_ms is not None
            or self.terminate_early
        )

    def event_state(self) -> dict[str, Any]:
        """The window state for the next invocation: a copy, as Lambda deserialises it per call.

        A handler that changes the state it was given in place changes no checkpoint, so a
        retry after it failed gets the state of the last successful invocation.
        """
        state: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(self.checkpoint.state))
        return state

    def resume(self, saved: Checkpoint) -> None:
        """Take up a saved checkpoint: read on after its position."""
        self.checkpoint = saved
        self.read_after = saved.position

    def snapshot(self, *, ready: bool) -> ShardSnapshot:
        """This shard as it stands now; ``ready``: its parents are done."""
        retry = self.retry
        return ShardSnapshot(
            shard_id=self.shard_id,
            checkpoint=self.checkpoint,
            stats=self.stats,
            ready=ready,
            reading=not self.caught_up or bool(self.buffer) or retry.pending,
            busy=self.busy,
            stuck=retry.stuck,
            consecutive_failures=retry.consecutive_failures,
            retries=retry.inflight.retries if retry.inflight else None,
            retry_at_ms=retry.retry_at_ms,
        )
