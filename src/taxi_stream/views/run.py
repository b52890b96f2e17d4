"""The live terminal view: per-vendor totals of the latest windows, throughput, lag, failures."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from rich.console import Group
from rich.table import Table
from rich.text import Text

from taxi_stream.app import Processor
from taxi_stream.clock import now_ms
from taxi_stream.core.records import WindowTotals
from taxi_stream.core.totals import Totals, merge
from taxi_stream.core.windows import iso_utc
from taxi_stream.handler import part_from_state

LATEST_WINDOWS = 3


@dataclass(slots=True)
class LiveView:
    """Renders the processor's progress; keeps the previous sample for rates."""

    processor: Processor
    window_seconds: int
    started: float = field(default_factory=time.monotonic)
    _last: tuple[float, int] = (0.0, 0)
    _rate: float = 0.0

    def render(self, produced: int | None = None) -> Group:
        """The current picture: a status line, then the windows table."""
        return Group(self._status(produced), self._table())

    def _status(self, produced: int | None) -> Text:
        now, delivered = time.monotonic(), self.processor.delivered
        last_t, last_n = self._last
        if now - last_t >= 0.5:
            self._rate = (delivered - last_n) / (now - last_t) if last_t else 0.0
            self._last = (now, delivered)
        cursors = self.processor.mapping.cursors
        lag = max((c.behind_ms for c in cursors), default=0)
        failures = sum(c.failures for c in cursors)
        parts = [f"processed {delivered:,} trips", f"{self._rate:,.0f} trips/s", f"lag {lag:,} ms"]
        if produced is not None:
            parts.insert(0, f"produced {produced:,}")
        if failures:
            stuck = [c.shard_id for c in cursors if c.consecutive_failures]
            parts.append(f"[red]failed invocations {failures:,} (retrying: {', '.join(stuck)})")
        return Text.from_markup(" | ".join(parts))

    def _table(self) -> Table:
        table = Table(title=f"Trips per vendor, {self.window_seconds} s tumbling windows")
        for name in ("window (UTC)", "vendor", "trips", "miles", "avg mi", "avg min", "pax", ""):
            table.add_column(name, justify="left" if name in {"window (UTC)", ""} else "right")
        for (vendor, start), totals, status in self._rows():
            table.add_row(
                iso_utc(start)[11:],
                vendor,
                f"{totals.trip_count:,}",
                f"{totals.distance_miles:,.1f}",
                f"{totals.avg_distance_miles or 0:.2f}",
                f"{(totals.avg_duration_s or 0) / 60:.1f}",
                f"{totals.passenger_count:,}",
                status,
            )
        return table

    def _rows(self) -> list[tuple[tuple[str, int], Totals, str]]:
        since = now_ms() - (LATEST_WINDOWS + 1) * self.window_seconds * 1000
        stored: list[WindowTotals] = self.processor.store.windows(start_ms=since)
        closed = {(w.vendor_id, w.window_start_ms): w.totals for w in stored}
        parts = [
            {k: Totals(*v) for k, v in part_from_state(c.state).totals.items()}
            for c in self.processor.mapping.cursors
            if c.state.get("taxiStream")  # a custom handler's state is not ours to read
        ]
        open_ = merge(parts)
        rows = [(k, t, "closed") for k, t in closed.items() if k not in open_]
        rows += [(k, t + closed.get(k, Totals()), "open") for k, t in open_.items()]
        rows.sort(key=lambda row: (-row[0][1], row[0][0]))
        starts = sorted({k[1] for k, _, _ in rows}, reverse=True)[:LATEST_WINDOWS]
        return [row for row in rows if row[0][1] in starts]
