"""Tumbling-window math: which window a timestamp falls in, as one pure function, and its clocks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum

from taxi_stream.core.errors import ConfigError

MIN_WINDOW_S = 1
MAX_WINDOW_S = 900  # the Lambda TumblingWindowInSeconds maximum


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


def iso_utc(ts_ms: int) -> str:
    """Render epoch milliseconds as ISO-8601 UTC with a Z suffix (second precision when whole)."""
    dt = _EPOCH + timedelta(milliseconds=ts_ms)
    if ts_ms % 1000:
        return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return dt.isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_iso_ms(text: str) -> int:
    """Parse an ISO-8601 timestamp with a UTC offset (or Z) into epoch milliseconds."""
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return to_epoch_ms(dt)


def to_epoch_ms(dt: datetime) -> int:
    """Exact epoch milliseconds of an aware datetime (integer arithmetic, no float rounding)."""
    return (dt - _EPOCH) // _ONE_MS


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)

# Instants a window (and a watermark around it) can be written for: a day inside the years
# 1..9999 that datetime, ISO-8601 keys and SQLite integers can all hold.
FIRST_INSTANT_MS = to_epoch_ms(datetime(1, 1, 2, tzinfo=UTC))
LAST_INSTANT_MS = to_epoch_ms(datetime(9999, 12, 31, tzinfo=UTC))
