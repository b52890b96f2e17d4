"""Batches as the event source mapping cuts them: BatchSize, window, payload, batching window."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Final

from taxi_stream.core.limits import MAX_PAYLOAD_BYTES
from taxi_stream.core.recordbatch import RecordBatch
from taxi_stream.core.records import StreamRecord
from taxi_stream.core.windows import window_start_ms
from taxi_stream.ports import StreamReader
from taxi_stream.runner.config import MappingConfig
from taxi_stream.runner.cursor import ShardCursor
from taxi_stream.runner.events import fit_payload
from taxi_stream.runner.invoke import state_bytes

EVENT_OVERHEAD_BYTES: Final = 1_024  # window, shard and flags around the records and state

log = logging.getLogger(__name__)


class Batcher:
    """Reads a shard ahead and cuts its next batch, or says why there is none yet."""

    def __init__(
        self, reader: StreamReader, config: MappingConfig, now_ms: Callable[[], int]
    ) -> None:
        self._reader = reader
        self._config = config
        self._now_ms = now_ms

    def read_ahead(self, cursor: ShardCursor) -> None:
        """Read more records when the buffer is empty, or while a batching window gathers."""
        size = self._config.batch_size
        gathering = self._config.maximum_batching_window_s > 0
        if cursor.at_end or len(cursor.buffer) >= size or (cursor.buffer and not gathering):
            return
        result = self._reader.read(cursor.shard_id, cursor.read_after, size - len(cursor.buffer))
        records = RecordBatch.of(result.records)
        if records:
            cursor.read_after = records[-1].sequence_number
        if result.expired:
            self._expired(cursor, result.expired)
        start = cursor.checkpoint.start_ms
        if start is not None:
            records = records.since(start)
        cursor.buffer += records
        behind_ms = result.behind_ms or 0
        if behind_ms != cursor.stats.behind_ms:
            cursor.stats = replace(cursor.stats, behind_ms=behind_ms)
        cursor.caught_up = not result.records
        cursor.at_end = result.end_of_shard

    @staticmethod
    def _expired(cursor: ShardCursor, count: int) -> None:
        """Say that retention took records of this shard before they were read, and count them."""
        log.warning(
            "%s: %d records expired (trimmed by the stream's retention) before they were read",
            cursor.shard_id,
            count,
        )
        lost = cursor.stats.expired_records + count
        cursor.stats = replace(cursor.stats, expired_records=lost)

    def window_of(self, cursor: ShardCursor, record: StreamRecord) -> int:
        """The window a record joins: by its arrival time, never before the open window."""
        start = window_start_ms(record.arrival_ms, self._config.window_seconds)
        open_start = cursor.checkpoint.window_start_ms
        return start if open_start is None else max(start, open_start)

    def take(self, cursor: ShardCursor, *, drain: bool) -> RecordBatch | None:
        """The next batch from the records read ahead, or None (nothing, or not yet)."""
        buffer, config = cursor.buffer, self._config
        if not buffer:
            return None
        records = buffer[: config.batch_size]
        limit = MAX_PAYLOAD_BYTES
        if config.windowed:
            window, saved = self.window_of(cursor, buffer[0]), cursor.checkpoint
            if saved.window_start_ms is not None and window != saved.window_start_ms:
                return None  # the next record opens a later window: this one closes first
            end = window + config.window_seconds * 1000
            records = records[: _before(records, end)]
            limit -= state_bytes(saved.state) + EVENT_OVERHEAD_BYTES
        records = records[: fit_payload(records, limit)]
        complete = len(records) == config.batch_size or len(records) < len(buffer)
        if not complete and self._gathering(cursor, drain=drain):
            return None
        cursor.buffer = buffer[len(records) :]
        return records

    def _gathering(self, cursor: ShardCursor, *, drain: bool) -> bool:
        """True while the batching window, begun when the last invocation ended, is open."""
        window_ms = self._config.maximum_batching_window_s * 1000
        if not window_ms or drain or cursor.at_end:
            return False
        return self._now_ms() < cursor.gather_since_ms + window_ms

    def window_due(self, cursor: ShardCursor, *, drain: bool) -> bool:
        """True when the open window must close: a later record, an ended shard, idleness."""
        open_start = cursor.checkpoint.window_start_ms
        if cursor.buffer:
            return self.window_of(cursor, cursor.buffer[0]) != open_start
        if drain or cursor.at_end:
            return True
        assert open_start is not None
        end = open_start + self._config.window_seconds * 1000
        return self._now_ms() >= end + self._config.idle_close_s * 1000


def _before(records: Sequence[StreamRecord], end_ms: int) -> int:
    """How many leading records arrived before ``end_ms`` (a stored batch's share one time,
    so a batch of the embedded stream is looked at once, not record by record)."""
    return RecordBatch.of(records).arrived_before(end_ms)
