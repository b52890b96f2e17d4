"""What `taxi-stream process` shows: per shard its position, lag, window, retries and failures."""

from __future__ import annotations

import time
from dataclasses import dataclass

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from taxi_stream.core.timefmt import iso_utc
from taxi_stream.runner.cursor import ShardCursor
from taxi_stream.runner.invoke import state_bytes
from taxi_stream.runner.mapping import EventSourceMapping
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


def status(mapping: EventSourceMapping, cursor: ShardCursor) -> str:
    """One word or phrase for where a shard stands."""
    if cursor.ended:
        return "ended"
    if not mapping.ready(cursor):
        return "waiting for parents"
    if cursor.stuck or cursor.consecutive_failures:
        return "STUCK" if cursor.stuck else "retrying"
    if not cursor.caught_up or cursor.buffer or cursor.inflight or cursor.queue:
        return "reading"
    return "window open" if cursor.busy else "caught up"


def failed_batches(cursor: ShardCursor) -> str:
    """How many batches were discarded and where their metadata went."""
    if not cursor.discarded_batches:
        return "-"
    where = cursor.sent_to or "nowhere (no destination)"
    return f"{cursor.discarded_batches:,} ({cursor.discarded_records:,} rec) -> {where}"


def _row(mapping: EventSourceMapping, cursor: ShardCursor) -> list[str | Text]:
    state = status(mapping, cursor)
    start = cursor.window_start_ms
    return [
        shard_label(cursor.shard_id),
        Text(state, style="bold red" if state == "STUCK" else ""),
        sequence_label(cursor.position),
        duration(max(cursor.iterator_age_ms, 0)),  # below 0: arrival clock ahead of ours
        "-" if start is None else iso_utc(start)[11:19],
        "-" if start is None else size(state_bytes(cursor.state)),
        f"{cursor.retries if cursor.inflight else cursor.consecutive_failures:,}",
        f"{cursor.failures:,}",
    ]


def _details(cursor: ShardCursor) -> list[Line]:
    """Lines under the table for what does not fit a cell: the last error, discarded batches."""
    label, lines = shard_label(cursor.shard_id), []
    if cursor.last_error is not None:
        timeouts = f" ({cursor.timeouts:,} timeouts)" if cursor.timeouts else ""
        style = "red" if cursor.consecutive_failures else "dim"
        lines.append(Line(f"{label} last error{timeouts}: {cursor.last_error}", style))
    if cursor.discarded_batches:
        lines.append(Line(f"{label} discarded {failed_batches(cursor)}"))
    return lines


@dataclass(slots=True)
class ShardView:
    """Renders the mapping per shard; keeps the previous sample for the delivery rate."""

    mapping: EventSourceMapping
    _last: tuple[float, int] = (0.0, 0)
    _rate: float = 0.0

    def render(self, delivered: int) -> Group:
        """The current picture: a status line, one row per shard, then errors and discards."""
        parts: list[RenderableType] = [self.headline(delivered), self.table()]
        details = [line for cursor in self.mapping.cursors for line in _details(cursor)]
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

    def table(self) -> Table:
        """One row per shard, 80 columns wide: every cell short, none of them cut."""
        shards = table()
        short_column(shards, "shard", 10, "left")
        shards.add_column("status", width=STATUS_WIDTH)
        short_column(shards, "position", 8)
        short_column(shards, "lag", 7)
        short_column(shards, "window", 8, "left")
        short_column(shards, "state", 7)
        short_column(shards, "retries", 7)
        short_column(shards, "failures", 8)
        for cursor in self.mapping.cursors:
            shards.add_row(*_row(self.mapping, cursor))
        return shards
