"""``produce``: JSON lines, or exported dead letters, into the stream; resumable by line."""

from __future__ import annotations

import os
import signal
import stat
import sys
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Final

import click

from taxi_stream.app.produce import (
    FILE_BATCH,
    PRODUCE_BATCH,
    Interruption,
    Produced,
    Tally,
    produce,
)
from taxi_stream.app.wiring import Settings, open_stream
from taxi_stream.cli.options import (
    clear_errors,
    common,
    err,
    metrics_options,
    open_dash,
    serving_metrics,
)
from taxi_stream.core import oversize
from taxi_stream.core.errors import TaxiStreamError
from taxi_stream.core.limits import MAX_RECORD_BYTES
from taxi_stream.core.words import count
from taxi_stream.ports import StreamWriter
from taxi_stream.sources.files import Entry, Reading, dead_letters, json_lines

if TYPE_CHECKING:
    from taxi_stream.views.metrics import Sources

INTERRUPTED_EXIT: Final = 130  # as a shell reports a command ended by Ctrl-C
SHOWN: Final = 20  # reasons for failure, and oversize lines, listed one by one
RANGES: Final = 5  # runs of line numbers shown for one reason
DASH: Final = Path("-")  # --from-dead-letters -: stdin


@click.command("produce")
@common(store=False, window=False)
@click.option(
    "--from",
    "source",
    type=click.Path(exists=True, dir_okay=False, allow_dash=True),
    default=None,
    help="JSON-lines file, or - for stdin. Each line is one record, sent byte for byte without"
    " its final newline (a \\r before it stays); blank lines are skipped.",
)
@click.option(
    "--from-dead-letters",
    "letters",
    type=click.Path(exists=True, dir_okay=False, allow_dash=True, path_type=Path),
    default=None,
    help="Replay dead letters: the JSON that `query --dead-letters --format json` writes (a"
    " file, or - for stdin; read whole before the first is sent); each entry's rawBase64 is"
    " sent exactly, as one record.",
)
@click.option(
    "--partition-key",
    type=click.Choice(["line", "id"]),
    default="line",
    show_default=True,
    help="Partition key: the line number (entry number with --from-dead-letters), or the"
    " record's id field (else the line number).",
)
@click.option(
    "--skip-lines",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Skip the first N input lines (entries with --from-dead-letters), to resume an"
    " interrupted produce; lines keep their numbers in the input.",
)
@click.option(
    "--aggregate",
    is_flag=True,
    help="Kinesis only: pack records KPL-style (fewer, larger Kinesis records; cheaper); the"
    " summary says how many Kinesis records carried them.",
)
@metrics_options
@clear_errors
def produce_cmd(
    *,
    data_dir: Path,
    stream_url: str,
    shards: int | None,
    retention_hours: int,
    endpoint_url: str | None,
    region: str | None,
    source: str | None,
    letters: Path | None,
    partition_key: str,
    skip_lines: int,
    aggregate: bool,
    metrics_port: int | None,
    metrics_host: str,
) -> None:
    """Send records into the stream, one per line (invalid ones too), or replay dead letters.

    A line over the 1 MiB record limit is sent as a small marker record, which the consumer
    dead-letters as too_large with its line number and first 4,096 bytes. Ctrl-C or SIGTERM
    stops after the batch in flight and prints the --skip-lines that resumes (exit 130); an
    error after some batches went in prints it too (exit 1).
    """  # fmt: skip
    if source is None and letters is None:
        raise click.UsageError("give --from FILE (or -) or --from-dead-letters FILE")
    if source is not None and letters is not None:
        raise click.UsageError("--from and --from-dead-letters exclude each other; give one")
    if aggregate and stream_url == "local":
        raise click.BadParameter(
            "only Kinesis streams take KPL aggregates", param_hint="--aggregate"
        )
    settings = Settings(
        data_dir,
        stream_url=stream_url,
        endpoint_url=endpoint_url,
        region=region,
        shards=shards,
        retention_hours=retention_hours,
        aggregate=aggregate,
    )
    reading, tally = Reading(), Tally()
    noun = "line" if letters is None else "entry"
    with (
        closing(open_stream(settings)) as stream,
        _entries(source, letters, reading, partition_key, skip_lines) as entries,
        serving_metrics(lambda: metrics_sources(tally), metrics_port, metrics_host),
    ):
        whole = _whole_file(source, letters)
        batch = FILE_BATCH if stream_url == "local" and whole else PRODUCE_BATCH
        try:
            result = _produce(stream, entries, tally, batch)
        except (TaxiStreamError, OSError) as exc:
            if not tally.last_line:  # nothing went: the same command starts it again
                raise
            sent = Produced(tally.sent, len(tally.failures), tally.failures, tally.records,
                            tally.last_line)  # fmt: skip
            _report(sent, reading, noun=noun, skip=skip_lines, aggregate=aggregate, stop=exc)
            raise
    _report(result, reading, noun=noun, skip=skip_lines, aggregate=aggregate)


@contextmanager
def _entries(
    source: str | None, letters: Path | None, reading: Reading, key_by: str, skip: int
) -> Iterator[Iterator[Entry]]:
    """The entries of --from (the file closed after; stdin stays open) or --from-dead-letters."""
    if letters == DASH:  # read whole, as a file is, so a bad export sends nothing
        with open_dash("-", "rb", "--from-dead-letters") as file:
            data = file.read()
        yield dead_letters(Path("stdin"), reading, key_by=key_by, skip=skip, data=data)
        return
    if letters is not None:
        yield dead_letters(letters, reading, key_by=key_by, skip=skip)
        return
    with open_dash(source or "-", "rb", "--from") as file:
        yield json_lines(file, source or "-", reading, key_by=key_by, skip=skip)


def metrics_sources(tally: Tally) -> Sources:
    """What a producer's metrics read: its tally, counted up batch by batch."""
    from taxi_stream.views.metrics import ProducedCounts, Sources  # noqa: PLC0415 - only when asked

    return Sources(produced=lambda: ProducedCounts(trips=tally.sent, records=tally.records))


def _whole_file(source: str | None, letters: Path | None = None) -> bool:
    """Whether the input is all there to read: a regular file (stdin too, redirected from one),
    for --from (``source``) or --from-dead-letters (``letters``). A pipe (a FIFO, /dev/stdin
    from one) or a terminal may bring lines one at a time: it keeps a put of 500."""
    if letters is not None and letters != DASH:
        return letters.is_file()
    if source is None and letters is None:
        return False
    if source is not None and source != "-":
        return Path(source).is_file()
    try:  # stdin, for either
        return stat.S_ISREG(os.fstat(sys.stdin.fileno()).st_mode)
    except (OSError, ValueError, AttributeError):  # no real stdin (closed, or replaced)
        return False


def _produce(stream: StreamWriter, entries: Iterator[Entry], tally: Tally, batch: int) -> Produced:
    """Produce with Ctrl-C and SIGTERM turned into a clean stop after the batch in flight."""
    interruption = Interruption()
    previous = {sig: signal.signal(sig, interruption) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        return produce(stream, entries, batch, interruption=interruption, tally=tally)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def failure_lines(failures: list[tuple[int, str]], noun: str, nouns: str) -> list[str]:
    """The failed lines grouped by reason: ``lines 1..5,000: WHY``; what is left out is counted.

    The first SHOWN reasons are listed, each with its first RANGES runs of line numbers.
    """
    by_reason: dict[str, list[int]] = {}
    for number, why in failures:
        by_reason.setdefault(why, []).append(number)
    out = []
    for why, numbers in list(by_reason.items())[:SHOWN]:
        runs = _runs(sorted(numbers))
        shown = runs[:RANGES]
        label = noun if len(shown) == 1 and shown[0][0] == shown[0][1] else nouns
        text = ", ".join(f"{a:,}" if a == b else f"{a:,}..{b:,}" for a, b in shown)
        line = f"  {label} {text}: {why}"
        hidden = sum(b - a + 1 for a, b in runs[RANGES:])
        if hidden:
            line += f" (and {count(hidden, 'more ' + noun, 'more ' + nouns)} with this reason)"
        out.append(line)
    other = list(by_reason.values())[SHOWN:]
    if other:
        failed = count(sum(len(numbers) for numbers in other), "more " + noun, "more " + nouns)
        out.append(f"  and {failed}, failed for {count(len(other), 'other reason')}")
    return out


def _runs(numbers: list[int]) -> list[tuple[int, int]]:
    """Sorted numbers as runs of consecutive ones: [1, 2, 3, 7] -> [(1, 3), (7, 7)]."""
    runs: list[tuple[int, int]] = []
    for n in numbers:
        if runs and n == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], n)
        else:
            runs.append((n, n))
    return runs


def _say(text: str) -> None:
    """One line on stderr, as it is."""
    err.print(text, markup=False, highlight=False, soft_wrap=True)


def _report(
    result: Produced,
    reading: Reading,
    *,
    noun: str,
    skip: int,
    aggregate: bool,
    stop: Exception | None = None,
) -> None:
    """What was sent and what failed; after a signal or an error (``stop``, raised after this
    by the caller), the --skip-lines that resumes."""
    carried = f" in {result.records:,} Kinesis records" if aggregate else ""
    blanks = f", skipped {reading.blanks:,} blank lines" if reading.blanks else ""
    _say(f"sent {result.sent:,} records{carried}, failed {result.failed:,}{blanks}")
    nouns = "entries" if noun == "entry" else f"{noun}s"
    if skip and reading.lines < skip and not result.interrupted and stop is None:
        _say(f"the input has {reading.lines:,} {nouns}, all skipped by --skip-lines {skip:,}")
    for number, size in reading.oversize[:SHOWN]:
        _say(
            f"  {noun} {number}: {size:,} bytes, over the 1 MiB ({MAX_RECORD_BYTES:,}-byte)"
            f" record limit; sent as a marker the consumer dead-letters as too_large with its"
            f" first {min(size, oversize.HEAD_BYTES):,} bytes"
        )
    if len(reading.oversize) > SHOWN:
        more = count(len(reading.oversize) - SHOWN, "more " + noun, "more " + nouns)
        _say(f"  and {more} over the limit")
    for line in failure_lines(result.failures, noun, nouns):
        _say(line)
    if result.interrupted or stop is not None:
        through = max(skip, result.handled_through)
        done = f"{nouns} 1..{through:,} are handled" if through else f"no {noun} is handled"
        why = "interrupted" if stop is None else "stopped by the error below"
        _say(f"{why}: {done} ({result.sent:,} records sent); resume with --skip-lines {through}")
        if stop is not None:
            return
        raise SystemExit(INTERRUPTED_EXIT)
    if result.failed:
        raise SystemExit(1)
