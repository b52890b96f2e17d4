"""What `taxi-stream query --format table` shows: windows with a totals row, or dead letters."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

from rich.table import Table

from taxi_stream.core.records import DeadLetter, WindowTotals
from taxi_stream.core.timefmt import iso_utc
from taxi_stream.core.totals import ZERO
from taxi_stream.core.words import count
from taxi_stream.views.cells import (
    cut,
    sequence_label,
    shard_label,
    short_column,
    table,
    text_column,
    total_row,
    totals_cells,
    totals_columns,
)

FINAL_MARK: Final = "✓"


def windows_table(
    windows: Sequence[WindowTotals], *, final: Callable[[WindowTotals], bool] = lambda w: False
) -> Table:
    """One row per (vendor, window), then the totals of the rows shown.

    A final window's row starts with a check mark (the caption says so when one does).
    """
    rows = table()
    text_column(rows, "vendor", 6)
    short_column(rows, "window (UTC)", 19, "left")
    totals_columns(rows)
    marked = False
    for w in windows:
        start = iso_utc(w.window_start_ms).replace("T", " ").rstrip("Z")
        vendor = w.vendor_id
        if final(w):
            vendor, marked = f"{FINAL_MARK} {vendor}", True
        rows.add_row(cut(vendor), start, *totals_cells(w.totals))
    if marked:
        rows.caption = f"{FINAL_MARK} final: the stream's watermark has passed the window's end"
    total = sum((w.totals for w in windows), ZERO)
    total_row(rows, ["total", count(len(windows), "window"), *totals_cells(total)])
    return rows


def letters_table(letters: Sequence[DeadLetter]) -> Table:
    """One row per dead letter: reason, where it came from, and its message, cut to fit.

    Sequence numbers (56 digits on Kinesis) show their last digits; the raw bytes are left to
    --format json and csv, which have them whole, so the message gets the rest of the line.
    """
    rows = table()
    short_column(rows, "reason", 6, "left")
    short_column(rows, "shard", 10, "left")
    short_column(rows, "sequence", 8)
    text_column(rows, "message", 7)
    for d in letters:
        o = d.origin
        sub = "" if o.sub_sequence is None else f"#{o.sub_sequence}"
        rows.add_row(
            d.reason,
            shard_label(o.shard_id),
            sequence_label(o.sequence_number) + sub,
            cut(d.message),
        )
    return rows
