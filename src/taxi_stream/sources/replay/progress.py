"""Where a replay stands: rows, rate, event time reached, lag behind the pacing clock, ETA."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final
from zoneinfo import ZoneInfo

from taxi_stream.core.timefmt import from_epoch_ms
from taxi_stream.sources.replay.layouts import NEW_YORK

_NY: Final = ZoneInfo(NEW_YORK)


@dataclass(frozen=True, slots=True)
class Progress:
    """A snapshot of a running replay."""

    file: str
    rows_read: int  # rows looked at this run (sent + skipped by --start-at)
    rows_sent: int
    elapsed_s: float
    event_ms: int | None  # the pacing clock's event time (None: not paced, or no row yet)
    lag_s: float  # how far behind its due time the last paced row went out
    fraction: float  # of the bytes of the files this run reads, 0..1

    @property
    def rows_per_s(self) -> float:
        """Rows read per wall second so far."""
        return self.rows_read / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the pace so far (None until there is a pace)."""
        if not 0 < self.fraction < 1 or self.elapsed_s <= 0:
            return 0.0 if self.fraction >= 1 else None
        return self.elapsed_s * (1 - self.fraction) / self.fraction

    def line(self) -> str:
        """One line for the terminal or a log."""
        event = "-" if self.event_ms is None else event_text(self.event_ms)
        eta = self.eta_s
        return (
            f"{self.file}: {self.rows_read:,} rows read, {self.rows_sent:,} sent,"
            f" {self.rows_per_s:,.0f} rows/s, event time {event}, lag {self.lag_s:.1f} s,"
            f" {self.fraction:.0%} done, ETA {'-' if eta is None else duration_text(eta)}"
        )


def event_text(ms: int) -> str:
    """An event time as New York local time with its offset, to the second."""
    try:
        moment = from_epoch_ms(ms).astimezone(_NY)
    except OverflowError:
        return f"{ms} ms"
    return moment.isoformat(timespec="seconds")


def duration_text(seconds: float) -> str:
    """``1h02m``, ``3m05s``, ``12s``."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
