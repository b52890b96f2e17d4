"""Where one shard stands: its checkpoint, open window, read-ahead, batch in flight, failures."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from taxi_stream.core.records import StreamRecord
from taxi_stream.runner.checkpoint import Checkpoint


@dataclass(slots=True)
class Pending:
    """A batch being tried: its records, the retries it has had, how often it was invoked."""

    records: list[StreamRecord]
    retries: int = 0
    invokes: int = 0
    unhandled: bool = True  # the last failure raised or timed out (not a response that failed)
    discard: str | None = None  # why it is being discarded, once its retries are spent


@dataclass(slots=True)
class ShardCursor:
    """Where one shard stands: position, open window, its state, records read ahead."""

    shard_id: str
    position: str | None = None  # the checkpoint: the last sequence number processed
    window_start_ms: int | None = None
    state: dict[str, Any] = field(default_factory=dict)
    buffer: list[StreamRecord] = field(default_factory=list)  # read ahead, in no batch yet
    behind_ms: int = 0  # how far the last read was behind the tip (MillisBehindLatest)
    invocations: int = 0
    records: int = 0
    failures: int = 0
    consecutive_failures: int = 0
    retry_at_ms: int = 0
    last_error: str | None = None  # kept after recovery, for the live view
    parents: tuple[str, ...] = ()
    read_after: str | None = None  # the last sequence number read (skipped records included)
    start_ms: int | None = None  # LATEST / AT_TIMESTAMP: records that arrived earlier are skipped
    at_end: bool = False  # the stream said this closed shard has no more records
    caught_up: bool = False  # the last read found nothing new
    ended: bool = False  # closed, read to its end, its window closed: children may start
    inflight: Pending | None = None
    queue: deque[Pending] = field(default_factory=deque)  # the other halves of bisected batches
    terminate_early: bool = False  # the state outgrew 1 MB: an early-termination invoke is due
    stuck: bool = False  # a failing window-closing invoke suspends the shard until it succeeds
    failing_since_ms: int | None = None
    gather_since_ms: int = 0  # the batching window began here (the last invocation's end)
    iterator_age_ms: int = 0  # age of the last record of the last batch when it was processed
    timeouts: int = 0
    discarded_batches: int = 0
    discarded_records: int = 0
    sent_to: str | None = None  # where discarded batches' records went

    @property
    def busy(self) -> bool:
        """True while records are read ahead, a batch is pending or a window is open."""
        return bool(
            self.buffer
            or self.inflight
            or self.queue
            or self.window_start_ms is not None
            or self.terminate_early
        )

    @property
    def retries(self) -> int:
        """Retries of the batch in flight."""
        return self.inflight.retries if self.inflight else 0

    def resume(self, saved: Checkpoint | None) -> None:
        """Take up a saved checkpoint (position, open window and its state, end, start)."""
        if saved is None:
            return
        self.position = self.read_after = saved.sequence_number
        extra = saved.state or {}
        window = extra.get("window")
        self.window_start_ms = None if window is None else int(window)
        self.state = extra.get("state") or {}
        self.ended = bool(extra.get("ended"))
        start = extra.get("startMs")
        self.start_ms = None if start is None or self.position is not None else int(start)

    def checkpoint(
        self, position: str | None, window: int | None, state: dict[str, Any]
    ) -> Checkpoint:
        """The durable form of this cursor at ``position`` with ``window`` and its ``state``."""
        extra: dict[str, Any] = {}
        if window is not None:
            extra["window"] = window
            extra["state"] = state
        if self.ended:
            extra["ended"] = True
        if self.start_ms is not None and position is None:
            extra["startMs"] = self.start_ms
        return Checkpoint(position, extra or None)

    def current(self) -> Checkpoint:
        """The durable form of this cursor as it stands."""
        return self.checkpoint(self.position, self.window_start_ms, self.state)

    def next_pending(self) -> None:
        """Move on to the next bisected half, if any, else to fresh records."""
        self.inflight = self.queue.popleft() if self.queue else None

    def succeeded(self, now_ms: int) -> None:
        """Forget the failure streak after a successful invocation."""
        self.consecutive_failures = 0
        self.failing_since_ms = None
        self.stuck = False
        self.retry_at_ms = 0
        self.gather_since_ms = now_ms
