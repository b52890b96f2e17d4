"""The ``taxi-stream`` command line: thin, it parses, calls the app, formats."""

from __future__ import annotations

import csv
import io
import json
import sys
import time
from collections.abc import Callable, Iterator
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.live import Live

from taxi_stream.app import (
    Accounting,
    ProcessOptions,
    Processor,
    accounting,
    now_ms,
    produce,
    start_producer,
)
from taxi_stream.aws_cli import aws
from taxi_stream.core.errors import TaxiStreamError
from taxi_stream.core.records import WindowTotals
from taxi_stream.core.windows import iso_utc, parse_iso_ms
from taxi_stream.handler import CLOCKS, HandlerConfig
from taxi_stream.runner.mapping import MAX_BATCH_SIZE, MappingConfig
from taxi_stream.sources.simulator import Simulator, SimulatorConfig
from taxi_stream.wiring import DEFAULT_HANDLER, Settings, open_store, open_stream

F = TypeVar("F", bound=Callable[..., Any])
MAX_LINE_BYTES = 1_048_576

err = Console(stderr=True)


def clear_errors(fn: F) -> F:
    """Turn our errors and OS errors into one line on stderr and exit status 1."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (TaxiStreamError, OSError) as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper  # type: ignore[return-value]


def common(fn: F) -> F:
    """Options every command takes."""
    options = [
        click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
                     default=Path("data"), show_default=True, envvar="TAXI_STREAM_DATA_DIR",
                     show_envvar=True, help="Where the embedded stream and the store live."),
        click.option("--window-seconds", type=click.IntRange(0, 900), default=60,
                     show_default=True, envvar="TAXI_STREAM_WINDOW_SECONDS", show_envvar=True,
                     help="Tumbling window size (1..900; 0 turns windows off in `process`)."),
        click.option("--stream", "stream_url", default="local", show_default=True,
                     envvar="TAXI_STREAM_STREAM", show_envvar=True,
                     help="'local' (embedded) or kinesis://NAME."),
        click.option("--store", "store_url", default="local", show_default=True,
                     envvar="TAXI_STREAM_STORE", show_envvar=True,
                     help="'local' (SQLite in the data dir), sqlite:///PATH or dynamodb://TABLE."),
        click.option("--endpoint-url", default=None, envvar="AWS_ENDPOINT_URL", show_envvar=True,
                     help="AWS endpoint (a local Kinesis/DynamoDB implementation)."),
        click.option("--shards", type=click.IntRange(1, 64), default=None,
                     help="Shards of a new embedded stream (default 4)."),
    ]  # fmt: skip
    for option in reversed(options):
        fn = option(fn)
    return fn


def settings_of(kw: dict[str, Any]) -> Settings:
    """Pop the common options into Settings."""
    return Settings(
        data_dir=kw.pop("data_dir"),
        stream_url=kw.pop("stream_url"),
        store_url=kw.pop("store_url"),
        endpoint_url=kw.pop("endpoint_url"),
        shards=kw.pop("shards"),
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="taxi-stream")
def main() -> None:
    """Real-time NYC taxi-trip analytics: per-vendor tumbling-window totals, stored exactly once."""


@main.command()
@common
@click.option("--trips", type=click.IntRange(min=1), default=None, help="Stop after N trips.")
@click.option(
    "--duration",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Stop producing after this many seconds.",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=0, min_open=True),
    default=5000.0,
    show_default=True,
    help="Trips per second (0 or 'max' is not allowed here; use --as-fast-as-possible).",
)
@click.option("--as-fast-as-possible", is_flag=True, help="Produce without pacing.")
@click.option("--seed", type=int, default=None, help="Simulator seed (default: from the clock).")
@click.option(
    "--malformed",
    type=click.FloatRange(0, 1),
    default=0.001,
    show_default=True,
    help="Fraction of malformed records to inject.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(1, MAX_BATCH_SIZE),
    default=MAX_BATCH_SIZE,
    show_default=True,
    help="BatchSize of the event source mapping.",
)
@clear_errors
def run(**kw: Any) -> None:
    """Simulate -> embedded stream -> tumbling windows -> store, with a live view.

    Stops on Ctrl-C, after --trips or after --duration, then drains: every produced trip is
    counted in a window or dead-lettered before it exits.
    """  # fmt: skip
    settings = settings_of(kw)
    size = kw["window_seconds"] or 60
    sim = SimulatorConfig(
        seed=kw["seed"] if kw["seed"] is not None else time.time_ns() % 2**32,
        start_ms=now_ms(),
        trips_per_second=None if kw["as_fast_as_possible"] else kw["rate"],
        malformed_fraction=kw["malformed"],
    )
    options = ProcessOptions(
        DEFAULT_HANDLER, MappingConfig(kw["batch_size"], size), HandlerConfig(window_seconds=size)
    )
    processor = Processor(settings, options)
    _run_live(processor, settings, sim, trips=kw["trips"], duration=kw["duration"])


def _run_live(
    processor: Processor,
    settings: Settings,
    sim: SimulatorConfig,
    *,
    trips: int | None,
    duration: float | None,
) -> None:
    from taxi_stream.view import LiveView  # noqa: PLC0415 - only the live commands need rich views

    producer, stop, sent = start_producer(settings, sim, trips=trips, duration_s=duration)
    view = LiveView(processor, processor.mapping.window_seconds)
    out = Console()
    with Live(view.render(0), console=out, refresh_per_second=4, transient=False) as live:
        try:
            processor.loop(
                stop=lambda: not producer.is_alive(),
                tick=lambda: live.update(view.render(sent.value)),
            )
        except KeyboardInterrupt:
            stop.set()
            producer.join()
            live.console.print("[yellow]stopping: draining what was produced (Ctrl-C again quits)")
            processor.loop(stop=lambda: True, tick=lambda: live.update(view.render(sent.value)))
        live.update(view.render(sent.value))
    producer.join()
    out.line()
    _print_accounting(accounting(processor), out)


def _print_accounting(result: Accounting, out: Console) -> None:
    style = "green" if result.in_flight == 0 else "red"
    out.print(result.line(), style=style, highlight=False, soft_wrap=True)
    if result.in_flight:
        raise SystemExit(1)


@main.command()
@click.option("--trips", type=click.IntRange(min=1), required=True, help="How many trips.")
@click.option("--seed", type=int, default=0, show_default=True, help="Simulator seed.")
@click.option(
    "--malformed",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Fraction of malformed records.",
)
@click.option(
    "--start",
    "start_iso",
    default=None,
    help="Pickup time of the first trip, ISO-8601 (default: now).",
)
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, allow_dash=True),
    default="-",
    show_default=True,
    help="JSON-lines file, or - for stdout.",
)
@clear_errors
def generate(trips: int, seed: int, malformed: float, start_iso: str | None, out_path: str) -> None:
    """Write simulated trips as JSON lines, the wire format."""  # fmt: skip
    start = parse_iso_ms(start_iso) if start_iso else now_ms()
    sim = Simulator(SimulatorConfig(seed=seed, start_ms=start, malformed_fraction=malformed))
    with click.open_file(out_path, "wb") as out:
        for batch in sim.batches(10_000, count=trips):
            out.write(b"".join(data.replace(b"\n", b" ") + b"\n" for _, data in batch.entries))


@main.command("produce")
@common
@click.option(
    "--from",
    "source",
    type=click.File("rb"),
    required=True,
    help="JSON-lines file, or - for stdin. Each line is one record, sent as is.",
)
@click.option(
    "--partition-key",
    type=click.Choice(["line", "id"]),
    default="line",
    show_default=True,
    help="Partition key: the line number, or the record's id field.",
)
@clear_errors
def produce_cmd(source: Any, partition_key: str, **kw: Any) -> None:
    """Send JSON lines into the stream, one record per line (invalid ones too)."""  # fmt: skip
    settings = settings_of(kw)
    kw.pop("window_seconds")
    stream = open_stream(settings)
    result = produce(stream, _lines(source, partition_key))
    err.print(f"sent {result.sent:,} records, failed {result.failed:,}", highlight=False)
    for index, why in result.failures[:20]:
        err.print(f"  line {index + 1}: {why}", highlight=False)
    if result.failed:
        raise SystemExit(1)


def _lines(source: Any, partition_key: str) -> Iterator[tuple[str, bytes]]:
    for number, line in enumerate(source, start=1):
        data = line.rstrip(b"\r\n")
        if not data.strip():
            continue
        key = str(number)
        if partition_key == "id":
            key = _id_of(data) or key
        yield key, data


def _id_of(data: bytes) -> str | None:
    try:
        value = json.loads(data)
    except ValueError:
        return None
    trip_id = value.get("id") if isinstance(value, dict) else None
    return str(trip_id)[:256] if trip_id not in (None, "") else None


@main.command()
@common
@click.option(
    "--handler",
    default=DEFAULT_HANDLER,
    show_default=True,
    help="The Lambda handler to run, as module:function.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(1, MAX_BATCH_SIZE),
    default=MAX_BATCH_SIZE,
    show_default=True,
    help="BatchSize.",
)
@click.option(
    "--clock",
    type=click.Choice(CLOCKS),
    default="arrival",
    show_default=True,
    envvar="WINDOW_CLOCK",
    show_envvar=True,
    help="Window clock of our handler.",
)
@click.option(
    "--until-idle",
    is_flag=True,
    help="Drain: once the stream is consumed, close open windows and exit 0.",
)
@click.option(
    "--maximum-batching-window-in-seconds",
    type=click.IntRange(0, 300),
    default=0,
    show_default=True,
    envvar="TAXI_STREAM_MAXIMUM_BATCHING_WINDOW",
    show_envvar=True,
    help="MaximumBatchingWindowInSeconds: gather records this long before invoking.",
)
@click.option(
    "--starting-position",
    type=click.Choice(["TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"]),
    default="TRIM_HORIZON",
    show_default=True,
    envvar="TAXI_STREAM_STARTING_POSITION",
    show_envvar=True,
    help="StartingPosition of shards without a checkpoint.",
)
@click.option(
    "--starting-position-timestamp",
    default=None,
    envvar="TAXI_STREAM_STARTING_POSITION_TIMESTAMP",
    show_envvar=True,
    help="StartingPositionTimestamp for AT_TIMESTAMP: ISO-8601 or Unix seconds.",
)
@click.option(
    "--maximum-retry-attempts",
    type=click.IntRange(-1, 10_000),
    default=-1,
    show_default=True,
    envvar="TAXI_STREAM_MAXIMUM_RETRY_ATTEMPTS",
    show_envvar=True,
    help="MaximumRetryAttempts (-1: retry until the record expires).",
)
@click.option(
    "--maximum-record-age-in-seconds",
    type=click.IntRange(-1, 604_800),
    default=-1,
    show_default=True,
    envvar="TAXI_STREAM_MAXIMUM_RECORD_AGE",
    show_envvar=True,
    help="MaximumRecordAgeInSeconds: -1 (never discard by age) or 60..604800.",
)
@click.option(
    "--bisect-batch-on-function-error",
    is_flag=True,
    envvar="TAXI_STREAM_BISECT_BATCH_ON_FUNCTION_ERROR",
    show_envvar=True,
    help="BisectBatchOnFunctionError: split a failed batch in two before retrying.",
)
@click.option(
    "--report-batch-item-failures",
    is_flag=True,
    envvar="TAXI_STREAM_REPORT_BATCH_ITEM_FAILURES",
    show_envvar=True,
    help="FunctionResponseTypes ReportBatchItemFailures: honour batchItemFailures.",
)
@click.option(
    "--parallelization-factor",
    type=click.IntRange(1, 10),
    default=1,
    show_default=True,
    envvar="TAXI_STREAM_PARALLELIZATION_FACTOR",
    show_envvar=True,
    help="ParallelizationFactor (only 1 with tumbling windows).",
)
@click.option(
    "--on-failure",
    default=None,
    envvar="TAXI_STREAM_ON_FAILURE",
    show_envvar=True,
    help="On-failure destination for discarded batches: file://PATH (JSON lines) "
    "or sqs://QUEUE_URL_OR_NAME.",
)
@click.option(
    "--function-timeout",
    type=click.FloatRange(0, 900, min_open=True),
    default=60.0,
    show_default=True,
    envvar="TAXI_STREAM_FUNCTION_TIMEOUT",
    show_envvar=True,
    help="The handler's timeout in seconds; a timed-out invocation fails.",
)
@click.option(
    "--idle-window-close",
    type=click.FloatRange(0, 120),
    default=1.0,
    show_default=True,
    envvar="TAXI_STREAM_IDLE_WINDOW_CLOSE",
    show_envvar=True,
    help="Close a window this many seconds after its end when no records arrive.",
)
@click.option(
    "--give-up-after",
    type=click.FloatRange(min=0),
    default=30.0,
    show_default=True,
    envvar="TAXI_STREAM_GIVE_UP_AFTER",
    show_envvar=True,
    help="With --until-idle: exit 3 once all work left has kept failing this long.",
)
@click.option("--quiet", is_flag=True, help="No live view; one line per stuck shard or discard.")
@clear_errors
def process(handler: str, batch_size: int, clock: str, until_idle: bool, **kw: Any) -> None:
    """Run the local event source mapping: stream -> handler -> store, with a live shard view.

    The flags are the AWS event source mapping settings, with AWS's behaviour
    (docs/local-runner.md). Exits 3 when --until-idle gives up on work that keeps failing.
    """  # fmt: skip
    from taxi_stream.runner.console import mapping_config, run_processor  # noqa: PLC0415

    settings = settings_of(kw)
    size = kw["window_seconds"]
    options = ProcessOptions(
        handler,
        mapping_config(batch_size, size, kw),
        HandlerConfig(clock=clock, window_seconds=size or 60),
    )
    processor = Processor(settings, options)
    code = run_processor(
        processor, until_idle=until_idle, quiet=kw["quiet"], give_up_after_s=kw["give_up_after"],
        err=err,
    )  # fmt: skip
    if code == 130:
        raise SystemExit(code)
    counted, dead = processor.store.counts()
    err.print(
        f"delivered {processor.delivered:,} records; store holds {counted:,} trips in windows"
        f" and {dead:,} dead letters",
        highlight=False,
    )
    if code:
        raise SystemExit(code)


@main.command()
@common
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
    """Show stored window totals (or dead letters)."""  # fmt: skip
    settings = settings_of(kw)
    store = open_store(settings)
    limit, since, until = kw["limit"], kw["since"], kw["until"]
    if kw["dead_letters"]:
        rows = [_letter_row(d) for d in store.dead_letters(limit)]
    else:
        windows = store.windows(kw["vendor"], _ms(since, "--since"), _ms(until, "--until"))
        rows = [_window_row(w) for w in windows[:limit]]
    _emit(rows, kw["fmt"])


def _ms(text: str | None, flag: str) -> int | None:
    if text is None:
        return None
    try:
        return parse_iso_ms(text)
    except ValueError:
        raise click.BadParameter(f"not an ISO-8601 time: {text!r}", param_hint=flag) from None


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


def _letter_row(d: Any) -> dict[str, Any]:
    o = d.origin
    return {
        "reason": d.reason,
        "message": d.message,
        "stream": o.stream,
        "shardId": o.shard_id,
        "sequenceNumber": o.sequence_number,
        "subSequence": o.sub_sequence,
        "arrival": None if o.arrival_ms is None else iso_utc(o.arrival_ms),
        "raw": d.raw[:200].decode("utf-8", "replace"),
    }


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
    from rich.table import Table  # noqa: PLC0415

    table = Table()
    for name in rows[0] if rows else ["(no rows)"]:
        table.add_column(name)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row.values()))
    Console().print(table)


main.add_command(aws)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
