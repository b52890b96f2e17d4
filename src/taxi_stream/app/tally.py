"""What our handler did over a run, summed from each invocation's counts, for the metrics."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from taxi_stream.function.handler import TumblingWindowHandler
from taxi_stream.function.stats import InvocationStats
from taxi_stream.runner.invoke import Handler


@dataclass(frozen=True, slots=True)
class HandlerCounts:
    """A copy of the tally as it stands: see InvocationStats for what each count means."""

    records: int = 0
    trips: int = 0
    dead_letters: dict[str, int] = field(default_factory=dict)
    late_trips: int = 0
    contributions_written: int = 0
    newest_window_end_ms: int | None = None


class HandlerTally:
    """Sums the InvocationStats of every invocation of our handler that committed.

    Only invocations whose unit of work committed count: one that raised, or whose commit
    failed after it returned, is retried and counted then. The runner thread adds, a metrics
    thread reads; a lock keeps each read whole.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sums = InvocationStats()

    def add(self, stats: InvocationStats) -> None:
        """Add one invocation's counts."""
        with self._lock:
            sums = self._sums
            sums.records += stats.records
            sums.trips += stats.trips
            sums.dead_letters.update(stats.dead_letters)
            sums.late_trips += stats.late_trips
            sums.contributions_written += stats.contributions_written
            if stats.newest_window_end_ms is not None:
                newest = sums.newest_window_end_ms
                end = stats.newest_window_end_ms
                sums.newest_window_end_ms = end if newest is None else max(newest, end)

    def counts(self) -> HandlerCounts:
        """The sums so far."""
        with self._lock:
            s = self._sums
            return HandlerCounts(
                s.records,
                s.trips,
                dict(s.dead_letters),
                s.late_trips,
                s.contributions_written,
                s.newest_window_end_ms,
            )

    def committed(self, handler: Handler) -> None:
        """Add the counts of ``handler``'s invocation, whose unit of work has just committed
        (the runner's ``InProcess.committed``): a commit that failed is retried, counted then."""
        if isinstance(handler, TumblingWindowHandler):
            self.add(handler.stats)


__all__ = ["HandlerCounts", "HandlerTally"]
