"""What `taxi-stream process` shows: per shard its position, lag, window, retries and failures."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Final

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from taxi_stream.core.windows import iso_utc
from taxi_stream.runner.cursor import ShardCursor
from taxi_stream.runner.invoke import state_bytes
from taxi_stream.runner.mapping import EventSourceMapping

ERROR_CHARS: Final = 70
SEQUENCE_CHARS: Final = 14


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


def duration(ms: int) -> str:
    """A short human duration."""
    if ms < 1_000:
        return f"{ms} ms"
    if ms < 120_000:
        return f"{ms / 1000:.1f} s"
    if ms < 7_200_000:
        return f"{ms / 60_000:.1f} min"
    return f"{ms / 3_600_000:.1f} h"


def window_text(mapping: EventSourceMapping, cursor: ShardCursor) -> str:
    """The open window and the size of its state, or a dash."""
    start = cursor.window_start_ms
    if start is None:
        return "-"
    end = start + mapping.window_seconds * 1000
    return f"{iso_utc(start)[11:]}-{iso_utc(end)[11:]} ({state_bytes(cursor.state):,} B state)"


def failed_batches(cursor: ShardCursor) -> str:
    """How many batches were discarded and where their metadata went."""
    if not cursor.discarded_batches:
        return "-"
    where = cursor.sent_to or "nowhere (no destination)"
    return f"{cursor.discarded_batches:,} ({cursor.discarded_records:,} rec) -> {where}"


def _short(sequence: str | None) -> str:
    if sequence is None:
        return "start"
    return sequence if len(sequence) <= SEQUENCE_CHARS else "..." + sequence[-SEQUENCE_CHARS:]


def _error(cursor: ShardCursor) -> Text:
    if cursor.last_error is None:
        return Text("-")
    text = cursor.last_error
    text = text if len(text) <= ERROR_CHARS else text[: ERROR_CHARS - 3] + "..."
    return Text(text, style="red" if cursor.consecutive_failures else "dim")


@dataclass(slots=True)
class ShardView:
    """Renders the mapping per shard; keeps the previous sample for the delivery rate."""

    mapping: EventSourceMapping
    _last: tuple[float, int] = (0.0, 0)
    _rate: float = 0.0

    def render(self, delivered: int) -> Group:
        """The current picture: a status line, then one row per shard."""
        return Group(self.headline(delivered), self.table())

    def headline(self, delivered: int) -> Text:
        """Records delivered, rate, and the mapping's main settings."""
        now = time.monotonic()
        last_t, last_n = self._last
        if now - last_t >= 0.5:
            self._rate = (delivered - last_n) / (now - last_t) if last_t else 0.0
            self._last = (now, delivered)
        config = self.mapping.config
        where = self.mapping.destination.description if self.mapping.destination else "none"
        window = f"{config.window_seconds} s windows" if config.windowed else "windows off"
        parts = [
            f"delivered {delivered:,} records",
            f"{self._rate:,.0f} records/s",
            window,
            f"BatchSize {config.batch_size:,}",
            f"on failure: {where}",
        ]
        return Text(" | ".join(parts))

    def table(self) -> Table:
        """One row per shard."""
        table = Table(title="Shards", box=box.SIMPLE_HEAD)
        columns = ("shard", "status", "position", "lag", "open window", "retries", "failures")
        for name in columns:
            table.add_column(
                name, justify="right" if name in {"retries", "failures"} else "left", no_wrap=True
            )
        table.add_column("last error", overflow="ellipsis", no_wrap=True, max_width=48)
        table.add_column("failed batches", overflow="fold")
        for cursor in self.mapping.cursors:
            failures = f"{cursor.failures:,}"
            if cursor.timeouts:
                failures += f" ({cursor.timeouts:,} timeouts)"
            state = status(self.mapping, cursor)
            table.add_row(
                cursor.shard_id,
                Text(state, style="bold red" if state == "STUCK" else ""),
                _short(cursor.position),
                duration(cursor.iterator_age_ms),
                window_text(self.mapping, cursor),
                str(cursor.retries if cursor.inflight else cursor.consecutive_failures),
                failures,
                _error(cursor),
                failed_batches(cursor),
            )
        return table
