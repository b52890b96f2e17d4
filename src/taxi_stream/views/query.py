"""What `taxi-stream query --format table` shows: windows with a totals row, or dead letters."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

from rich.table import Table
from rich.text import Text

from taxi_stream.core.records import DeadLetter, WindowTotals
from taxi_stream.core.timefmt import iso_utc
from taxi_stream.core.totals import ZERO, Totals
from taxi_stream.core.words import count
from taxi_stream.views.cells import (
    cut,
    dollars,
    sequence_label,
    shard_label,
    short_column,
    table,
    text_column,
    total_row,
    totals_cells,
    totals_columns,
)

# A table printed once needs no room for its numbers to grow, so the minimum widths are those
# of the headers: the numbers widen their columns as they need.
QUERY_COLUMNS: Final = (("trips", 5), ("miles", 5), ("avg mi", 6), ("avg min", 7), ("pax", 3))
FINAL_MARK: Final = "✓"
NO_FARES: Final = "n/a"
NO_FARES_CAPTION: Final = (
    f"total $ {NO_FARES}: no fare, tip or amount in these trips (a source without fares, as"
    " Kaggle's)"
)


def windows_table(
    windows: Sequence[WindowTotals], *, final: Callable[[WindowTotals], bool] = lambda w: False
) -> Table:
    """One row per (vendor, window), then the totals of the rows shown, under a title that
    counts the windows.

    When every window starts on one UTC date, the title names it and the window column shows
    the time of day alone: that leaves 80 columns room for a million trips' totals. The last
    column, ``total $``, is ``totalAmount`` (what the passengers paid, refunds subtracted) in
    whole dollars; --format json and csv have every amount in cents. A final window's row
    starts with a check mark (the caption says so when one does). The late trips among the
    rows' trips are counted in the caption when there are any: a column would not fit 80
    columns beside a million trips' totals (json and csv have ``lateTrips`` per window).
    Windows whose every fare, tip and amount is 0 (a source without fares: the Kaggle files)
    show ``n/a`` for ``total $``, and the caption says why, rather than a 0 that reads as data.
    """
    starts = [iso_utc(w.window_start_ms).rstrip("Z").split("T") for w in windows]
    dates = sorted({date for date, _ in starts})
    one_date = len(dates) == 1
    shown = count(len(windows), "window")
    rows = table(f"{shown} of {dates[0]} (UTC)" if one_date else f"{shown} (UTC)")
    text_column(rows, "vendor", 6)
    short_column(rows, "window" if one_date else "window (UTC)", 8 if one_date else 19, "left")
    totals_columns(rows, QUERY_COLUMNS)
    short_column(rows, "total $", 7)
    fares = not windows or any(_has_money(w.totals) for w in windows)
    amount = dollars if fares else (lambda cents: NO_FARES)
    marked = False
    for w, (date, time) in zip(windows, starts, strict=True):
        start = time if one_date else f"{date} {time}"
        vendor = w.vendor_id
        if final(w):
            vendor, marked = f"{FINAL_MARK} {vendor}", True
        rows.add_row(cut(vendor), start, *totals_cells(w.totals), amount(w.totals.amount_cents))
    total = sum((w.totals for w in windows), ZERO)
    total_row(rows, ["total", "", *totals_cells(total), amount(total.amount_cents)])
    captions = []
    if marked:
        captions.append(f"{FINAL_MARK} final: the stream's watermark has passed the window's end")
    if total.late_trips:
        captions.append(f"late trips among these: {total.late_trips:,}")
    if not fares:
        captions.append(NO_FARES_CAPTION)
    rows.caption = "\n".join(captions) or None
    return rows


def _has_money(totals: Totals) -> bool:
    """Whether a window's trips carry any fare, tip or amount (refunds count: not 0)."""
    return bool(totals.fare_cents or totals.tip_cents or totals.amount_cents)


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
        rows.add_row(  # every cell as it is stored: a ``[...]`` in one is no terminal markup
            Text(d.reason),
            Text(shard_label(o.shard_id)),
            Text(sequence_label(o.sequence_number) + sub),
            cut(d.message),
        )
    return rows
