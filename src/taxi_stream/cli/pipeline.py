"""Pipeline commands: ``run`` (everything, live), ``generate`` and ``produce``."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import click
from rich.console import Console, RenderableType
from rich.live import Live

from taxi_stream.app import (
    Accounting,
    ProcessOptions,
    Processor,
    accounting,
    produce,
    start_producer,
)
from taxi_stream.cli.options import clear_errors, common, err, iso_ms, settings_of
from taxi_stream.clock import now_ms
from taxi_stream.handler import HandlerConfig
from taxi_stream.runner.mapping import MAX_BATCH_SIZE, MappingConfig
from taxi_stream.sources.simulator import Simulator, SimulatorConfig
from taxi_stream.wiring import DEFAULT_HANDLER, Settings, open_stream

SNAPSHOT_EVERY_S = 5.0
GIVE_UP_S = 30.0  # the drain ends once all the work left has kept failing this long


@click.command()
@common()
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

    Stops on Ctrl-C or SIGTERM, after --trips or after --duration, then drains: every produced
    trip is counted in a window or dead-lettered before it exits (a drain whose work keeps
    failing for 30 s ends, not balanced). A failed producer or a damaged file ends it at once,
    with one line and exit status 1.
    """  # fmt: skip
    if kw["window_seconds"] == 0:
        raise click.BadParameter("run needs windows: 1..900 s", param_hint="--window-seconds")
    settings = settings_of(kw)
    size = kw["window_seconds"]
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

    signal.signal(signal.SIGTERM, _interrupt)  # a service manager's stop drains like Ctrl-C
    before = processor.store.counts()
    producer = start_producer(settings, sim, trips=trips, duration_s=duration)
    view = LiveView(processor, processor.mapping.window_seconds)
    out = Console()
    screen = _screen(out)
    try:
        with screen:
            refresh = lambda: screen.update(view.render(producer.sent))  # noqa: E731
            try:  # a failed producer raises out of here, the consumer's damaged files too
                processor.loop(
                    stop=lambda: not producer.running(), tick=refresh, give_up_after_s=GIVE_UP_S
                )
            except KeyboardInterrupt:
                producer.stop()
                out.print("[yellow]stopping: draining what was produced (Ctrl-C again quits)")
                processor.loop(stop=lambda: True, tick=refresh, give_up_after_s=GIVE_UP_S)
            screen.update(view.render(producer.sent), final=True)
    finally:
        producer.stop()
    out.line()
    if not processor.mapping.idle():
        err.print(f"[red]gave up draining: the work left has kept failing for {GIVE_UP_S:g} s")
    _print_accounting(accounting(processor, before, producer.sent), out)


class _Snapshots:
    """Where the output is no terminal (a log, a pipe): a snapshot every few seconds."""

    def __init__(self, out: Console, every_s: float = SNAPSHOT_EVERY_S) -> None:
        self._out, self._every_s = out, every_s
        self._next = time.monotonic() + 1.0  # the first picture once there is something to show

    def __enter__(self) -> _Snapshots:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, renderable: RenderableType, *, final: bool = False) -> None:
        now = time.monotonic()
        if final or now >= self._next:
            self._out.print(renderable)
            self._next = now + self._every_s


class _LiveScreen(Live):
    """A terminal: one view redrawn in place."""

    def update(
        self, renderable: RenderableType, *, final: bool = False, refresh: bool = False
    ) -> None:
        super().update(renderable, refresh=refresh or final)


def _screen(out: Console) -> _Snapshots | _LiveScreen:
    if out.is_terminal:
        return _LiveScreen(console=out, refresh_per_second=4, transient=False)
    return _Snapshots(out)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _print_accounting(result: Accounting, out: Console) -> None:
    style = "green" if result.in_flight == 0 else "red"
    out.print(result.line(), style=style, highlight=False, soft_wrap=True)
    if result.in_flight:
        raise SystemExit(1)


@click.command()
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
    start = iso_ms(start_iso, "--start") or now_ms()
    sim = Simulator(SimulatorConfig(seed=seed, start_ms=start, malformed_fraction=malformed))
    with click.open_file(out_path, "wb") as out:
        for batch in sim.batches(10_000, count=trips):
            out.write(b"".join(data.replace(b"\n", b" ") + b"\n" for _, data in batch.entries))


@click.command("produce")
@common(store=False, window=False)
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
@click.option(
    "--aggregate",
    is_flag=True,
    help="Kinesis only: pack records KPL-style (fewer, larger Kinesis records; cheaper).",
)
@clear_errors
def produce_cmd(source: Any, partition_key: str, aggregate: bool, **kw: Any) -> None:
    """Send JSON lines into the stream, one record per line (invalid ones too)."""  # fmt: skip
    settings = replace(settings_of(kw), aggregate=aggregate)
    if aggregate and settings.stream_url == "local":
        raise click.BadParameter(
            "only Kinesis streams take KPL aggregates", param_hint="--aggregate"
        )
    stream = open_stream(settings)
    numbers: list[int] = []
    result = produce(stream, _lines(source, partition_key, numbers))
    blanks = (numbers[-1] if numbers else 0) - len(numbers)
    skipped = f", skipped {blanks:,} blank lines" if blanks else ""
    err.print(f"sent {result.sent:,} records, failed {result.failed:,}{skipped}", highlight=False)
    for index, why in result.failures[:20]:
        err.print(f"  line {numbers[index]}: {why}", highlight=False)
    if result.failed:
        raise SystemExit(1)


def _lines(source: Any, partition_key: str, numbers: list[int]) -> Iterator[tuple[str, bytes]]:
    """Each non-blank line one record, as is; ``numbers`` gets the line number of each."""
    for number, line in enumerate(source, start=1):
        data = line.rstrip(b"\r\n")
        if not data.strip():
            continue
        numbers.append(number)
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
