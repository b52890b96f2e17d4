"""What one invocation of the handler did: the counts its metrics (EMF, Prometheus) report."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(slots=True)
class InvocationStats:
    """The counts of one invocation, filled by the handler as it goes.

    ``records`` are the event's Kinesis records (a KPL aggregate is one); ``trips`` the trips
    folded into window totals; ``dead_letters`` the records or KPL members dead-lettered, by
    reason; ``late_trips`` the trips that came after their window's watermark (the event-time
    clock fills it; 0 on the arrival clock); ``contributions_written`` the contributions the
    store applied for the first time; ``newest_window_end_ms`` the latest end among the windows
    written (None when none was).
    """

    records: int = 0
    trips: int = 0
    dead_letters: Counter[str] = field(default_factory=Counter)
    late_trips: int = 0
    contributions_written: int = 0
    newest_window_end_ms: int | None = None

    def count_dead(self, reasons: Iterable[str]) -> None:
        """Count dead letters by their reasons."""
        self.dead_letters.update(reasons)
