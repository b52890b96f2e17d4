"""Tumbling-window math: which window a timestamp falls in, as one pure function, and its clocks."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from taxi_stream.core.errors import ConfigError
from taxi_stream.core.limits import MAX_WINDOW_S, MIN_WINDOW_S
from taxi_stream.core.timefmt import to_epoch_ms


class WindowClock(StrEnum):
    """Which time puts a trip in its window; the value is what stores and flags spell."""

    ARRIVAL = "arrival"  # the record's ApproximateArrivalTimestamp: Lambda's own windows
    EVENT = "event"  # the trip's pickup time


def window_clock(value: WindowClock | str) -> WindowClock:
    """The clock ``value`` names (a clock or its text); ConfigError for any other text."""
    try:
        return WindowClock(value)
    except ValueError:
        names = ", ".join(WindowClock)
        raise ConfigError(f"window clock must be one of {names}: {value!r}") from None


def check_window_seconds(size_s: int) -> int:
    """Return ``size_s`` if it is a valid tumbling-window size (1..900 s); else ConfigError."""
    if isinstance(size_s, bool) or not isinstance(size_s, int):
        raise ConfigError(f"window size must be a whole number of seconds, got {size_s!r}")
    if not MIN_WINDOW_S <= size_s <= MAX_WINDOW_S:
        raise ConfigError(
            f"window size must be between {MIN_WINDOW_S} and {MAX_WINDOW_S} seconds, got {size_s}"
        )
    return size_s


def window_start_ms(ts_ms: int, size_s: int) -> int:
    """Start (inclusive, epoch ms) of the size_s-second window holding ts_ms; windows align to 0.

    Floor division keeps negative timestamps (before 1970) in the window that contains them.
    """
    size_ms = size_s * 1000
    return ts_ms - ts_ms % size_ms


# Instants a window (and a watermark around it) can be written for: a day inside the years
# 1..9999 that datetime, ISO-8601 keys and SQLite integers can all hold.
FIRST_INSTANT_MS = to_epoch_ms(datetime(1, 1, 2, tzinfo=UTC))
LAST_INSTANT_MS = to_epoch_ms(datetime(9999, 12, 31, tzinfo=UTC))
