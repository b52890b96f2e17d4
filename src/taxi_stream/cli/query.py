"""``query``: stored window totals or dead letters: a table (with totals), JSON, CSV, Parquet."""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import stat
from collections.abc import Callable, Sequence
from contextlib import closing
from functools import partial
from pathlib import Path
from typing import Final, TypeVar

import click
from rich.console import Console
from rich.table import Table

from taxi_stream.app.wiring import Settings, existing_store
from taxi_stream.cli.options import (
    clear_errors,
    common,
    finality_options,
    flag_ms,
    require_stdout,
)
from taxi_stream.core.errors import RecordError
from taxi_stream.core.records import DeadLetter, Origin, WindowTotals
from taxi_stream.core.timefmt import iso_utc
from taxi_stream.core.totals import Totals
from taxi_stream.core.trip import vendor_key
from taxi_stream.core.windows import WindowClock
from taxi_stream.ports import Store, VendorIndex
from taxi_stream.views.finality import Finality
from taxi_stream.views.query import letters_table, windows_table

T = TypeVar("T")
# Items with every field set: their rows give the Parquet columns their types.
TYPICAL_WINDOW: Final = WindowTotals(
    "1", 0, 60_000, Totals(1, 1_000, 60, 1), 1, WindowClock.ARRIVAL, 0
)
TYPICAL_LETTER: Final = DeadLetter(Origin("s", "shard", "1", 0, 0), "not_json", "m", b"x")
Row = dict[str, str | int | float | bool | None]  # one JSON object or CSV row
SHOW_VENDORS: Final = 20  # a --vendor that matches nothing names at most this many vendors


@click.command()
@common(stream=False, window=False)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv", "parquet"]),
    default="table",
    show_default=True,
    help="table: a row per window, amounts in whole dollars, then a totals row; json, csv: a"
    " record per window, totalFare, totalTip and totalAmount in exact cents; parquet: the"
    " columns of json in a file (needs --out), times as UTC timestamps.",
)
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The file --format parquet writes (atomically: a temporary file, then renamed; a"
    " link's target is replaced, a FIFO or a device written through).",
)
@click.option(
    "--vendor",
    default=None,
    callback=lambda ctx, param, value: vendor_flag(value),
    help="Only this vendor (its id as the records give it: 1, 2, or up to 64 printable"
    " characters). One with no window in the store: stderr names the vendors there are (up"
    " to 20; a SQLite store), stdout stays the empty table, [] or the CSV header.",
)
@click.option(
    "--since",
    default=None,
    help="Windows starting at or after this time (ISO-8601; without an offset, UTC, as the"
    " windows are stored, not New York as for replay --start-at).",
)
@click.option(
    "--until",
    default=None,
    help="Windows starting before this time (ISO-8601; without an offset, UTC).",
)
@finality_options
@click.option("--dead-letters", is_flag=True, help="Show dead letters with their reasons.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most N rows.")
@clear_errors
def query(
    *,
    data_dir: Path,
    store_url: str,
    endpoint_url: str | None,
    region: str | None,
    fmt: str,
    vendor: str | None,
    since: str | None,
    until: str | None,
    allowed_lateness: int,
    idle_timeout: int,
    dead_letters: bool,
    limit: int | None,
    out_path: Path | None,
) -> None:
    """Show stored window totals (the table ends with their total) or dead letters; reads only.

    An event-clock window is final (json/csv/parquet `final`, a check mark in the table) once
    the stream's watermark, the least over its shards that are not idle, passes its end plus
    --allowed-lateness (docs/architecture.md). Arrival-clock windows are never shown final.
    Under the table, the late trips among the rows shown, when there are any.
    """
    _check_out(fmt, out_path)
    if fmt != "parquet":  # parquet goes to --out
        require_stdout()
    settings = Settings(data_dir, store_url=store_url, endpoint_url=endpoint_url, region=region)
    with closing(existing_store(settings)) as store:
        if dead_letters:
            if vendor or since or until:
                raise click.UsageError(
                    "--vendor, --since and --until select windows, not dead letters"
                )
            letters = store.dead_letters(limit)
            _show(fmt, letters, letters_table, _letter_row, (out_path, TYPICAL_LETTER))
        else:
            start_ms, end_ms = flag_ms(since, "--since"), flag_ms(until, "--until")
            if start_ms is not None and end_ms is not None and end_ms <= start_ms:
                raise click.UsageError("--until must be later than --since")
            windows = store.windows(vendor, start_ms, end_ms)
            if not windows and vendor is not None:
                _vendor_hint(store, vendor)
            finality = Finality.of(store.watermarks(), allowed_lateness, idle_timeout)
            _show(
                fmt,
                windows[:limit],
                partial(windows_table, final=finality),
                partial(_window_row, final=finality),
                (out_path, TYPICAL_WINDOW),
            )


def vendor_flag(value: str | None) -> str | None:
    """--vendor as a vendor key (blanks around it ignored, as in a record); a value no record
    can carry (empty, over 64 characters, not printable) is a usage error."""
    if value is None:
        return None
    try:
        return vendor_key(value)
    except RecordError:
        raise click.BadParameter(
            f"not a vendor id (up to 64 printable characters): {value[:40]!r}"
        ) from None


def _vendor_hint(store: Store, vendor: str) -> None:
    """On stderr, when --vendor matched no window: the vendors the store has (up to
    ``SHOW_VENDORS``), unless ``vendor`` is among them (then the time range left it out)."""
    if not isinstance(store, VendorIndex):
        click.echo(
            f"no rows for vendor {vendor!r} (ids match exactly; query without --vendor"
            " lists the windows of every vendor)",
            err=True,
        )
        return
    known = store.vendors(SHOW_VENDORS + 1)
    if vendor in known:
        return
    listed = ", ".join(known[:SHOW_VENDORS]) + (", ..." if len(known) > SHOW_VENDORS else "")
    click.echo(
        f"no rows for vendor {vendor!r}; vendors in the store: {listed or '(none)'}", err=True
    )


def _check_out(fmt: str, out_path: Path | None) -> None:
    """--out goes with --format parquet, and parquet with --out (never binary on a terminal)."""
    if fmt == "parquet" and out_path is None:
        raise click.UsageError("--format parquet writes a file: give --out FILE")
    if fmt != "parquet" and out_path is not None:
        raise click.UsageError("--out is for --format parquet; redirect the other formats")
    if out_path is not None and _is_terminal(out_path):
        raise click.UsageError("--out names a terminal; Parquet is binary: give a file")
    if out_path is not None and not out_path.exists():
        folder = Path(os.path.realpath(out_path)).parent
        if not folder.is_dir():
            raise click.UsageError(f"--out {out_path}: there is no directory {folder}")


def _is_terminal(path: Path) -> bool:
    """Whether ``path`` (links followed) is a terminal device, as ``/dev/stdout`` can be."""
    try:
        if not stat.S_ISCHR(os.stat(path).st_mode):
            return False
        fd = os.open(path, os.O_WRONLY | os.O_NOCTTY)
    except OSError:
        return False
    try:
        return os.isatty(fd)
    finally:
        os.close(fd)


def _show(
    fmt: str,
    items: Sequence[T],
    as_table: Callable[[Sequence[T]], Table],
    as_row: Callable[[T], Row],
    parquet: tuple[Path | None, T],
) -> None:
    """A table with the items (a terminal view), each as a JSON object or CSV row, or a Parquet
    file at ``parquet[0]`` whose column types are those of the typical item ``parquet[1]``."""
    if fmt == "table":
        Console(emoji=False).print(as_table(items) if items else "(no rows)")
    elif fmt == "parquet":
        from taxi_stream.views import export  # noqa: PLC0415 - pyarrow only when asked

        path, typical = parquet
        assert path is not None  # _check_out saw to it
        export.write_parquet([as_row(i) for i in items], export.schema_of(as_row(typical)), path)
    else:
        _emit([as_row(item) for item in items], fmt, header=list(as_row(parquet[1])))


def _window_row(w: WindowTotals, *, final: Callable[[WindowTotals], bool]) -> Row:
    t = w.totals
    return {
        "vendorId": w.vendor_id,
        "windowStart": iso_utc(w.window_start_ms),
        "windowEnd": iso_utc(w.window_end_ms),
        "tripCount": t.trip_count,
        "totalDistanceMiles": t.distance_milli / 1000,
        "totalDurationSeconds": t.duration_s,
        "passengerCount": t.passenger_count,
        "totalFare": t.fare_cents,  # cents, exact
        "totalTip": t.tip_cents,
        "totalAmount": t.amount_cents,
        "avgDistanceMiles": None
        if t.avg_distance_miles is None
        else round(t.avg_distance_miles, 3),
        "avgDurationSeconds": None if t.avg_duration_s is None else round(t.avg_duration_s, 1),
        "lateTrips": t.late_trips,
        "final": final(w),
        "contributions": w.contributions,
        "clock": w.clock,
    }


def _letter_row(d: DeadLetter) -> Row:
    """A dead letter for JSON and CSV, with its exact bytes (base64) to replay it."""
    o = d.origin
    row: Row = {
        "reason": d.reason,
        "message": d.message,
        "stream": o.stream,
        "shardId": o.shard_id,
        "sequenceNumber": o.sequence_number,
        "subSequence": o.sub_sequence,
        "arrival": None if o.arrival_ms is None else iso_utc(o.arrival_ms),
        "raw": d.raw.decode("utf-8", "replace"),
        "rawBase64": base64.b64encode(d.raw).decode("ascii"),
    }
    return row


def _emit(rows: list[Row], fmt: str, header: list[str]) -> None:
    """JSON, or CSV with booleans spelt as JSON spells them (``true``, ``false``); with no rows,
    CSV is its header line alone (the columns of a typical row), as JSON is ``[]``.

    Written as they are: ``color=True`` keeps click from taking ANSI codes out of a dead
    letter's text when stdout is not a terminal (an export is data, not a view).
    """
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2), color=True)
        return
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else header)
    writer.writeheader()
    if rows:
        writer.writerows(
            {k: json.dumps(v) if isinstance(v, bool) else v for k, v in row.items()} for row in rows
        )
    click.echo(buffer.getvalue(), nl=False, color=True)
