"""Event-time pacing: when each replayed row is due, on a running clock that outliers cannot drag.

A row with event time ``e`` is due at ``t0 + (e - first) / speedup``, as in
amazon-kinesis-replay and the Flink training sources, where ``t0`` is the wall time of the first
row and ``first`` its event time (or ``--start-at``). Files are only roughly ordered, so the
pacer keeps a running event clock that only moves forward:

- a row earlier than the clock (a straggler) is due at once;
- a row more than ``max_jump_ms`` ahead of the clock (a 2088 trip in a 2024 file) is due at
  once and leaves the clock where it is, so it neither stalls the replay nor is lost;
- after ``reanchor_after`` such rows in a row, the clock was the outlier (a file whose first
  row is from 2008): it restarts at the current row, as if that row were the first;
- a row without an event time is due at once.

With ``--start-at`` the clock starts at that time, unless the first row is more than
``max_jump_ms`` after it (then at that row).

The pacer only computes times; the caller waits. ``speedup=None`` never waits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

DAY_MS: Final = 86_400_000
REANCHOR_AFTER: Final = 1_000


@dataclass(frozen=True, slots=True)
class PacingConfig:
    """How to pace: ``speedup`` event seconds per wall second (None: as fast as possible)."""

    speedup: float | None
    start_ms: int | None = None  # the event time the clock starts at (``--start-at``)
    max_jump_ms: int = DAY_MS
    reanchor_after: int = REANCHOR_AFTER

    def __post_init__(self) -> None:
        if self.speedup is not None and not self.speedup > 0:
            raise ValueError(f"speedup must be above 0, got {self.speedup}")


class Pacer:
    """Due times of rows in file order, on the wall clock ``clock`` (seconds, monotonic)."""

    def __init__(self, config: PacingConfig, clock: Callable[[], float]) -> None:
        self._config = config
        self._clock = clock
        self._t0: float | None = None
        self._first_ms = 0
        self.event_ms: int | None = None  # the running event clock; None before the first row
        self._far_run = 0

    def due(self, event_ms: int | None) -> float | None:
        """The wall time at which a row is due, or None when it is due at once."""
        speedup = self._config.speedup
        if speedup is None or event_ms is None:
            return None
        running = self.event_ms
        if running is None or self._t0 is None:
            start = self._config.start_ms
            near = start is not None and 0 <= event_ms - start <= self._config.max_jump_ms
            return self._anchor(
                event_ms, start if near and start is not None else event_ms, speedup
            )
        if event_ms < running:
            return None
        if event_ms - running > self._config.max_jump_ms:
            self._far_run += 1
            if self._far_run < self._config.reanchor_after:
                return None
            return self._anchor(event_ms, event_ms, speedup)
        self._far_run = 0
        self.event_ms = event_ms
        return self._t0 + (event_ms - self._first_ms) / 1000 / speedup

    def _anchor(self, event_ms: int, first_ms: int, speedup: float) -> float:
        """Start the clock: ``first_ms`` is due now, ``event_ms`` (not before it) when it falls."""
        self._t0 = self._clock()
        self._first_ms = first_ms
        self._far_run = 0
        self.event_ms = event_ms
        return self._t0 + (event_ms - first_ms) / 1000 / speedup

    def lag_s(self, due_s: float | None) -> float:
        """How far behind its due time a row is sent now (0 for a row due at once)."""
        return 0.0 if due_s is None else max(0.0, self._clock() - due_s)
