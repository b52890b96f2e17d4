"""What every terminal view shares: short ids, numbers with whole units, tables and lines that fit.

At 80 columns nothing may wrap a unit away from its number: short cells sit in columns that never
wrap and have a minimum width (so widths hold still between refreshes), and long free text (an
error, a message, raw bytes) is the only thing cut, with an ellipsis, when the width is short.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from rich import box
from rich.console import Console, ConsoleOptions, RenderResult
from rich.table import Table
from rich.text import Text

from taxi_stream.core.totals import Totals

ELLIPSIS: Final = "…"
SEQUENCE_DIGITS: Final = 7  # a long sequence number is shown as "…" and its last 7 digits
SHARD_PREFIX: Final = "shardId-"
TOTALS_COLUMNS: Final = (("trips", 9), ("miles", 11), ("avg mi", 6), ("avg min", 7), ("pax", 9))
Columns = Sequence[tuple[str, int]]
"""(header, minimum width) of each column of totals."""

Justify = Literal["left", "right"]


def shard_label(shard_id: str) -> str:
    """``shardId-000000000003`` as ``shard-0003``; an id of another shape stays as it is."""
    digits = shard_id.removeprefix(SHARD_PREFIX)
    if digits == shard_id or not digits.isdigit():
        return shard_id
    return f"shard-{int(digits):04d}"


def sequence_label(sequence: str | None, digits: int = SEQUENCE_DIGITS) -> str:
    """A sequence number short enough for a cell: its last digits after an ellipsis."""
    if sequence is None:
        return "start"
    if len(sequence) <= digits + 1:
        return sequence
    return ELLIPSIS + sequence[-digits:]


def duration(ms: int) -> str:
    """A short human duration: at most 7 characters up to 9,999 hours (more than a year)."""
    if ms < 1_000:
        return f"{ms} ms"
    if ms < 59_950:
        return f"{ms / 1000:.1f} s"
    minutes = ms / 60_000
    if minutes < 9.95:
        return f"{minutes:.1f} min"
    if minutes < 119.5:
        return f"{minutes:.0f} min"
    hours = ms / 3_600_000
    return f"{hours:.1f} h" if hours < 99.95 else f"{hours:,.0f} h"


def size(n_bytes: int) -> str:
    """A byte count in at most 7 characters: ``812 B``, ``12.3 kB``, ``1.0 MB``."""
    if n_bytes < 1_000:
        return f"{n_bytes} B"
    kilo = n_bytes / 1_000
    if kilo < 99.95:
        return f"{kilo:.1f} kB"
    if kilo < 999.5:
        return f"{kilo:.0f} kB"
    return f"{n_bytes / 1_000_000:,.1f} MB"


def table(title: str | None = None) -> Table:
    """A borderless table with a rule under its header, two spaces between columns."""
    return Table(
        title=title,
        box=box.HORIZONTALS,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
    )


def short_column(table: Table, header: str, min_width: int, justify: Justify = "right") -> None:
    """A column of short cells (numbers with units, ids, times): never wrapped, never shrunk."""
    table.add_column(header, justify=justify, no_wrap=True, min_width=min_width)


def text_column(table: Table, header: str, min_width: int | None = None) -> None:
    """A column of free text: the first to give way, its cells cut to one line (see ``cut``)."""
    table.add_column(header, min_width=min_width)


def one_line(text: str) -> str:
    """Free text on one line: every run of whitespace (newlines too) becomes one space."""
    return " ".join(text.split())


def cut(text: str, style: str = "") -> Text:
    """A free-text cell: one line, cut with an ellipsis where its column ends."""
    return Text(one_line(text), style=style, no_wrap=True, overflow="ellipsis")


def totals_columns(table: Table, columns: Columns = TOTALS_COLUMNS) -> None:
    """The columns of a window's totals: trips, miles, average miles and minutes, passengers
    (``columns``: their headers and minimum widths, in this order)."""
    for header, min_width in columns:
        short_column(table, header, min_width)


def dollars(cents: int) -> str:
    """Cents as whole US dollars with thousands separators: ``-1,235`` for -123,456 cents."""
    whole = (abs(cents) + 50) // 100  # half a dollar rounds away from zero
    return f"{'-' if cents < 0 and whole else ''}{whole:,}"


def totals_cells(totals: Totals) -> list[str]:
    """A window's totals for ``totals_columns``; the averages are over its trips."""
    avg_miles, avg_s = totals.avg_distance_miles, totals.avg_duration_s
    return [
        f"{totals.trip_count:,}",
        f"{totals.distance_milli / 1000:,.1f}",
        "-" if avg_miles is None else f"{avg_miles:.2f}",
        "-" if avg_s is None else f"{avg_s / 60:.1f}",
        f"{totals.passenger_count:,}",
    ]


def total_row(table: Table, cells: Sequence[str]) -> None:
    """The totals row, bold, under a rule."""
    table.add_section()
    table.add_row(*cells, style="bold")


@dataclass(frozen=True, slots=True)
class Line:
    """One line of free text, cut with an ellipsis at the edge of the screen."""

    text: str
    style: str = ""

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        """The line, no wider than the screen."""
        line = Text(one_line(self.text), style=self.style)
        line.truncate(options.max_width, overflow="ellipsis")
        yield line


@dataclass(frozen=True, slots=True)
class Parts:
    """A status line of parts joined by " | ", broken only between parts when it is too wide.

    A part is a phrase like ``1,234 records``: it is never split, except one wider than the
    screen by itself, which wraps like any text.
    """

    parts: tuple[Text, ...]
    separator: str = " | "

    @classmethod
    def of(cls, parts: Iterable[str | Text]) -> Parts:
        """Parts from plain strings or styled texts."""
        return cls(tuple(Text(p) if isinstance(p, str) else p for p in parts))

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        """As many parts on each line as fit."""
        width, line = options.max_width, Text()
        for part in self.parts:
            if line and line.cell_len + len(self.separator) + part.cell_len > width:
                yield line
                line = Text()
            if line:
                line.append(self.separator)
            line.append_text(part)
        if line:
            yield line
