"""``replay``: real TLC and Kaggle trip files into the stream, one record a row, paced."""

from __future__ import annotations

import signal
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import click
from rich.live import Live
from rich.text import Text

from taxi_stream.app.process import EventSettings, ProcessOptions, Processor
from taxi_stream.app.produce import Produced, Tally, produce
from taxi_stream.app.replay import TripTimes
from taxi_stream.app.run import RunSignals, start_producer
from taxi_stream.app.wiring import Settings, open_stream
from taxi_stream.cli.dashboard import Served, beside_pipeline, check_port, serve_options
from taxi_stream.cli.lateness import processed_hint
from taxi_stream.cli.options import (
    NumberRange,
    clear_errors,
    common,
    err,
    event_options,
    metrics_options,
    serving_metrics,
)
from taxi_stream.cli.pipeline import GIVE_UP_S, drain, stop_when
from taxi_stream.cli.process import metrics_sources as processor_metrics
from taxi_stream.cli.produce import metrics_sources
from taxi_stream.cli.replay_flags import check_files, produce_flags, resume_point, start_ms
from taxi_stream.cli.replay_report import report, say, say_resume
from taxi_stream.core.errors import SourceError, TaxiStreamError
from taxi_stream.core.watermarks import EventTime
from taxi_stream.infra.clock import SYSTEM_CLOCK
from taxi_stream.ports import Stream
from taxi_stream.runner.mapping import MappingConfig
from taxi_stream.sources.replay.layouts import FORMATS, JsonLinesError
from taxi_stream.sources.replay.outcomes import PUT_BATCH, ReplayOptions, ReplayResult
from taxi_stream.sources.replay.progress import LINE_WIDTH, Progress
from taxi_stream.stores import WindowsMismatchError

if TYPE_CHECKING:
    from taxi_stream.sources.replay.replayer import Replayer
    from taxi_stream.views.metrics import Sources

_Handler = Callable[[int, FrameType | None], object] | int | None  # what signal.signal returns
LOG_EVERY_S = 5.0  # progress lines when stderr is no terminal
LIVE_EVERY_S = 0.25


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@common()
@event_options(clock=True, default_clock="event")
@click.option(
    "--produce-only",
    is_flag=True,
    help="Only send the records (a consumer elsewhere counts them: Lambda on a Kinesis"
    " stream, or a process command); without it the replay processes them too.",
)
@click.option(
    "--speedup",
    type=NumberRange(min=0, min_open=True),
    default=None,
    help="Event seconds per wall second (3600: an hour of trips a second). Default 1, real time.",
)
@click.option("--as-fast-as-possible", is_flag=True, help="Send without pacing.")
@click.option(
    "--start-at",
    default=None,
    help="Skip rows whose pickup is before this ISO-8601 time; without an offset it is New York"
    " local time, as TLC files give pickups (2024-01-01T00:00 is 05:00Z), not UTC as for query.",
)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Stop after N records.")
@click.option(
    "--resume",
    default=None,
    metavar="FILE:ROW",
    help="Start at this row of this file (as printed by an interrupted replay); FILE is the"
    " file's name or its path; one that names none of the files is a usage error (exit 2).",
)
@click.option(
    "--format",
    "layout",
    type=click.Choice(["auto", *FORMATS]),
    default="auto",
    show_default=True,
    help="File layout; auto tells it from the header.",
)
@click.option("--quiet", is_flag=True, help="No progress line.")
@click.option(
    "--dashboard",
    "with_dashboard",
    is_flag=True,
    help="Serve the live web dashboard beside the processing, until it ends (URL on stderr;"
    " not with --produce-only).",
)
@serve_options(prefix="dashboard-")
@metrics_options
@clear_errors
def replay(
    files: tuple[Path, ...],
    *,
    speedup: float | None,
    as_fast_as_possible: bool,
    start_at: str | None,
    limit: int | None,
    resume: str | None,
    layout: str,
    quiet: bool,
    produce_only: bool,
    data_dir: Path,
    window_seconds: int,
    stream_url: str,
    shards: int | None,
    retention_hours: int,
    store_url: str,
    endpoint_url: str | None,
    region: str | None,
    clock: str,
    event_time: str,
    max_out_of_orderness: int,
    allowed_lateness: int,
    late: str,
    with_dashboard: bool,
    dashboard_host: str,
    dashboard_port: int,
    metrics_port: int | None,
    metrics_host: str,
) -> None:
    """Replay TLC trip files (yellow, green, every era; Parquet or CSV) or the Kaggle CSV.

    Every row becomes one record, in file order (rows that cannot map too: dead-lettered), paced
    by pickup time: t0 + (pickup - first pickup) / speedup; rows behind the pacing clock, or
    more than a day ahead of it, go at once. Unless --produce-only, the local event source
    mapping processes the records as they come (event clock by default) into --store, and the
    replay ends with rows read (+ another producer's records) = trips in windows + dead letters
    (a drain whose work keeps failing for 30 s ends, not balanced, naming each failing shard's
    last error; exit 1), and says so when over a tenth of the trips came late, with the
    --max-out-of-orderness that keeps 99% of the file's trips on time (or that the file is not
    ordered by time). Ctrl-C or SIGTERM stops after the batch in flight (and counts what was
    sent) and prints the --resume FILE:ROW that continues; exit 130 (a second one quits at once,
    and still prints the --resume: after the records it knows were sent, or, processing, once
    the stream's rest is counted). A read error mid-file stops too, after sending the rows read
    before it, and prints the same; exit 1. With --dashboard the web page serves the replay's
    windows, shards and dead letters live. A FILE that does not exist, is a directory, or is a
    pipe or a device (replay reads a file twice) is a usage error (exit 2); a Parquet pickup or
    dropoff column that holds no times (epoch numbers, say) is refused in one line, before
    anything is created (exit 1). Columns and oddities: docs/records.md.
    """  # fmt: skip
    if speedup is not None and as_fast_as_possible:
        raise click.UsageError("--speedup and --as-fast-as-possible exclude each other")
    if with_dashboard and produce_only:
        raise click.ClickException(
            "--dashboard shows the processing, and --produce-only processes nothing: drop one"
        )
    options = ReplayOptions(
        speedup=None if as_fast_as_possible else (speedup or 1.0),
        start_at_ms=start_ms(start_at),
        limit=limit,
        resume=resume_point(resume),
        measure=event_time if clock == "event" and not produce_only else None,
    )
    from taxi_stream.sources.replay.replayer import from_resume, open_files  # noqa: PLC0415

    forced = None if layout == "auto" else layout
    check_files(files)
    try:
        opened = open_files(files, forced)  # every file opens, has a layout, before any send
    except JsonLinesError as exc:
        raise JsonLinesError(exc.source, produce_flags()) from None
    try:
        from_resume(opened, options.resume)  # a --resume naming no file is a usage error
    except SourceError as exc:
        raise click.BadParameter(str(exc), param_hint="'--resume'") from None
    job = ReplayJob(files, forced, options, quiet)
    settings = Settings(
        data_dir,
        stream_url=stream_url,
        store_url=store_url,
        endpoint_url=endpoint_url,
        region=region,
        shards=shards,
        retention_hours=retention_hours,
    )
    metrics = (metrics_port, metrics_host)
    if produce_only:
        _produce_only(settings, job, metrics)
        return
    event = EventSettings(event_time, max_out_of_orderness, allowed_lateness, late)
    mapping = MappingConfig(window_seconds=window_seconds)
    options_ = ProcessOptions(mapping=mapping, clock=clock, event=event)
    dashboard = (dashboard_host, dashboard_port, allowed_lateness) if with_dashboard else None
    with check_port(dashboard) as served:  # bound before the stream and store are created
        _replay_and_process(settings, job, options_, metrics, served)


@dataclass(frozen=True, slots=True)
class ReplayJob:
    """The replay of some files, as a producer job (picklable: it runs in a child process)."""

    files: tuple[Path, ...]
    layout: str | None
    options: ReplayOptions
    quiet: bool

    def __call__(
        self, stream: Stream, stopped: Callable[[], bool], sent: Callable[[int], None]
    ) -> ReplayResult:
        """Replay the files into ``stream`` until done or ``stopped()``."""
        from taxi_stream.sources.replay.replayer import Replayer, open_files  # noqa: PLC0415

        opened = open_files(self.files, self.layout)

        def put(entries: list[tuple[str, bytes]]) -> Produced:  # failures by index in entries
            produced = produce(stream, [(i, k, d) for i, (k, d) in enumerate(entries)], PUT_BATCH)
            sent(produced.sent)
            return produced

        made: list[Replayer] = []

        measure = self.options.measure
        times = None if measure is None else TripTimes(dropoff=measure == EventTime.DROPOFF)

        def replayer(tick: Callable[[Progress], None], every_s: float) -> Replayer:
            made.append(
                Replayer(
                    opened,
                    self.options,
                    put,
                    stop=stopped,
                    tick=tick,
                    tick_every_s=every_s,
                    trip_times=None if times is None else times.of,
                )
            )
            return made[0]

        try:
            return _run(replayer, quiet=self.quiet)
        except KeyboardInterrupt:
            raise QuitAtOnce(made[0].unsent() if made else None) from None


class QuitAtOnce(KeyboardInterrupt):
    """A second signal ended the replay mid-batch; ``resume``: where no put had returned."""

    def __init__(self, resume: tuple[str, int] | None) -> None:
        super().__init__()
        self.resume = resume


_Metrics = tuple[int | None, str]  # --metrics-port, --metrics-host


def _produce_only(settings: Settings, job: ReplayJob, metrics: _Metrics) -> None:
    """The replay in this process, into the stream: the consumer is elsewhere."""
    stopping, tally = _StopOnSignal(), Tally()

    def add(count: int) -> None:  # a replay puts one stream record per row sent
        tally.sent, tally.records = tally.sent + count, tally.records + count

    started = SYSTEM_CLOCK.monotonic()
    try:
        with (
            closing(open_stream(settings)) as stream,
            stopping,
            serving_metrics(lambda: metrics_sources(tally), *metrics),
        ):
            result = job(stream, stopping, add)
    except KeyboardInterrupt as exc:
        say("quit at once: the batch in flight may or may not have been sent")
        say_resume(exc.resume if isinstance(exc, QuitAtOnce) else None, twice=True)
        raise SystemExit(130) from None
    report(result, SYSTEM_CLOCK.monotonic() - started)


def _replay_and_process(
    settings: Settings,
    job: ReplayJob,
    options: ProcessOptions,
    metrics: _Metrics,
    dashboard: Served | None = None,
) -> None:
    """The replay in a child process, and the event source mapping here, until both are done;
    ``dashboard``: the socket to serve the page on beside it, and the allowed lateness.

    Ctrl-C and SIGTERM drain alike, as in ``run``: the first is read between two polls.
    """
    started = SYSTEM_CLOCK.monotonic()
    with _opened(settings, options) as processor, RunSignals().installed() as signals:
        gain = processor.gain()
        producer = start_producer(settings, job)

        def sent() -> int:
            return producer.sent

        def sources() -> Sources:
            return processor_metrics(processor, sent)

        try:
            with (
                serving_metrics(sources, *metrics),
                beside_pipeline(settings, dashboard, sources, processor, sent) as publish,
            ):
                stop = stop_when(signals, producer, producer.stop)
                drain(processor, publish, settings, stop=stop, produced=sent, unit="record")
        except SystemExit:  # a second signal cut the drain short: the replay stopped on the first
            producer.stop()
            cut = producer.result()
            say_resume(cut.next_row if isinstance(cut, ReplayResult) else None)
            raise
        finally:
            producer.stop()
        result = producer.result()
        gained = gain.since()
        if not processor.mapping.idle():
            say(f"gave up processing: {processor.gave_up(GIVE_UP_S)}")
    if not isinstance(result, ReplayResult):
        raise TaxiStreamError("the replay ended without its report")
    try:
        report(result, SYSTEM_CLOCK.monotonic() - started, processed=gained)
    finally:
        if (hint := processed_hint(processor, options, result.disorder)) is not None:
            say(hint)


def _opened(settings: Settings, options: ProcessOptions) -> Processor:
    """The processor, or the store's refusal of other windows with advice replay can follow."""
    try:
        return Processor(settings, options)
    except WindowsMismatchError as exc:
        raise exc.advising("--clock") from None


def _run(
    replayer: Callable[[Callable[[Progress], None], float], Replayer], *, quiet: bool
) -> ReplayResult:
    """Run with a live line (a terminal), a line every few seconds (a log), or none (quiet)."""
    if quiet:
        return replayer(lambda progress: None, LOG_EVERY_S).run()
    if not err.is_terminal:
        return replayer(lambda progress: say(progress.line()), LOG_EVERY_S).run()
    width = min(err.width, LINE_WIDTH)
    last: list[Progress] = []

    def show(progress: Progress) -> None:
        last[:] = [progress]
        live.update(Text(progress.line(width), no_wrap=True, overflow="ellipsis"))

    with Live(Text(""), console=err, refresh_per_second=4, transient=True) as live:
        result = replayer(show, LIVE_EVERY_S).run()
    if last:
        say(last[0].line(width))
    return result


class _StopOnSignal:
    """Ctrl-C or SIGTERM asks the replay to stop after the batch in flight; a second one quits."""

    def __init__(self) -> None:
        self.asked = False
        self._previous: list[tuple[int, _Handler]] = []

    def __call__(self) -> bool:
        return self.asked

    def __enter__(self) -> _StopOnSignal:
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._previous.append((signum, signal.signal(signum, self._on_signal)))
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous:
            signal.signal(signum, handler)

    def _on_signal(self, signum: int, frame: object) -> None:
        if self.asked:
            raise KeyboardInterrupt
        self.asked = True
