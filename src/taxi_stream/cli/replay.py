"""``replay``: real TLC and Kaggle trip files into the stream, one record a row, paced."""

from __future__ import annotations

import signal
from collections.abc import Callable
from contextlib import closing
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import click
from rich.live import Live
from rich.text import Text

from taxi_stream.app.produce import Produced, Tally, produce
from taxi_stream.app.wiring import Settings, open_stream
from taxi_stream.cli.options import clear_errors, common, err, metrics_options, serving_metrics
from taxi_stream.cli.produce import metrics_sources
from taxi_stream.core.timefmt import to_epoch_ms
from taxi_stream.infra.clock import SYSTEM_CLOCK
from taxi_stream.sources.replay.layouts import FORMATS, NEW_YORK
from taxi_stream.sources.replay.outcomes import PUT_BATCH, ReplayOptions, ReplayResult
from taxi_stream.sources.replay.progress import LINE_WIDTH, Progress, duration_text

if TYPE_CHECKING:
    from taxi_stream.sources.replay.replayer import Replayer

_Handler = Callable[[int, FrameType | None], object] | int | None  # what signal.signal returns
LOG_EVERY_S = 5.0  # progress lines when stderr is no terminal
LIVE_EVERY_S = 0.25


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@common(store=False, window=False)
@click.option(
    "--speedup",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Event seconds per wall second (3600: an hour of trips a second). Default 1, real time.",
)
@click.option("--as-fast-as-possible", is_flag=True, help="Send without pacing.")
@click.option(
    "--start-at",
    default=None,
    help="Skip rows whose pickup is before this ISO-8601 time (without an offset: New York).",
)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Stop after N records.")
@click.option(
    "--resume",
    default=None,
    metavar="FILE:ROW",
    help="Start at this row of this file (as printed by an interrupted replay); FILE is the"
    " file's name or its path.",
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
    data_dir: Path,
    stream_url: str,
    shards: int | None,
    endpoint_url: str | None,
    region: str | None,
    metrics_port: int | None,
    metrics_host: str,
) -> None:
    """Replay TLC trip files (yellow, green, every era; Parquet or CSV) or the Kaggle CSV.

    Every row becomes one record, in file order (rows that cannot map too: the consumer
    dead-letters them), paced by pickup time: t0 + (pickup - first pickup) / speedup; rows
    behind the pacing clock, or more than a day ahead of it, go at once. Ctrl-C or SIGTERM
    stops after the batch in flight and prints the --resume FILE:ROW that continues; exit
    130 (a second one quits at once). A read error mid-file stops too, after sending the rows
    read before it, and prints the same; exit 1. Columns and oddities: docs/records.md.
    Count the records with: process --clock event.
    """  # fmt: skip
    if speedup is not None and as_fast_as_possible:
        raise click.UsageError("--speedup and --as-fast-as-possible exclude each other")
    options = ReplayOptions(
        speedup=None if as_fast_as_possible else (speedup or 1.0),
        start_at_ms=_start_ms(start_at),
        limit=limit,
        resume=_resume_point(resume),
    )
    from taxi_stream.sources.replay.replayer import Replayer, open_files  # noqa: PLC0415 - pyarrow

    opened = open_files(files, None if layout == "auto" else layout)
    settings = Settings(
        data_dir, stream_url=stream_url, endpoint_url=endpoint_url, region=region, shards=shards
    )
    stream = open_stream(settings)
    stopping, sent = _StopOnSignal(), Tally()

    def replayer(tick: Callable[[Progress], None], every_s: float) -> Replayer:
        def put(entries: list[tuple[str, bytes]]) -> Produced:  # failures by index in entries
            done = produce(stream, [(i, k, d) for i, (k, d) in enumerate(entries)], PUT_BATCH)
            sent.sent, sent.records = sent.sent + done.sent, sent.records + done.records
            return done

        return Replayer(opened, options, put, stop=stopping, tick=tick, tick_every_s=every_s)

    clock = SYSTEM_CLOCK
    started = clock.monotonic()
    try:
        with (
            closing(stream),
            stopping,
            serving_metrics(lambda: metrics_sources(sent), metrics_port, metrics_host),
        ):
            result = _run(replayer, quiet=quiet)
    except KeyboardInterrupt:
        _say("quit at once: the batch in flight may or may not have been sent")
        raise SystemExit(130) from None
    _report(result, clock.monotonic() - started)


def _run(
    replayer: Callable[[Callable[[Progress], None], float], Replayer], *, quiet: bool
) -> ReplayResult:
    """Run with a live line (a terminal), a line every few seconds (a log), or none (quiet)."""
    if quiet:
        return replayer(lambda progress: None, LOG_EVERY_S).run()
    if not err.is_terminal:
        return replayer(lambda progress: _say(progress.line()), LOG_EVERY_S).run()
    width = min(err.width, LINE_WIDTH)
    last: list[Progress] = []

    def show(progress: Progress) -> None:
        last[:] = [progress]
        live.update(Text(progress.line(width), no_wrap=True, overflow="ellipsis"))

    with Live(Text(""), console=err, refresh_per_second=4, transient=True) as live:
        result = replayer(show, LIVE_EVERY_S).run()
    if last:
        _say(last[0].line(width))
    return result


def _report(result: ReplayResult, elapsed_s: float) -> None:
    """Rows read and records sent per file, what was not sent, where to resume; the exit code."""
    read = sent = 0
    for count in result.files:
        parts = [f"read {count.read:,} rows", f"sent {count.sent:,} records"]
        if count.first_row > 1:
            parts.insert(0, f"from row {count.first_row:,}")
        if count.skipped:
            parts.append(f"skipped {count.skipped:,} before --start-at")
        if count.failed:
            parts.append(f"failed {count.failed:,}")
        _say(f"{count.name} ({count.layout}): {', '.join(parts)}")
        read, sent = read + count.read, sent + count.sent
    rate = read / elapsed_s if elapsed_s > 0 else 0.0
    _say(
        f"replayed {len(result.files)} file(s): read {read:,} rows, sent {sent:,} records"
        f" in {duration_text(elapsed_s)} ({rate:,.0f} rows/s); once processed, every record"
        " sent is a trip in a window or a dead letter"
    )
    for trip_id, why in result.failures:
        _say(f"  not sent: {trip_id}: {why}")
    _warn_past_the_end(result)
    if result.error is not None:
        _say(f"Error: {result.error}")
    if result.next_row is not None:
        name, row = result.next_row
        why = "stopped by --limit" if result.limited else "interrupted"
        why = "stopped by the read error" if result.error is not None else why
        _say(f"{why} before {name} row {row:,}; to go on: --resume {name}:{row}")
    if result.stopped:
        raise SystemExit(130)
    if result.error is not None or any(count.failed for count in result.files):
        raise SystemExit(1)


def _warn_past_the_end(result: ReplayResult) -> None:
    """--resume at a row past the file's end sends nothing from it: say so."""
    if not result.files or result.next_row is not None:
        return
    first = result.files[0]
    if first.first_row > 1 and first.read == 0:
        _say(
            f"warning: {first.name} has no row {first.first_row:,} or later:"
            " --resume left nothing to send from it"
        )


def _say(text: str) -> None:
    err.print(text, highlight=False, soft_wrap=True)


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


def _start_ms(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise click.BadParameter(
            f"not an ISO-8601 time: {text!r}", param_hint="--start-at"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(NEW_YORK))
    return to_epoch_ms(moment)


def _resume_point(text: str | None) -> tuple[str, int] | None:
    if text is None:
        return None
    name, _, row = text.rpartition(":")
    if not name or not row.isdigit() or int(row) < 1:
        raise click.BadParameter(
            f"expected FILE:ROW (a file name and a row number from 1), got {text!r}",
            param_hint="--resume",
        )
    return name, int(row)
