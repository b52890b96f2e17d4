"""``query``: stored window totals or dead letters, as a table, JSON or CSV."""

from __future__ import annotations

import base64
import csv
import io
import json
from typing import Any

import click
from rich.console import Console

from taxi_stream.cli.options import clear_errors, common, iso_ms, settings_of
from taxi_stream.core.records import WindowTotals
from taxi_stream.core.windows import iso_utc
from taxi_stream.wiring import existing_store


@click.command()
@common(stream=False, window=False)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
)
@click.option("--vendor", default=None, help="Only this vendor.")
@click.option("--since", default=None, help="Windows starting at or after (ISO-8601).")
@click.option("--until", default=None, help="Windows starting before (ISO-8601).")
@click.option("--dead-letters", is_flag=True, help="Show dead letters with their reasons.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most N rows.")
@clear_errors
def query(**kw: Any) -> None:
    """Show stored window totals (or dead letters), reading the store only."""  # fmt: skip
    settings = settings_of(kw)
    store = existing_store(settings)
    limit, since, until = kw["limit"], kw["since"], kw["until"]
    table = kw["fmt"] == "table"
    if kw["dead_letters"]:
        if kw["vendor"] or since or until:
            raise click.UsageError("--vendor, --since and --until select windows, not dead letters")
        letters = store.dead_letters(limit)
        rows = [(_letter_cells if table else _letter_row)(d) for d in letters]
    else:
        windows = store.windows(kw["vendor"], iso_ms(since, "--since"), iso_ms(until, "--until"))
        rows = [(_window_cells if table else _window_row)(w) for w in windows[:limit]]
    _emit(rows, kw["fmt"])


def _window_row(w: WindowTotals) -> dict[str, Any]:
    t = w.totals
    return {
        "vendorId": w.vendor_id,
        "windowStart": iso_utc(w.window_start_ms),
        "windowEnd": iso_utc(w.window_end_ms),
        "tripCount": t.trip_count,
        "totalDistanceMiles": t.distance_milli / 1000,
        "totalDurationSeconds": t.duration_s,
        "passengerCount": t.passenger_count,
        "avgDistanceMiles": None
        if t.avg_distance_miles is None
        else round(t.avg_distance_miles, 3),
        "avgDurationSeconds": None if t.avg_duration_s is None else round(t.avg_duration_s, 1),
        "contributions": w.contributions,
        "clock": w.clock,
    }


def _window_cells(w: WindowTotals) -> dict[str, Any]:
    """A window as a terminal table row: short columns, readable at 80 columns."""
    t = w.totals
    return {
        "vendor": w.vendor_id,
        "window (UTC)": iso_utc(w.window_start_ms).replace("T", " ").rstrip("Z"),
        "trips": f"{t.trip_count:,}",
        "miles": f"{t.distance_milli / 1000:,.1f}",
        "pax": f"{t.passenger_count:,}",
        "avg mi": f"{t.avg_distance_miles or 0:.2f}",
        "avg min": f"{(t.avg_duration_s or 0) / 60:.1f}",
    }


def _letter_cells(d: Any) -> dict[str, Any]:
    """A dead letter as a terminal table row; --format json has everything."""
    return {
        "reason": d.reason,
        "shard:sequence": f"{d.origin.shard_id.removeprefix('shardId-').lstrip('0') or '0'}"
        f":{d.origin.sequence_number}",
        "message": d.message[:60],
        "raw": d.raw[:40].decode("utf-8", "replace"),
    }


def _letter_row(d: Any) -> dict[str, Any]:
    """A dead letter for JSON and CSV, with its exact bytes (base64) to replay it."""
    o = d.origin
    row = {
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


def _emit(rows: list[dict[str, Any]], fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
    elif fmt == "csv":
        buffer = io.StringIO()
        if rows:
            writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        click.echo(buffer.getvalue(), nl=False)
    else:
        _table(rows)


def _table(rows: list[dict[str, Any]]) -> None:
    from rich import box  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    table = Table(box=box.SIMPLE_HEAD)
    for name in rows[0] if rows else ["(no rows)"]:
        text = name in {"message", "raw", "window (UTC)", "reason"}
        table.add_column(name, justify="left" if text else "right", no_wrap=not text)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row.values()))
    Console().print(table)
