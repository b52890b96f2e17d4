"""What our handler did over a run, summed from each invocation's counts, for the metrics."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from taxi_stream.function.contract import KinesisEvent, LambdaContext, WindowResponse
from taxi_stream.function.handler import TumblingWindowHandler
from taxi_stream.function.stats import InvocationStats


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
    """Sums the InvocationStats of every invocation of our handler that returned.

    Only returned invocations count: one that raised is retried and counted then. The runner
    thread adds, a metrics thread reads; a lock keeps each read whole.
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

    def observe(self, handler: TumblingWindowHandler) -> Counted:
        """``handler``, adding the counts of each invocation that returns to this tally."""
        return Counted(handler, self)


class Counted:
    """Our handler, whose every returned invocation adds its counts to a tally."""

    def __init__(self, handler: TumblingWindowHandler, tally: HandlerTally) -> None:
        self._handler, self._tally = handler, tally

    def __call__(self, event: KinesisEvent, context: LambdaContext | None = None) -> WindowResponse:
        """Invoke the handler; count what it did once it returned."""
        response = self._handler(event, context)
        self._tally.add(self._handler.stats)
        return response


__all__ = ["Counted", "HandlerCounts", "HandlerTally"]
