"""Pipeline health for the dashboard: from the runner beside it, or from what the stores say.

Beside a pipeline (``run --dashboard``) the runner's loop publishes its public shard snapshots
and counts into a ``LiveFeed`` on every tick; the dashboard's threads read the latest one.
Standalone, each shard's checkpoint is read against the stream (``app.standing``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from taxi_stream.app.standing import Standing
from taxi_stream.runner.cursor import ShardSnapshot
from taxi_stream.views.cells import duration, sequence_label, shard_label
from taxi_stream.views.dashboard.rows import Json, Row


@dataclass(frozen=True, slots=True)
class PipelineSample:
    """What the pipeline beside the dashboard publishes: its shards and its counts.

    ``produced``: records the stream accepted from this run's producer (None: no producer);
    ``delivered``: records the function processed; ``discarded``: records given up on.
    """

    shards: tuple[ShardSnapshot, ...]
    produced: int | None
    delivered: int
    discarded: int


class LiveFeed:
    """The latest sample, handed from the pipeline's thread to the dashboard's."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sample: PipelineSample | None = None

    def publish(self, sample: PipelineSample) -> None:
        """Replace the sample (the pipeline calls this on every tick)."""
        with self._lock:
            self._sample = sample

    def latest(self) -> PipelineSample | None:
        """The last sample published, if any."""
        with self._lock:
            return self._sample


class Rates:
    """Per-second rates of counters, from successive samples on a monotonic clock.

    A rate is measured over at least ``min_interval_s``; between two measurements the last
    rate is given again, so a page refreshed often does not see noise.
    """

    def __init__(self, monotonic: Callable[[], float], min_interval_s: float = 1.0) -> None:
        self._monotonic, self._min_s = monotonic, min_interval_s
        self._last: tuple[float, dict[str, int]] | None = None
        self._rates: dict[str, float] = {}

    def update(self, counters: dict[str, int | None]) -> dict[str, float | None]:
        """The rate of each counter (None for a counter that is None or not yet measured)."""
        now = self._monotonic()
        known = {k: v for k, v in counters.items() if v is not None}
        if self._last is None:
            self._last = (now, known)
        elif now - self._last[0] >= self._min_s:
            then, before = self._last
            self._rates = {
                k: max(0, v - before[k]) / (now - then) for k, v in known.items() if k in before
            }
            self._last = (now, known)
        return {k: self._rates.get(k) if counters[k] is not None else None for k in counters}


def letters_summary(reasons: Mapping[str, int], total: int) -> dict[str, Json]:
    """Dead letters by reason, most frequent first, as the store counted them (``reasons``).

    ``scanned`` says how many the reasons cover: every letter, in every store, so it equals
    ``total`` (how many the store holds) but for letters stored between the two reads.
    """
    ordered = sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))  # most frequent first
    by_reason: dict[str, Json] = dict(ordered)
    return {
        "total": total,
        "scanned": sum(reasons.values()),
        "byReason": by_reason,
    }


def live_shards(sample: PipelineSample) -> list[Row]:
    """Each shard as the runner sees it: position, iterator age, retries, stuck, last error."""
    rows: list[Row] = []
    for shard in sample.shards:
        stats = shard.stats
        rows.append(
            {
                "shardId": shard.shard_id,
                "shard": shard_label(shard.shard_id),
                "position": shard.checkpoint.position,
                "positionLabel": sequence_label(shard.checkpoint.position),
                "iteratorAgeMs": stats.iterator_age_ms,
                "iteratorAge": duration(stats.iterator_age_ms),
                "behindMs": stats.behind_ms,
                "behind": duration(stats.behind_ms),
                "invocations": stats.invocations,
                "records": stats.records,
                "failures": stats.failures,
                "retries": shard.retries or 0,
                "consecutiveFailures": shard.consecutive_failures,
                "stuck": shard.stuck,
                "lastError": stats.last_error,
                "windowOpen": shard.checkpoint.window_start_ms is not None,
            }
        )
    return rows


def stored_shards(found: Standing) -> list[Row]:
    """Each shard as the stores say: its checkpoint, and whether records wait after it."""
    return [
        {
            "shardId": shard.shard_id,
            "shard": shard_label(shard.shard_id),
            "position": shard.position,
            "positionLabel": sequence_label(shard.position),
            "behindMs": shard.behind_ms,
            "behind": duration(shard.behind_ms),
            "waiting": shard.waiting,
            "ended": shard.ended,
            "windowOpen": shard.window_start_ms is not None,
        }
        for shard in found.shards
    ]


def stuck_shards(shards: Sequence[Row]) -> list[Row]:
    """The shards that are stuck or failing, with their last error."""
    return [
        {"shardId": s["shardId"], "shard": s["shard"], "lastError": s.get("lastError")}
        for s in shards
        if s.get("stuck") or (s.get("consecutiveFailures") or 0)
    ]
