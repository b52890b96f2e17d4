"""What `taxi-stream process` shows: per shard its position, lag, window, retries and failures."""

from __future__ import annotations

import time
from dataclasses import dataclass

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from taxi_stream.core.timefmt import iso_utc
from taxi_stream.runner.invoke import state_bytes
from taxi_stream.runner.mapping import EventSourceMapping, ShardSnapshot
from taxi_stream.views.cells import (
    Line,
    Parts,
    duration,
    sequence_label,
    shard_label,
    short_column,
    size,
    table,
)

STATUS_WIDTH = 11  # "window open"; "waiting for parents" takes two lines


def status(shard: ShardSnapshot) -> str:
    """One word or phrase for where a shard stands."""
    if shard.checkpoint.ended:
        return "ended"
    if not shard.ready:
        return "waiting for parents"
    if shard.stuck or shard.consecutive_failures:
        return "STUCK" if shard.stuck else "retrying"
    if shard.reading:
        return "reading"
    return "window open" if shard.busy else "caught up"


def failed_batches(shard: ShardSnapshot) -> str:
    """How many batches were discarded and where their metadata went."""
    stats = shard.stats
    if not stats.discarded_batches:
        return "-"
    where = stats.sent_to or "nowhere (no destination)"
    return f"{stats.discarded_batches:,} ({stats.discarded_records:,} rec) -> {where}"


def _row(shard: ShardSnapshot) -> list[str | Text]:
    state, saved, stats = status(shard), shard.checkpoint, shard.stats
    start = saved.window_start_ms
    retries = shard.consecutive_failures if shard.retries is None else shard.retries
    return [
        shard_label(shard.shard_id),
        Text(state, style="bold red" if state == "STUCK" else ""),
        sequence_label(saved.position),
        duration(max(stats.iterator_age_ms, 0)),  # below 0: arrival clock ahead of ours
        "-" if start is None else iso_utc(start)[11:19],
        "-" if start is None else size(state_bytes(saved.state)),
        f"{retries:,}",
        f"{stats.failures:,}",
    ]


def _details(shard: ShardSnapshot) -> list[Line]:
    """Lines under the table for what does not fit a cell: the last error, discarded batches."""
    label, lines, stats = shard_label(shard.shard_id), [], shard.stats
    if stats.last_error is not None:
        timeouts = f" ({stats.timeouts:,} timeouts)" if stats.timeouts else ""
        style = "red" if shard.consecutive_failures else "dim"
        lines.append(Line(f"{label} last error{timeouts}: {stats.last_error}", style))
    if stats.discarded_batches:
        lines.append(Line(f"{label} discarded {failed_batches(shard)}"))
    return lines


@dataclass(slots=True)
class ShardView:
    """Renders the mapping per shard; keeps the previous sample for the delivery rate."""

    mapping: EventSourceMapping
    _last: tuple[float, int] = (0.0, 0)
    _rate: float = 0.0

    def render(self, delivered: int) -> Group:
        """The current picture: a status line, one row per shard, then errors and discards."""
        shards = self.mapping.snapshot()
        parts: list[RenderableType] = [self.headline(delivered), self.table(shards)]
        details = [line for shard in shards for line in _details(shard)]
        if details:
            parts += [Text(), *details]
        return Group(*parts)

    def headline(self, delivered: int) -> Parts:
        """Records delivered and discarded, rate, and the mapping's main settings."""
        now = time.monotonic()
        last_t, last_n = self._last
        if now - last_t >= 0.5:
            self._rate = (delivered - last_n) / (now - last_t) if last_t else 0.0
            self._last = (now, delivered)
        config = self.mapping.config
        where = self.mapping.destination.description if self.mapping.destination else "none"
        window = f"{config.window_seconds} s windows (UTC)" if config.windowed else "windows off"
        return Parts.of(
            [
                f"delivered {delivered:,} records",
                f"discarded {self.mapping.discarded:,}",
                f"{self._rate:,.0f} records/s",
                window,
                f"BatchSize {config.batch_size:,}",
                f"on failure: {where}",
            ]
        )

    def table(self, shards: list[ShardSnapshot]) -> Table:
        """One row per shard, 80 columns wide: every cell short, none of them cut."""
        rows = table()
        short_column(rows, "shard", 10, "left")
        rows.add_column("status", width=STATUS_WIDTH)
        short_column(rows, "position", 8)
        short_column(rows, "lag", 7)
        short_column(rows, "window", 8, "left")
        short_column(rows, "state", 7)
        short_column(rows, "retries", 7)
        short_column(rows, "failures", 8)
        for shard in shards:
            rows.add_row(*_row(shard))
        return rows
