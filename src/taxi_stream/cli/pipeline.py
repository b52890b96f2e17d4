"""Pipeline commands: ``run`` (everything, live) and ``generate`` (``produce`` has its own)."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console, RenderableType
from rich.live import Live

from taxi_stream.app.accounting import Accounting, accounting
from taxi_stream.app.process import EventSettings, ProcessOptions, Processor
from taxi_stream.app.run import Producing, RunSignals, SimulateJob, start_producer
from taxi_stream.app.wiring import Settings
from taxi_stream.cli.catchup import catch_up_command
from taxi_stream.cli.dashboard import Served, beside_pipeline, check_port, serve_options
from taxi_stream.cli.options import (
    NumberRange,
    clear_errors,
    common,
    err,
    event_options,
    flag_ms,
    metrics_options,
    open_dash,
    require_stdout,
    serving_metrics,
)
from taxi_stream.cli.process import metrics_sources
from taxi_stream.core.limits import MAX_BATCH_SIZE
from taxi_stream.core.windows import window_start_ms
from taxi_stream.core.words import count
from taxi_stream.infra.clock import SYSTEM_CLOCK, Clock
from taxi_stream.runner.mapping import MappingConfig
from taxi_stream.sources.simulator import DEFAULT_START_MS, Simulator, SimulatorConfig
from taxi_stream.views.console import EXIT_INTERRUPTED

if TYPE_CHECKING:
    from taxi_stream.views.metrics import Sources

SNAPSHOT_EVERY_S = 5.0
GIVE_UP_S = 30.0  # the drain ends once all the work left has kept failing this long
MAX_GENERATE_TRIPS = 10_000_000  # some 4 GB of JSON lines: a typo of extra zeros is refused


@click.command()
@common()
@click.option("--trips", type=click.IntRange(min=1), default=None, help="Stop after N trips.")
@click.option(
    "--duration",
    type=NumberRange(min=0, min_open=True),
    default=None,
    help="Stop producing after this many seconds: the --rate trips due in them; a producer that"
    " cannot keep the rate stops 1 s late with fewer, and says so.",
)
@click.option(
    "--rate",
    type=NumberRange(min=0, min_open=True),
    default=5000.0,
    show_default=True,
    help="Trips per second (0 or 'max' is not allowed here; use --as-fast-as-possible).",
)
@click.option("--as-fast-as-possible", is_flag=True, help="Produce without pacing.")
@click.option("--seed", type=int, default=None, help="Simulator seed (default: from the clock).")
@click.option(
    "--malformed",
    type=NumberRange(0, 1),
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
@event_options(clock=True)
@click.option(
    "--quiet",
    is_flag=True,
    help="No live view and no tables: only the final accounting line (and on stderr, errors"
    " and the line that says a signal stopped the run).",
)
@click.option(
    "--dashboard",
    "with_dashboard",
    is_flag=True,
    help="Serve the live web dashboard beside the run, until it ends (URL on stderr).",
)
@serve_options(prefix="dashboard-")
@metrics_options
@clear_errors
def run(
    *,
    data_dir: Path,
    window_seconds: int,
    stream_url: str,
    shards: int | None,
    retention_hours: int,
    store_url: str,
    endpoint_url: str | None,
    region: str | None,
    trips: int | None,
    duration: float | None,
    rate: float,
    as_fast_as_possible: bool,
    seed: int | None,
    malformed: float,
    batch_size: int,
    clock: str,
    event_time: str,
    max_out_of_orderness: int,
    allowed_lateness: int,
    late: str,
    quiet: bool,
    with_dashboard: bool,
    dashboard_host: str,
    dashboard_port: int,
    metrics_port: int | None,
    metrics_host: str,
) -> None:
    """Simulate -> embedded stream -> tumbling windows -> store, with a live view.

    Stops on Ctrl-C or SIGTERM, after --trips or after --duration, then drains: every produced
    trip is counted in a window or dead-lettered before it exits (a drain whose work keeps
    failing for 30 s of the drain ends, not balanced, naming each failing shard's last error).
    Stopped by a signal, it drains alike, then prints one line on stderr (even with --quiet)
    naming the signal and what was drained, and exits 130. A second Ctrl-C cuts the drain short
    (exit 130) with a line on stderr giving the trips produced by then and the `process
    --until-idle` that counts the rest. A failed producer or a damaged file ends it at once,
    with one line and exit status 1. At the end it prints every window of the run (the latest
    12 when there are more) with a totals row, then the accounting line, on stdout; a run that
    ends not balanced exits 1. With --dashboard the web page serves the run's windows, shards
    and dead letters live.
    """  # fmt: skip
    require_stdout()
    settings = Settings(
        data_dir,
        stream_url=stream_url,
        store_url=store_url,
        endpoint_url=endpoint_url,
        region=region,
        shards=shards,
        retention_hours=retention_hours,
    )
    system = SYSTEM_CLOCK
    sim = SimulatorConfig(
        # An unseeded run draws its seed from the clock's nanoseconds: any 32-bit value will do.
        seed=seed if seed is not None else time.time_ns() % 2**32,
        start_ms=system.now_ms(),
        trips_per_second=None if as_fast_as_possible else rate,
        malformed_fraction=malformed,
    )
    options = ProcessOptions(
        mapping=MappingConfig(batch_size, window_seconds),
        clock=clock,
        event=EventSettings(event_time, max_out_of_orderness, allowed_lateness, late),
    )
    dashboard = (dashboard_host, dashboard_port, allowed_lateness) if with_dashboard else None
    # Ctrl-C and SIGTERM (a service manager's stop) drain alike, from before the producer starts.
    with (
        check_port(dashboard) as served,  # bound before the stream and store are created
        Processor(settings, options, clock=system) as processor,
        RunSignals().installed() as signals,
    ):
        producer = start_producer(settings, SimulateJob(sim, trips, duration))
        try:
            metrics = (metrics_port, metrics_host)
            _run_live(
                processor,
                producer,
                signals,
                settings,
                sim.start_ms,
                quiet=quiet,
                metrics=metrics,
                dashboard=served,
            )
        finally:
            producer.stop()


def _run_live(
    processor: Processor,
    producer: Producing,
    signals: RunSignals,
    settings: Settings,
    start_ms: int,
    *,
    quiet: bool,
    metrics: tuple[int | None, str] = (None, ""),
    dashboard: Served | None = None,
) -> None:
    """Consume while ``producer`` produces, drain, then show the windows and the accounting."""
    from taxi_stream.views import run as views  # noqa: PLC0415 - only the live commands need rich views

    before = processor.store.counts()
    since = window_start_ms(start_ms, processor.mapping.window_seconds)
    view = views.RunView(processor.store, processor.mapping, since, _query_hint(settings))
    out = Console(emoji=False)
    screen = _screen(out, quiet, processor.clock)
    windows = views.LIVE_WINDOWS if isinstance(screen, Live) else views.FINAL_WINDOWS

    def sources() -> Sources:
        return metrics_sources(processor, lambda: producer.sent)

    with (
        screen or nullcontext(),
        serving_metrics(sources, *metrics),
        beside_pipeline(settings, dashboard, sources, processor, lambda: producer.sent) as publish,
    ):

        def refresh() -> None:
            publish()
            if screen is not None:
                screen.update(view.render(processor.delivered, producer.sent, windows=windows))

        def stop_producing() -> None:
            producer.stop()
            if not quiet:
                out.print("[yellow]stopping: draining what was produced (Ctrl-C again quits)")

        # a failed producer raises out of here, the consumer's damaged files too
        stop = stop_when(signals, producer, stop_producing)
        drain(processor, refresh, settings, stop=stop, produced=lambda: producer.sent)
    if not quiet:
        out.print(view.render(processor.delivered, producer.sent, windows=views.FINAL_WINDOWS))
        out.line()
    if not processor.mapping.idle():
        err.print(
            f"gave up draining: {processor.gave_up(GIVE_UP_S)}",
            style="red",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    balance = accounting(processor.store, processor.whole_data_dir, before, producer.sent)
    _print_accounting(balance, out, interrupted_by=signals.first)


def stop_when(
    signals: RunSignals, producer: Producing, stop_producing: Callable[[], None]
) -> Callable[[], bool]:
    """The loop's ``stop``: true once the producer ended, or once a signal came (read between
    two polls, never inside one); then the producer is stopped first."""

    def stop() -> bool:
        if signals.requested:
            stop_producing()  # once: the loop asks no more once it drains
            return True
        return not producer.running()

    return stop


def drain(
    processor: Processor,
    tick: Callable[[], None],
    settings: Settings,
    *,
    stop: Callable[[], bool] = lambda: True,
    produced: Callable[[], int] | None = None,
    unit: str = "trip",
) -> None:
    """Consume until ``stop()`` says so, then count what was produced.

    A Ctrl-C (or SIGTERM) that raises in here, the second one (``RunSignals``), cuts it short,
    while the producer is being stopped too: one line on stderr with the trips ``produced()``
    by then and the command that counts the rest, exit 130.
    """
    try:
        processor.loop(stop=stop, tick=tick, give_up_after_s=GIVE_UP_S)
    except KeyboardInterrupt:
        sent = "" if produced is None else f" ({count(produced(), unit)} produced by then)"
        err.print(
            f"drain cut short{sent}: what was produced stays in the stream; count it with"
            f" {catch_up_command(settings, processor.mapping.window_seconds, processor.options)}",
            markup=False,  # a data dir may hold [...]: the command is printed as it is pasted
            highlight=False,
            soft_wrap=True,
        )
        raise SystemExit(EXIT_INTERRUPTED) from None


def _query_hint(settings: Settings) -> str:
    """The command that lists every window of this run's store."""
    store = "" if settings.store_url == "local" else f" --store {settings.store_url}"
    return f"taxi-stream query --data-dir {settings.data_dir}{store}"


class _Snapshots:
    """Where the output is no terminal (a log, a pipe): a snapshot every few seconds."""

    def __init__(self, out: Console, clock: Clock, every_s: float = SNAPSHOT_EVERY_S) -> None:
        self._out, self._clock, self._every_s = out, clock, every_s
        self._next = clock.monotonic() + 1.0  # the first picture once there is something to show

    def __enter__(self) -> _Snapshots:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, renderable: RenderableType) -> None:
        now = self._clock.monotonic()
        if now >= self._next:
            self._out.print(renderable)
            self._next = now + self._every_s


def _screen(out: Console, quiet: bool, clock: Clock) -> _Snapshots | Live | None:
    """Snapshots, a live screen (a terminal; cleared at the end for the final picture), or none."""
    if quiet:
        return None
    if out.is_terminal:
        return Live(console=out, refresh_per_second=4, transient=True)
    return _Snapshots(out, clock)


def _print_accounting(result: Accounting, out: Console, *, interrupted_by: str | None) -> None:
    """The accounting lines on stdout; after a signal, one line on stderr, even with --quiet.

    Exit status 1 when the account is not balanced, else 130 when a signal stopped the run.
    """
    style = "green" if result.in_flight == 0 else "red"
    for line in result.lines():
        out.print(line, style=style, highlight=False, soft_wrap=True)
    if interrupted_by is not None:
        err.print(interrupted_line(result, interrupted_by), highlight=False, soft_wrap=True)
    if result.in_flight:
        raise SystemExit(1)
    if interrupted_by is not None:
        raise SystemExit(EXIT_INTERRUPTED)


def interrupted_line(result: Accounting, signal_name: str) -> str:
    """What a run stopped by ``signal_name`` says of its drain: the trips it produced, and
    whether each is now in a window or a dead letter."""
    produced = result.produced if result.this_run is None else result.this_run
    head = f"interrupted by {signal_name} after {count(produced, 'trip')} produced"
    if result.in_flight == 0:
        return f"{head}; drained: each is in a window or a dead letter"
    if result.in_flight < 0:  # the store holds more than the stream took: another writer
        return f"{head}; the store holds {count(-result.in_flight, 'record')} more than produced"
    return f"{head}; the drain left {count(result.in_flight, 'record')} in flight"


@click.command()
@click.option(
    "--trips",
    type=click.IntRange(1, MAX_GENERATE_TRIPS),
    required=True,
    help="How many trips (about 410 bytes each: at most 10,000,000, some 4 GB).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Simulator seed.")
@click.option(
    "--malformed",
    type=NumberRange(0, 1),
    default=0.0,
    show_default=True,
    help="Fraction of malformed records.",
)
@click.option(
    "--start",
    "start_iso",
    default=None,
    help="Pickup time of the first trip, ISO-8601, UTC without an offset (default:"
    " 2024-11-01T00:00:00Z, so a seed always gives the same bytes).",
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
    """Write simulated trips as JSON lines, the wire format.

    The same --seed, --trips, --malformed and --start always write the same bytes; without
    --start the first pickup is 2024-11-01T00:00:00Z, not the time of the run.
    """  # fmt: skip
    start = flag_ms(start_iso, "--start")
    if start is None:
        start = DEFAULT_START_MS
    sim = Simulator(SimulatorConfig(seed=seed, start_ms=start, malformed_fraction=malformed))
    with open_dash(out_path, "wb", "--out") as out:
        for batch in sim.batches(10_000, count=trips):
            out.write(b"".join(data.replace(b"\n", b" ") + b"\n" for _, data in batch.entries))
