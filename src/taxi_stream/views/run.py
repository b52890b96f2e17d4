"""What `taxi-stream run` shows: per-vendor totals of the run's windows, their total, progress."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final, Protocol

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from taxi_stream.core.records import WindowTotals
from taxi_stream.core.timefmt import iso_utc
from taxi_stream.core.totals import ZERO, Totals, WindowKey, merge
from taxi_stream.core.words import count
from taxi_stream.function.state import window_totals
from taxi_stream.runner.mapping import EventSourceMapping
from taxi_stream.views.cells import (
    Parts,
    cut,
    shard_label,
    short_column,
    table,
    text_column,
    total_row,
    totals_cells,
    totals_columns,
)

LIVE_WINDOWS: Final = 3  # the live screen: the latest windows
FINAL_WINDOWS: Final = 12  # the final picture and the snapshots: every window, or the latest 12


class WindowReader(Protocol):
    """The read side of a totals store, as far as this view needs it."""

    def windows(
        self, vendor_id: str | None = None, start_ms: int | None = None, end_ms: int | None = None
    ) -> list[WindowTotals]:
        """Windows whose start lies in [start_ms, end_ms)."""
        ...


@dataclass(frozen=True, slots=True)
class WindowRow:
    """One (vendor, window) of the run: stored totals plus what open parts hold."""

    start_ms: int
    vendor_id: str
    totals: Totals
    open: bool


def window_rows(
    stored: Iterable[WindowTotals], open_parts: Mapping[WindowKey, Totals]
) -> list[WindowRow]:
    """Each (vendor, window) once, oldest window first; open while a part is still in state."""
    closed = {(w.vendor_id, w.window_start_ms): w.totals for w in stored}
    rows = [
        WindowRow(start, vendor, totals, False)
        for (vendor, start), totals in closed.items()
        if (vendor, start) not in open_parts
    ]
    rows += [
        WindowRow(start, vendor, totals + closed.get((vendor, start), ZERO), True)
        for (vendor, start), totals in open_parts.items()
    ]
    return sorted(rows, key=lambda row: (row.start_ms, row.vendor_id))


def latest(rows: list[WindowRow], windows: int | None) -> tuple[list[WindowRow], int]:
    """The rows of the latest ``windows`` windows (all of them for None), and how many are left."""
    starts = sorted({row.start_ms for row in rows})
    if windows is None or len(starts) <= windows:
        return rows, 0
    first = starts[-windows]
    return [row for row in rows if row.start_ms >= first], len(starts) - windows


def windows_table(title: str, rows: list[WindowRow], total: Totals) -> Table:
    """Per (vendor, window) its totals, then the totals row (``total``: every window of the run)."""
    windows = table(title)
    short_column(windows, "window", 9, "left")
    text_column(windows, "vendor", 6)
    totals_columns(windows)
    short_column(windows, "status", 6, "left")
    for row in rows:
        windows.add_row(
            iso_utc(row.start_ms)[11:],
            cut(row.vendor_id),  # a record's vendor id, as it is: ``[red]`` is no markup
            *totals_cells(row.totals),
            "open" if row.open else "closed",
        )
    total_row(windows, ["total", "", *totals_cells(total), ""])
    return windows


@dataclass(slots=True)
class RunView:
    """Renders the run's windows and progress; keeps the previous sample for the rate.

    ``since_ms`` is where the run's windows start (earlier ones in the store belong to earlier
    runs); ``query_hint`` is the command that lists every window.
    """

    store: WindowReader
    mapping: EventSourceMapping
    since_ms: int
    query_hint: str
    _last: tuple[float, int] = (0.0, 0)
    _rate: float = 0.0

    def render(
        self, delivered: int, produced: int | None = None, *, windows: int | None = LIVE_WINDOWS
    ) -> Group:
        """A status line, the latest ``windows`` windows (None: all) and the run's totals."""
        rows = self.rows()
        shown, more = latest(rows, windows)
        total = sum((row.totals for row in rows), ZERO)
        title = f"Trips per vendor, {self.mapping.window_seconds} s tumbling windows"
        parts: list[RenderableType] = [
            self._status(delivered, produced),
            windows_table(title, shown, total),
        ]
        if more:
            hidden = count(more, "more window")  # earlier ones, not shown
            parts.append(Text(f"the total includes {hidden}: {self.query_hint}"))
        return Group(*parts)

    def rows(self) -> list[WindowRow]:
        """Every window of the run: what the store holds and what the shards' state still holds.

        A custom handler's state is not ours to read: its open parts show nothing until stored.
        """
        parts = [window_totals(shard.checkpoint.state) for shard in self.mapping.snapshot()]
        return window_rows(self.store.windows(start_ms=self.since_ms), merge(parts))

    def _status(self, delivered: int, produced: int | None) -> Parts:
        now = time.monotonic()
        last_t, last_n = self._last
        if now - last_t >= 0.5:
            self._rate = (delivered - last_n) / (now - last_t) if last_t else 0.0
            self._last = (now, delivered)
        shards = self.mapping.snapshot()
        lag = max((s.stats.behind_ms for s in shards), default=0)
        failures = sum(s.stats.failures for s in shards)
        parts: list[str | Text] = [
            f"processed {delivered:,} records",  # dead letters too: records, not trips
            f"{self._rate:,.0f} records/s",
            f"lag {lag:,} ms",
        ]
        if produced is not None:
            parts.insert(0, f"produced {produced:,}")
        if failures:
            stuck = ", ".join(shard_label(s.shard_id) for s in shards if s.consecutive_failures)
            parts.append(Text(f"failed invocations {failures:,} (retrying: {stuck})", "red"))
        return Parts.of(parts)
