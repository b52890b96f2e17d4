"""Event-time watermarks: per-shard marks, the late-trip rule and window finality, all pure.

A shard's watermark is the largest event time seen on it minus the bounded out-of-orderness;
it only moves forward. A trip is late when its shard's watermark, as of that record in shard
order, is at or past its window's end plus the allowed lateness. The stream's watermark is the
minimum over its shards, leaving out idle ones: a shard whose last record arrived more than the
idle timeout before the newest shard's last record. A window is final once the stream's
watermark is at or past its end plus the allowed lateness: from then on, any trip of it that
still comes is late.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from taxi_stream.core.errors import ConfigError

DEFAULT_MAX_OUT_OF_ORDERNESS_S: Final = 60
DEFAULT_ALLOWED_LATENESS_S: Final = 0
DEFAULT_IDLE_TIMEOUT_S: Final = 300
MAX_BOUND_S: Final = 7 * 24 * 3600  # a week: any of the three bounds above, at most
# the event clock dead-letters event times before TLC records began, 2009-01-01 00:00 New York
# time (EST, UTC-5), and those this far past their record's arrival: neither moves a watermark
FIRST_EVENT_MS: Final = 1_230_786_000_000
MAX_AHEAD_MS: Final = 86_400_000


class EventTime(StrEnum):
    """Which instant of a trip is its event time (what flags and the environment spell)."""

    PICKUP = "pickup"
    DROPOFF = "dropoff"


class LatePolicy(StrEnum):
    """What becomes of a late trip: counted in its window (and as late), or dead-lettered."""

    COUNT = "count"
    DEAD_LETTER = "dead-letter"


def event_time(value: EventTime | str) -> EventTime:
    """The event time ``value`` names; ConfigError for any other text."""
    try:
        return EventTime(value)
    except ValueError:
        raise ConfigError(f"event time must be pickup or dropoff: {value!r}") from None


def late_policy(value: LatePolicy | str) -> LatePolicy:
    """The late-trip policy ``value`` names; ConfigError for any other text."""
    try:
        return LatePolicy(value)
    except ValueError:
        raise ConfigError(f"late trips must be count or dead-letter: {value!r}") from None


def check_bound_s(value: int, what: str) -> int:
    """``value`` if it is a whole number of seconds in 0..a week; else ConfigError naming it."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{what} must be a whole number of seconds, got {value!r}")
    if not 0 <= value <= MAX_BOUND_S:
        raise ConfigError(f"{what} must be between 0 and {MAX_BOUND_S} seconds, got {value}")
    return value


@dataclass(frozen=True, slots=True)
class Watermark:
    """One shard's watermark as a store keeps it.

    ``part`` is the first sequence number of the window part that last wrote it and
    ``previous_ms`` the watermark before that part, so a redelivered part (the same first
    sequence number) starts from where its first attempt started. ``last_arrival_ms`` is the
    arrival time of the newest record that part read (what idleness is measured by).
    """

    stream: str
    shard_id: str
    watermark_ms: int
    part: str
    previous_ms: int | None
    last_arrival_ms: int

    def start_for(self, part: str) -> int:
        """The watermark a part starts from: the one before it when it is this one's part."""
        if part == self.part and self.previous_ms is not None:
            return self.previous_ms
        return self.watermark_ms

    def supersedes(self, old: Watermark | None) -> bool:
        """Whether a store holding ``old`` takes this one: it never moves the watermark back."""
        return old is None or self.watermark_ms >= old.watermark_ms


def is_late(window_end_ms: int, watermark_ms: int | None, allowed_lateness_ms: int) -> bool:
    """Whether a trip of the window ending at ``window_end_ms`` is late under ``watermark_ms``."""
    return watermark_ms is not None and watermark_ms >= window_end_ms + allowed_lateness_ms


def stream_watermark(marks: Iterable[Watermark], idle_timeout_ms: int) -> int | None:
    """The minimum watermark over the shards that are not idle; None without any watermark.

    A shard is idle when its last record arrived more than ``idle_timeout_ms`` before the
    newest last arrival among all the shards: the newest shard is never idle.
    """
    found = list(marks)
    if not found:
        return None
    newest = max(mark.last_arrival_ms for mark in found)
    return min(
        mark.watermark_ms for mark in found if newest - mark.last_arrival_ms <= idle_timeout_ms
    )


def is_final(window_end_ms: int, watermark_ms: int | None, allowed_lateness_ms: int) -> bool:
    """Whether the window is final: the stream's watermark has reached its end plus lateness."""
    return is_late(window_end_ms, watermark_ms, allowed_lateness_ms)
