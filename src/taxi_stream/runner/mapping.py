"""The local Kinesis event source mapping: read shards, build Lambda events, invoke, checkpoint.

Per shard, as Lambda does with TumblingWindowInSeconds: records are grouped into windows by
their arrival time (windows aligned to the epoch); an invocation carries records of one window
only, with the ``state`` the previous invocation of that window returned; when a record of a
later window arrives (or the window has been idle past its end, or the runner drains) the
window gets a final invoke with ``isFinalInvokeForWindow`` and no records. After each
successful invocation the shard's position and window state are checkpointed durably, in the
same transaction as what an in-process handler wrote to the same SQLite store.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from itertools import takewhile
from typing import Any, Final, Protocol

import msgspec

from taxi_stream.core.errors import ConfigError, HandlerContractError
from taxi_stream.core.records import StreamRecord
from taxi_stream.core.windows import MAX_WINDOW_S, window_start_ms
from taxi_stream.runner.events import (
    fit_payload,
    kinesis_records,
    stream_arn,
    window_event,
)
from taxi_stream.stores.sqlite import Checkpoint
from taxi_stream.streams import StreamReader

log = logging.getLogger(__name__)

MAX_BATCH_SIZE: Final = 10_000
MAX_BACKOFF_MS: Final = 30_000

Handler = Callable[[dict[str, Any], Any], Any]


class CheckpointStore(Protocol):
    """Durable per-shard positions, written inside a unit of work."""

    def transaction(self) -> AbstractContextManager[None]:
        """A unit of work shared with an in-process handler's writes."""
        ...

    def load_checkpoint(self, consumer: str, stream: str, shard_id: str) -> Checkpoint | None:
        """The saved checkpoint, if any."""
        ...

    def save_checkpoint(
        self, consumer: str, stream: str, shard_id: str, checkpoint: Checkpoint
    ) -> None:
        """Save a checkpoint."""
        ...


@dataclass(frozen=True, slots=True)
class MappingConfig:
    """Event source mapping settings, named after their AWS counterparts; checks its values."""

    batch_size: int = MAX_BATCH_SIZE  # BatchSize
    window_seconds: int = 60  # TumblingWindowInSeconds (0: windows off)
    idle_close_s: float = 1.0  # close an idle window this long after its end
    consumer: str = "taxi-stream"

    def __post_init__(self) -> None:
        if not 1 <= self.batch_size <= MAX_BATCH_SIZE:
            raise ConfigError(f"batch size must be 1..{MAX_BATCH_SIZE}, got {self.batch_size}")
        if not 0 <= self.window_seconds <= MAX_WINDOW_S:
            raise ConfigError(
                f"tumbling window must be 0 (off) or 1..{MAX_WINDOW_S} s, got {self.window_seconds}"
            )
        if self.idle_close_s < 0:
            raise ConfigError(f"idle close wait must be >= 0 s, got {self.idle_close_s}")


@dataclass(slots=True)
class ShardCursor:
    """Where one shard stands: position, open window, its state, records read ahead."""

    shard_id: str
    position: str | None = None
    window_start_ms: int | None = None
    state: dict[str, Any] = field(default_factory=dict)
    buffer: list[StreamRecord] = field(default_factory=list)
    behind_ms: int = 0
    invocations: int = 0
    records: int = 0
    failures: int = 0
    consecutive_failures: int = 0
    retry_at_ms: int = 0
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class LocalContext:
    """The parts of the Lambda context object a handler may read."""

    aws_request_id: str
    function_name: str = "taxi-stream-local"
    memory_limit_in_mb: int = 1024

    def get_remaining_time_in_millis(self) -> int:
        """Time left in the invocation (the local runner sets no deadline)."""
        return 900_000


class EventSourceMapping:
    """Lambda's Kinesis event source mapping with tumbling windows, on one machine."""

    def __init__(
        self,
        reader: StreamReader,
        handler: Handler,
        checkpoints: CheckpointStore,
        config: MappingConfig | None = None,
        *,
        now_ms: Callable[[], int],
    ) -> None:
        self._reader = reader
        self._handler = handler
        self._checkpoints = checkpoints
        self._config = config or MappingConfig()
        self._now_ms = now_ms
        self._arn = stream_arn(reader.name)
        self.cursors = [self._resume(s.shard_id) for s in reader.list_shards()]

    @property
    def window_seconds(self) -> int:
        """TumblingWindowInSeconds of this mapping (0: off)."""
        return self._config.window_seconds

    def _resume(self, shard_id: str) -> ShardCursor:
        saved = self._checkpoints.load_checkpoint(
            self._config.consumer, self._reader.name, shard_id
        )
        cursor = ShardCursor(shard_id)
        if saved is not None:
            cursor.position = saved.sequence_number
            window = (saved.state or {}).get("window")
            cursor.window_start_ms = None if window is None else int(window)
            cursor.state = (saved.state or {}).get("state") or {}
        return cursor

    def poll(self, *, drain: bool = False) -> int:
        """One round over every shard; return how many records were delivered."""
        delivered = 0
        for cursor in self.cursors:
            if cursor.retry_at_ms > self._now_ms():
                continue
            try:
                delivered += self._step(cursor, drain=drain)
            except Exception as exc:  # noqa: BLE001 - a failed invocation is retried, as on AWS
                self._failed(cursor, exc)
        return delivered

    def _failed(self, cursor: ShardCursor, exc: Exception) -> None:
        cursor.failures += 1
        cursor.consecutive_failures += 1
        cursor.last_error = f"{type(exc).__name__}: {exc}"
        backoff_ms = min(100 * 2 ** min(cursor.consecutive_failures, 10), MAX_BACKOFF_MS)
        cursor.retry_at_ms = self._now_ms() + backoff_ms
        log.warning(
            "shard %s: invocation failed (%d in a row), retrying in %d ms: %s",
            cursor.shard_id, cursor.consecutive_failures, backoff_ms, cursor.last_error,
        )  # fmt: skip

    def idle(self) -> bool:
        """True when every shard is consumed and no window is open."""
        return all(not c.buffer and c.window_start_ms is None for c in self.cursors)

    def _step(self, cursor: ShardCursor, *, drain: bool) -> int:
        if not cursor.buffer:
            result = self._reader.read(cursor.shard_id, cursor.position, self._config.batch_size)
            cursor.buffer = result.records
            cursor.behind_ms = result.behind_ms or 0
        size = self._config.window_seconds
        if not cursor.buffer:
            if cursor.window_start_ms is not None and (drain or self._window_idle(cursor)):
                self._final(cursor)
            return 0
        if size == 0:
            return self._invoke_plain(cursor)
        window = max(
            window_start_ms(cursor.buffer[0].arrival_ms, size), cursor.window_start_ms or 0
        )
        if cursor.window_start_ms is not None and window != cursor.window_start_ms:
            self._final(cursor)
            return 0
        return self._invoke_window(cursor, window)

    def _window_idle(self, cursor: ShardCursor) -> bool:
        assert cursor.window_start_ms is not None
        end = cursor.window_start_ms + self._config.window_seconds * 1000
        return self._now_ms() >= end + self._config.idle_close_s * 1000

    def _batch(self, cursor: ShardCursor, window: int | None) -> list[StreamRecord]:
        records = cursor.buffer[: self._config.batch_size]
        if window is not None:
            size = self._config.window_seconds
            end = window + size * 1000
            records = list(takewhile(lambda r: r.arrival_ms < end, records))
        return records[: fit_payload(records)]

    def _invoke_window(self, cursor: ShardCursor, window: int) -> int:
        batch = self._batch(cursor, window)
        records = kinesis_records(batch, cursor.shard_id, self._arn)
        event = window_event(
            records,
            shard_id=cursor.shard_id,
            arn=self._arn,
            window_start_ms=window,
            window_end_ms=window + self._config.window_seconds * 1000,
            state=cursor.state,
        )
        state = self._invoke(cursor, event, batch[-1].sequence_number, window)
        cursor.window_start_ms, cursor.state = window, state
        cursor.position = batch[-1].sequence_number
        del cursor.buffer[: len(batch)]
        cursor.records += len(batch)
        return len(batch)

    def _invoke_plain(self, cursor: ShardCursor) -> int:
        batch = cursor.buffer[: self._config.batch_size]
        batch = batch[: fit_payload(batch)]
        event = {"Records": kinesis_records(batch, cursor.shard_id, self._arn)}
        self._invoke(cursor, event, batch[-1].sequence_number, None)
        cursor.position = batch[-1].sequence_number
        del cursor.buffer[: len(batch)]
        cursor.records += len(batch)
        return len(batch)

    def _final(self, cursor: ShardCursor) -> None:
        assert cursor.window_start_ms is not None
        start = cursor.window_start_ms
        event = window_event(
            [],
            shard_id=cursor.shard_id,
            arn=self._arn,
            window_start_ms=start,
            window_end_ms=start + self._config.window_seconds * 1000,
            state=cursor.state,
            final=True,
        )
        self._invoke(cursor, event, cursor.position, None)
        cursor.window_start_ms, cursor.state = None, {}

    def _invoke(
        self, cursor: ShardCursor, event: dict[str, Any], position: str | None, window: int | None
    ) -> dict[str, Any]:
        """Invoke and checkpoint in one unit of work; return the state to carry."""
        cursor.invocations += 1
        context = LocalContext(f"{cursor.shard_id}-{cursor.invocations}")
        with self._checkpoints.transaction():
            response = self._handler(event, context)
            state = _state_of(response, windowed="window" in event)
            saved = {"window": window, "state": state} if window is not None else None
            self._checkpoints.save_checkpoint(
                self._config.consumer,
                self._reader.name,
                cursor.shard_id,
                Checkpoint(position, saved),
            )
        cursor.last_error = None
        cursor.consecutive_failures = 0
        return state


def _state_of(response: Any, *, windowed: bool) -> dict[str, Any]:
    """The state a windowed response carries, round-tripped through JSON as Lambda does."""
    if not windowed:
        return {}
    if not isinstance(response, Mapping) or "state" not in response:
        raise HandlerContractError(
            "with tumbling windows a handler must return a dict with 'state' "
            f"(got {type(response).__name__})"
        )
    state = msgspec.json.decode(msgspec.json.encode(response["state"] or {}))
    if not isinstance(state, dict):
        raise HandlerContractError(f"'state' must be a JSON object, got {type(state).__name__}")
    return state
