"""The local Kinesis event source mapping: read shards, build Lambda events, invoke, checkpoint."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Final

from taxi_stream.core.errors import ConfigError, DamagedDatabaseError
from taxi_stream.core.limits import MAX_STATE_BYTES
from taxi_stream.core.records import ShardInfo, StreamRecord
from taxi_stream.function.contract import KinesisEvent
from taxi_stream.ports import CheckpointStore, FailureDestination, StreamReader
from taxi_stream.runner.batching import Batcher
from taxi_stream.runner.checkpoint import Checkpoint
from taxi_stream.runner.config import MappingConfig
from taxi_stream.runner.cursor import Pending, ShardCursor
from taxi_stream.runner.destinations import RECORD_AGE_EXCEEDED
from taxi_stream.runner.events import (
    batch_event,
    kinesis_records,
    stream_arn,
    window_event,
)
from taxi_stream.runner.failures import MAX_BACKOFF_MS, FailurePolicy
from taxi_stream.runner.invoke import (
    DEFAULT_FUNCTION,
    Attempt,
    Handler,
    LocalContext,
    Response,
    function_arn,
    state_bytes,
)

__all__ = [
    "MAX_BACKOFF_MS",
    "EventSourceMapping",
    "Handler",
    "LocalContext",
    "MappingConfig",
    "ShardCursor",
]

log = logging.getLogger(__name__)

LIST_SHARDS_EVERY_MS: Final = 5_000  # how often new (child) shards are looked for


class EventSourceMapping:
    """Lambda's Kinesis event source mapping with tumbling windows, on one machine.

    Per shard, as Lambda does with TumblingWindowInSeconds: records are grouped into windows by
    their arrival time (aligned to the epoch); an invocation carries records of one window only,
    with the ``state`` the previous invocation of that window returned; when a record of a later
    window arrives (or the window is idle past its end, the shard ends, or the runner drains)
    the window gets a final invoke with ``isFinalInvokeForWindow`` and no records. A successful
    invocation's position and window state are checkpointed in the same transaction as what an
    in-process handler wrote to the same SQLite store.

    Failures follow the AWS documentation: a failed batch is retried (MaximumRetryAttempts,
    MaximumRecordAgeInSeconds), split in two first when BisectBatchOnFunctionError is on, and
    its metadata sent to the on-failure destination when it is discarded; a partial batch
    response checkpoints before its lowest failed record; a failing final invoke suspends the
    shard until it succeeds. Closed shards are read to their end before their children start.
    """

    def __init__(
        self,
        reader: StreamReader,
        handler: Handler,
        checkpoints: CheckpointStore,
        config: MappingConfig | None = None,
        *,
        now_ms: Callable[[], int],
        destination: FailureDestination | None = None,
        function_name: str = DEFAULT_FUNCTION,
    ) -> None:
        self._reader = reader
        self._handler = handler
        self._checkpoints = checkpoints
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
        self.cursors: list[ShardCursor] = []
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
        return sum(cursor.discarded_records for cursor in self.cursors)

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
        known = {cursor.shard_id for cursor in self.cursors}
        for info in self._reader.list_shards():
            if info.shard_id not in known:
                self.cursors.append(self._resume(info))
        self._by_id = {cursor.shard_id: cursor for cursor in self.cursors}
        self._listed_ms = self._now_ms()

    def _resume(self, info: ShardInfo) -> ShardCursor:
        cursor = ShardCursor(info.shard_id, parents=info.parent_shard_ids)
        cursor.gather_since_ms = self._now_ms()
        saved = self._checkpoints.load_checkpoint(
            self._config.consumer, self._reader.name, info.shard_id
        )
        if saved is not None:
            cursor.resume(saved)
        elif self._start_ms is not None:
            cursor.start_ms = self._start_ms
            self._save(cursor, cursor.current())  # a restart keeps the same starting point
        if cursor.window_start_ms is not None:
            cursor.terminate_early = state_bytes(cursor.state) > MAX_STATE_BYTES
        return cursor

    # -- the loop ---------------------------------------------------------------------------

    def poll(self, *, drain: bool = False) -> int:
        """One round over every shard; return how many records the function processed.

        Records the function failed are not counted, nor those discarded (see ``discarded``).
        A failing stream, store or destination makes its shard retry after a backoff; a
        damaged SQLite file (DamagedDatabaseError) is raised, since no retry can mend it.
        """
        if self._now_ms() - self._listed_ms >= LIST_SHARDS_EVERY_MS:
            self._list_shards()
        delivered = 0
        for cursor in list(self.cursors):
            if cursor.ended or cursor.retry_at_ms > self._now_ms() or not self.ready(cursor):
                continue
            try:
                delivered += self._step(cursor, drain=drain)
            except DamagedDatabaseError:
                raise  # a corrupt file stays corrupt: retrying would spin forever
            except Exception as exc:  # noqa: BLE001 - stream, store or destination: retried
                self._service_failed(cursor, exc)
        return delivered

    def ready(self, cursor: ShardCursor) -> bool:
        """True when every parent of the shard is read to its end (or gone from the stream)."""
        parents = (self._by_id.get(parent) for parent in cursor.parents)
        return all(parent is None or parent.ended for parent in parents)

    def idle(self) -> bool:
        """True when every shard is consumed and no window is open."""
        return all(cursor.ended or self._settled(cursor) for cursor in self.cursors)

    def _settled(self, cursor: ShardCursor) -> bool:
        return cursor.caught_up and not cursor.busy

    def blocked_ms(self) -> int:
        """How long all the work left has been failing (0 while any of it makes progress)."""
        left = [c for c in self.cursors if not c.ended and not self._settled(c) and self.ready(c)]
        if not left or any(c.failing_since_ms is None for c in left):
            return 0
        return min(self._now_ms() - (c.failing_since_ms or 0) for c in left)

    def _step(self, cursor: ShardCursor, *, drain: bool) -> int:
        if cursor.terminate_early:
            self._close_window(cursor, early=True)
            return 0
        if cursor.inflight is None:
            self._batcher.read_ahead(cursor)
            batch = self._batcher.take(cursor, drain=drain)
            if batch is None:
                self._no_batch(cursor, drain=drain)
                return 0
            cursor.inflight = Pending(batch)
        return self._deliver(cursor, cursor.inflight)

    def _no_batch(self, cursor: ShardCursor, *, drain: bool) -> None:
        if cursor.window_start_ms is not None and self._batcher.window_due(cursor, drain=drain):
            self._close_window(cursor, early=False)
        elif cursor.at_end and not cursor.busy:
            self._end(cursor)

    def _end(self, cursor: ShardCursor) -> None:
        """A closed shard is read to its end and its window is closed: children may start."""
        cursor.ended = True
        self._save(cursor, cursor.current())
        log.info("shard %s ended; its child shards may start", cursor.shard_id)
        self._list_shards()

    # -- invocations ------------------------------------------------------------------------

    def _deliver(self, cursor: ShardCursor, pending: Pending) -> int:
        if pending.discard is not None:  # the destination failed last time: try it again
            self._failures.discard(cursor, pending, pending.records, pending.discard)
            cursor.next_pending()
            return 0
        expired = self._failures.expired(pending.records)
        if expired:
            self._failures.discard(cursor, pending, pending.records[:expired], RECORD_AGE_EXCEEDED)
            del pending.records[:expired]
            if not pending.records:
                cursor.next_pending()
                return 0
        records = pending.records
        window = self._batcher.window_of(cursor, records[0]) if self._config.windowed else None
        pending.invokes += 1
        sequences = [record.sequence_number for record in records]

        def settle(response: Response) -> Checkpoint:
            done = records[: response.failed_from]
            position = done[-1].sequence_number if done else cursor.position
            return cursor.checkpoint(position, window, response.state)

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
            cursor.position = done[-1].sequence_number
            cursor.records += len(done)
            cursor.iterator_age_ms = self._now_ms() - done[-1].arrival_ms
        if window is not None:
            cursor.window_start_ms, cursor.state = window, response.state
            cursor.terminate_early = state_bytes(response.state) > MAX_STATE_BYTES
        if response.failed_from is None:
            cursor.succeeded(self._now_ms())
            cursor.next_pending()
        else:
            failed = pending.records[response.failed_from]
            del pending.records[: response.failed_from]
            pending.unhandled = False
            why = f"partial batch failure from sequence number {failed.sequence_number}"
            self._failures.batch_failed(cursor, pending, why, split=False)
        return len(done)

    def _event(
        self, cursor: ShardCursor, records: list[StreamRecord], window: int | None
    ) -> KinesisEvent:
        kinesis = kinesis_records(records, cursor.shard_id, self._arn)
        if window is None:
            return batch_event(kinesis)
        return window_event(
            kinesis,
            shard_id=cursor.shard_id,
            arn=self._arn,
            window_start_ms=window,
            window_end_ms=window + self._config.window_seconds * 1000,
            state=cursor.state,
        )

    def _close_window(self, cursor: ShardCursor, *, early: bool) -> None:
        """The final invoke (or the early termination) of the open window."""
        start = cursor.window_start_ms
        assert start is not None
        event = window_event(
            [],
            shard_id=cursor.shard_id,
            arn=self._arn,
            window_start_ms=start,
            window_end_ms=start + self._config.window_seconds * 1000,
            state=cursor.state,
            final=not early,
            terminated_early=early,
        )
        after = start if early else None
        response, attempt = self._invoke(
            cursor, event, [], lambda _: cursor.checkpoint(cursor.position, after, {})
        )
        if response is None:
            cursor.stuck = True
            kind = "early termination" if early else "final invoke"
            why = f"{kind} failed, shard suspended: {_describe(attempt.error)}"
            self._failures.failed(cursor, why)
            return
        cursor.window_start_ms, cursor.state, cursor.terminate_early = after, {}, False
        cursor.succeeded(self._now_ms())

    def _invoke(
        self,
        cursor: ShardCursor,
        event: KinesisEvent,
        sequences: Sequence[str],
        settle: Callable[[Response], Checkpoint],
    ) -> tuple[Response | None, Attempt]:
        """Invoke and checkpoint in one unit of work; a function error rolls both back.

        The response is None when the function failed; the attempt says how.
        """
        cursor.invocations += 1
        config = self._config
        deadline = time.monotonic() + config.function_timeout_s  # a real deadline
        request = f"{cursor.shard_id}-{cursor.invocations}"
        context = LocalContext(request, deadline, self._function_name)
        attempt = Attempt()
        try:
            with self._checkpoints.transaction():
                raw = attempt.call(self._handler, event, context)
                response = attempt.read(
                    raw,
                    windowed=config.windowed,
                    sequences=sequences,
                    item_failures=config.report_batch_item_failures,
                )
                self._save(cursor, settle(response))
        except Exception as exc:
            if not attempt.function_error:
                raise
            cursor.timeouts += attempt.timed_out
            attempt.error = exc
            return None, attempt
        finally:
            cursor.gather_since_ms = self._now_ms()  # the next batching window begins
        return response, attempt

    def _save(self, cursor: ShardCursor, checkpoint: Checkpoint) -> None:
        self._checkpoints.save_checkpoint(
            self._config.consumer, self._reader.name, cursor.shard_id, checkpoint
        )

    def _service_failed(self, cursor: ShardCursor, exc: Exception) -> None:
        """The stream, the store or the destination failed (not the function): retry later."""
        self._failures.failed(cursor, _describe(exc))


def _describe(error: Exception | None) -> str:
    return f"{type(error).__name__}: {error}"
