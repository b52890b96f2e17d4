"""What a failed batch becomes: retried after a backoff, split in two, or discarded."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Final

from taxi_stream.core.recordbatch import RecordBatch
from taxi_stream.ports import FailureDestination
from taxi_stream.runner.checkpoint import Checkpoint
from taxi_stream.runner.config import MappingConfig
from taxi_stream.runner.cursor import Pending, ShardCursor
from taxi_stream.runner.destinations import RETRY_ATTEMPTS_EXHAUSTED, invocation_record

log = logging.getLogger(__name__)

BASE_BACKOFF_MS: Final = 100
MAX_BACKOFF_MS: Final = 30_000


class FailurePolicy:
    """MaximumRetryAttempts, MaximumRecordAgeInSeconds, BisectBatchOnFunctionError, OnFailure."""

    def __init__(
        self,
        config: MappingConfig,
        now_ms: Callable[[], int],
        save: Callable[[ShardCursor, Checkpoint], None],
        *,
        destination: FailureDestination | None,
        stream_arn: str,
        function_arn: str,
    ) -> None:
        self._config = config
        self._now_ms = now_ms
        self._save = save
        self.destination = destination
        self._stream_arn = stream_arn
        self._function_arn = function_arn

    def expired(self, records: RecordBatch) -> int:
        """How many leading records are older than MaximumRecordAgeInSeconds."""
        age_s = self._config.maximum_record_age_s
        if age_s == -1:
            return 0
        cutoff = self._now_ms() - age_s * 1000
        return records.arrived_before(cutoff)

    def batch_failed(self, cursor: ShardCursor, pending: Pending, why: str, *, split: bool) -> None:
        """Retry a failed batch: split it first, or discard it once its retries are spent."""
        config = self._config
        bisect = split and config.bisect_batch_on_function_error and len(pending.records) > 1
        limit = config.maximum_retry_attempts
        exhausted = not bisect and limit != -1 and pending.retries >= limit
        self.failed(cursor, why, retried=not exhausted)
        if bisect:
            half = len(pending.records) // 2
            rest = Pending(pending.records[half:], pending.retries, pending.invokes)
            pending.records = pending.records[:half]
            cursor.retry.queue.appendleft(rest)  # a split does not count towards the retries
            return
        if exhausted:
            pending.discard = RETRY_ATTEMPTS_EXHAUSTED
            self.discard(cursor, pending, pending.records, RETRY_ATTEMPTS_EXHAUSTED)
            cursor.retry.next_pending()
            return
        pending.retries += 1

    def discard(
        self, cursor: ShardCursor, pending: Pending, records: RecordBatch, condition: str
    ) -> None:
        """Send a discarded batch's metadata to the destination, then checkpoint past it."""
        record = invocation_record(
            records,
            shard_id=cursor.shard_id,
            stream_arn=self._stream_arn,
            function_arn=self._function_arn,
            condition=condition,
            invoke_count=pending.invokes,
            unhandled=pending.unhandled,
            now_ms=self._now_ms(),
        )
        sent_to = cursor.stats.sent_to
        if self.destination is not None:
            self.destination.send(record)
            sent_to = self.destination.description
        else:
            what = "shard %s: %d records discarded (%s); there is no on-failure destination"
            log.warning(what, cursor.shard_id, len(records), condition)
        self._save(cursor, replace(cursor.checkpoint, position=records[-1].sequence_number))
        stats = cursor.stats
        cursor.stats = replace(
            stats,
            discarded_batches=stats.discarded_batches + 1,
            discarded_records=stats.discarded_records + len(records),
            sent_to=sent_to,
        )
        retry = cursor.retry
        retry.consecutive_failures = 0  # a discard is progress: the next batch starts afresh,
        retry.failing_since_ms = None  # without the backoff the discarded one had built up
        retry.retry_at_ms = 0

    def failed(self, cursor: ShardCursor, why: str, *, retried: bool = True) -> None:
        """Count a failure and back off: the shard waits, doubling, up to MAX_BACKOFF_MS.

        ``retried``: the work is tried again (False: its batch is discarded instead).
        """
        now, retry, stats = self._now_ms(), cursor.retry, cursor.stats
        cursor.stats = replace(
            stats, failures=stats.failures + 1, retries=stats.retries + retried, last_error=why
        )
        retry.consecutive_failures += 1
        if retry.failing_since_ms is None:
            retry.failing_since_ms = now
        doubling = 2 ** min(retry.consecutive_failures - 1, 16)
        backoff_ms = min(BASE_BACKOFF_MS * doubling, MAX_BACKOFF_MS)
        retry.retry_at_ms = now + backoff_ms
        what = "shard %s: %s (%d in a row); retrying in %d ms"
        # info, not warning: each retry would repeat what the views already show of the streak
        log.info(what, cursor.shard_id, why, retry.consecutive_failures, backoff_ms)
