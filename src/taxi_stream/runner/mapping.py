"""The local Kinesis event source mapping: read shards, build Lambda events, invoke, checkpoint."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Final

from taxi_stream.core.errors import (
    ConfigError,
    DestinationError,
    StoreError,
    StreamError,
)
from taxi_stream.core.limits import MAX_STATE_BYTES
from taxi_stream.core.recordbatch import RecordBatch
from taxi_stream.core.records import ShardInfo
from taxi_stream.function.contract import KinesisEvent
from taxi_stream.ports import CheckpointStore, FailureDestination, StreamReader, UnitOfWork
from taxi_stream.runner.batching import Batcher
from taxi_stream.runner.checkpoint import Checkpoint
from taxi_stream.runner.config import MappingConfig
from taxi_stream.runner.cursor import Pending, ShardCursor, ShardSnapshot
from taxi_stream.runner.destinations import RECORD_AGE_EXCEEDED
from taxi_stream.runner.events import closing_event, shard_event, stream_arn
from taxi_stream.runner.failures import MAX_BACKOFF_MS, FailurePolicy
from taxi_stream.runner.invoke import (
    DEFAULT_FUNCTION,
    Attempt,
    Handler,
    LocalContext,
    Response,
    Worker,
    function_arn,
    state_bytes,
)
from taxi_stream.runner.work import InProcess, W, invocations

__all__ = [
    "MAX_BACKOFF_MS",
    "EventSourceMapping",
    "Handler",
    "InProcess",
    "LocalContext",
    "MappingConfig",
    "ShardSnapshot",
]

log = logging.getLogger(__name__)

LIST_SHARDS_EVERY_MS: Final = 5_000  # how often new (child) shards are looked for
RETRIED: Final = (StreamError, StoreError, DestinationError)  # not the function's: retried


class EventSourceMapping:
    """Lambda's Kinesis event source mapping with tumbling windows, on one machine.

    Per shard, as Lambda does with TumblingWindowInSeconds: records are grouped into windows by
    their arrival time (aligned to the epoch); an invocation carries records of one window only,
    with the ``state`` the previous invocation of that window returned; when a record of a later
    window arrives (or the window is idle past its end, the shard ends, or the runner drains)
    the window gets a final invoke with ``isFinalInvokeForWindow`` and no records. Each
    invocation runs in a unit of work on the checkpoint store: a successful one saves its
    position and window state through it, and an InProcess handler, bound to it, writes through
    it too, so both commit together (or roll back together when the function fails). Any other
    handler is called as it is, and the checkpoint commits alone.

    Failures follow the AWS documentation: a failed batch is retried (MaximumRetryAttempts,
    MaximumRecordAgeInSeconds), split in two first when BisectBatchOnFunctionError is on, and
    its metadata sent to the on-failure destination when it is discarded; a partial batch
    response checkpoints before its lowest failed record; a failing final invoke suspends the
    shard until it succeeds. Closed shards are read to their end before their children start.
    """

    def __init__(
        self,
        reader: StreamReader,
        handler: Handler | InProcess[W],
        checkpoints: CheckpointStore[W],
        config: MappingConfig | None = None,
        *,
        now_ms: Callable[[], int],
        destination: FailureDestination | None = None,
        function_name: str = DEFAULT_FUNCTION,
    ) -> None:
        self._reader = reader
        self._invocation = invocations(checkpoints, handler)
        self._worker = Worker()  # the thread every invocation of this mapping runs on
        self._record_view = isinstance(handler, InProcess) and handler.record_view
        self._checkpoints: CheckpointStore[UnitOfWork] = checkpoints
        self._config = config = config or MappingConfig()
        self._now_ms = now_ms
        self._function_name = function_name
        self._arn = stream_arn(reader.name)
        self._batcher = Batcher(reader, config, now_ms)
        self._failures = FailurePolicy(
            config,
            now_ms,
            self._save,
            destination=destination,
            stream_arn=self._arn,
            function_arn=function_arn(function_name),
        )
        self._start_ms = self._starting_point()
        self._listed_ms = now_ms()
        self._cursors: list[ShardCursor] = []
        self._list_shards()

    @property
    def window_seconds(self) -> int:
        """TumblingWindowInSeconds of this mapping (0: off)."""
        return self._config.window_seconds

    @property
    def config(self) -> MappingConfig:
        """The mapping's settings."""
        return self._config

    @property
    def destination(self) -> FailureDestination | None:
        """Where discarded batches' metadata goes."""
        return self._failures.destination

    @property
    def discarded(self) -> int:
        """Records discarded so far (retries exhausted or too old), over every shard."""
        return sum(cursor.stats.discarded_records for cursor in self._cursors)

    def snapshot(self) -> list[ShardSnapshot]:
        """Every shard as it stands, in the order they were found: read-only, for views."""
        return [cursor.snapshot(ready=self._ready(cursor)) for cursor in self._cursors]

    def _starting_point(self) -> int | None:
        """Arrival time before which records are skipped on shards without a checkpoint."""
        position = self._config.starting_position
        if position == "LATEST":
            return self._now_ms()
        stamp = self._config.starting_position_timestamp_ms
        if position == "AT_TIMESTAMP" and stamp is not None:
            if stamp > self._now_ms():
                raise ConfigError("StartingPositionTimestamp cannot be in the future")
            return stamp
        return None

    def _list_shards(self) -> None:
        known = {cursor.shard_id for cursor in self._cursors}
        for info in self._reader.list_shards():
            if info.shard_id not in known:
                self._cursors.append(self._resume(info))
        self._by_id = {cursor.shard_id: cursor for cursor in self._cursors}
        self._listed_ms = self._now_ms()

    def _resume(self, info: ShardInfo) -> ShardCursor:
        cursor = ShardCursor(info.shard_id, parents=info.parent_shard_ids)
        cursor.gather_since_ms = self._now_ms()
        saved = self._checkpoints.load_checkpoint(
            self._config.consumer, self._reader.name, info.shard_id
        )
        if saved is not None:
            cursor.resume(saved)
        elif self._start_ms is not None:  # a restart keeps the same starting point
            self._save(cursor, Checkpoint(start_ms=self._start_ms))
        if cursor.checkpoint.window_start_ms is not None:
            cursor.terminate_early = state_bytes(cursor.checkpoint.state) > MAX_STATE_BYTES
        return cursor

    # -- the loop ---------------------------------------------------------------------------

    def poll(self, *, drain: bool = False) -> int:
        """One round over every shard; return how many records the function processed.

        Records the function failed are not counted, nor those discarded (see ``discarded``).
        A failing stream, store or destination (StreamError, StoreError, DestinationError)
        makes its shard retry after a backoff. Anything else is raised: a damaged SQLite file
        (DamagedDatabaseError), since no retry can mend it, and a bug, which retrying would hide.
        """
        if self._now_ms() - self._listed_ms >= LIST_SHARDS_EVERY_MS:
            self._list_shards()
        delivered = 0
        for cursor in list(self._cursors):
            if (
                cursor.checkpoint.ended
                or cursor.retry.retry_at_ms > self._now_ms()
                or not self._ready(cursor)
            ):
                continue
            try:
                delivered += self._step(cursor, drain=drain)
            except RETRIED as exc:
                self._service_failed(cursor, exc)
        return delivered

    def _ready(self, cursor: ShardCursor) -> bool:
        """True when every parent of the shard is read to its end (or gone from the stream)."""
        parents = (self._by_id.get(parent) for parent in cursor.parents)
        return all(parent is None or parent.checkpoint.ended for parent in parents)

    def idle(self) -> bool:
        """True when every shard is consumed and no window is open."""
        return all(cursor.checkpoint.ended or self._settled(cursor) for cursor in self._cursors)

    def _settled(self, cursor: ShardCursor) -> bool:
        return cursor.caught_up and not cursor.busy

    def blocked_ms(self) -> int:
        """How long all the work left has been failing (0 while any of it makes progress)."""
        left = [
            c
            for c in self._cursors
            if not c.checkpoint.ended and not self._settled(c) and self._ready(c)
        ]
        if not left or any(c.retry.failing_since_ms is None for c in left):
            return 0
        return min(self._now_ms() - (c.retry.failing_since_ms or 0) for c in left)

    def _step(self, cursor: ShardCursor, *, drain: bool) -> int:
        if cursor.terminate_early:
            self._close_window(cursor, early=True)
            return 0
        if cursor.retry.inflight is None:
            self._batcher.read_ahead(cursor)
            batch = self._batcher.take(cursor, drain=drain)
            if batch is None:
                self._no_batch(cursor, drain=drain)
                return 0
            cursor.retry.inflight = Pending(batch)
        return self._deliver(cursor, cursor.retry.inflight)

    def _no_batch(self, cursor: ShardCursor, *, drain: bool) -> None:
        window = cursor.checkpoint.window_start_ms
        if window is not None and self._batcher.window_due(cursor, drain=drain):
            self._close_window(cursor, early=False)
        elif cursor.at_end and not cursor.busy:
            self._end(cursor)

    def _end(self, cursor: ShardCursor) -> None:
        """A closed shard is read to its end and its window is closed: children may start."""
        self._save(cursor, replace(cursor.checkpoint, ended=True))
        log.info("shard %s ended; its child shards may start", cursor.shard_id)
        self._list_shards()

    # -- invocations ------------------------------------------------------------------------

    def _deliver(self, cursor: ShardCursor, pending: Pending) -> int:
        if pending.discard is not None:  # the destination failed last time: try it again
            self._failures.discard(cursor, pending, pending.records, pending.discard)
            cursor.retry.next_pending()
            return 0
        expired = self._failures.expired(pending.records)
        if expired:
            self._failures.discard(cursor, pending, pending.records[:expired], RECORD_AGE_EXCEEDED)
            pending.records = pending.records[expired:]
            if not pending.records:
                cursor.retry.next_pending()
                return 0
        records = pending.records
        window = self._batcher.window_of(cursor, records[0]) if self._config.windowed else None
        pending.invokes += 1
        sequences = records.sequence_numbers()  # formatted only to match batchItemFailures

        def settle(response: Response) -> Checkpoint:
            done = records[: response.failed_from]
            saved = cursor.checkpoint
            position = done[-1].sequence_number if done else saved.position
            if window is None:
                return replace(saved, position=position)
            return replace(saved, position=position, window_start_ms=window, state=response.state)

        event = self._event(cursor, records, window)
        response, attempt = self._invoke(cursor, event, sequences, settle)
        if response is None:
            pending.unhandled = attempt.unhandled
            self._failures.batch_failed(cursor, pending, _describe(attempt.error), split=True)
            return 0
        return self._delivered(cursor, pending, response, window)

    def _delivered(
        self, cursor: ShardCursor, pending: Pending, response: Response, window: int | None
    ) -> int:
        done = pending.records[: response.failed_from]
        if done:
            stats, age_ms = cursor.stats, self._now_ms() - done[-1].arrival_ms
            cursor.stats = replace(stats, records=stats.records + len(done), iterator_age_ms=age_ms)
        if window is not None:
            cursor.terminate_early = state_bytes(response.state) > MAX_STATE_BYTES
        if response.failed_from is None:
            self._succeeded(cursor)
            cursor.retry.next_pending()
        else:
            failed = pending.records[response.failed_from]
            pending.records = pending.records[response.failed_from :]
            pending.unhandled = False
            why = f"partial batch failure from sequence number {failed.sequence_number}"
            self._failures.batch_failed(cursor, pending, why, split=False)
        return len(done)

    def _event(self, cursor: ShardCursor, records: RecordBatch, window: int | None) -> KinesisEvent:
        state = None if window is None else cursor.event_state()  # a copy: only when windowed
        return shard_event(
            records,
            cursor.shard_id,
            self._arn,
            window_start_ms=window,
            window_s=self._config.window_seconds,
            state=state,
            view=self._record_view,
        )

    def _close_window(self, cursor: ShardCursor, *, early: bool) -> None:
        """The final invoke (or the early termination) of the open window."""
        start = cursor.checkpoint.window_start_ms
        assert start is not None
        event = closing_event(
            cursor.shard_id,
            self._arn,
            window_start_ms=start,
            window_s=self._config.window_seconds,
            state=cursor.event_state(),
            early=early,
        )
        after = start if early else None
        response, attempt = self._invoke(
            cursor, event, [], lambda _: replace(cursor.checkpoint, window_start_ms=after, state={})
        )
        if response is None:
            cursor.retry.stuck = True
            kind = "early termination" if early else "final invoke"
            why = f"{kind} failed, shard suspended: {_describe(attempt.error)}"
            self._failures.failed(cursor, why)
            return
        cursor.terminate_early = False
        self._succeeded(cursor)

    def _succeeded(self, cursor: ShardCursor) -> None:
        """Forget the failure streak after a successful invocation."""
        cursor.retry.succeeded()
        cursor.gather_since_ms = self._now_ms()

    def _invoke(
        self,
        cursor: ShardCursor,
        event: KinesisEvent,
        sequences: Sequence[str],
        settle: Callable[[Response], Checkpoint],
    ) -> tuple[Response | None, Attempt]:
        """Invoke and checkpoint in one unit of work; a function error rolls both back.

        The response is None when the function failed; the attempt says how. The cursor takes
        the new checkpoint once it is committed.
        """
        stats = cursor.stats = replace(cursor.stats, invocations=cursor.stats.invocations + 1)
        config = self._config
        deadline = time.monotonic() + config.function_timeout_s  # a real deadline
        request = f"{cursor.shard_id}-{stats.invocations}"
        context = LocalContext(request, deadline, self._function_name)
        attempt = Attempt()
        try:
            with self._invocation() as (handler, work):
                raw = attempt.call(handler, event, context, self._worker)
                response = attempt.read(
                    raw,
                    windowed=config.windowed,
                    sequences=sequences,
                    item_failures=config.report_batch_item_failures,
                )
                checkpoint = settle(response)
                work.save_checkpoint(
                    config.consumer, self._reader.name, cursor.shard_id, checkpoint
                )
        except Exception as exc:
            if not attempt.function_error:
                raise
            cursor.stats = stats.function_failed(timed_out=attempt.timed_out)
            attempt.error = exc
            return None, attempt
        finally:
            cursor.gather_since_ms = self._now_ms()  # the next batching window begins
        cursor.checkpoint = checkpoint
        return response, attempt

    def _save(self, cursor: ShardCursor, checkpoint: Checkpoint) -> None:
        """Save a checkpoint on its own; the cursor takes it once it is committed."""
        self._checkpoints.save_checkpoint(
            self._config.consumer, self._reader.name, cursor.shard_id, checkpoint
        )
        cursor.checkpoint = checkpoint

    def _service_failed(self, cursor: ShardCursor, exc: Exception) -> None:
        """The stream, the store or the destination failed (not the function): retry later."""
        self._failures.failed(cursor, _describe(exc))


def _describe(error: Exception | None) -> str:
    return f"{type(error).__name__}: {error}"
