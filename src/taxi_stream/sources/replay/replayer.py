"""The replay loop: trip files -> wire records -> the stream, paced by event time, none dropped.

Files are read in the order given, block by block; every row becomes one record (a row that
cannot map is still sent, for the consumer to dead-letter). Records go out in batches of up to
``batch_size`` through the injected ``put`` (the producer ``produce`` uses), flushed whenever the
next row is not yet due. ``stop()`` ends the replay after the batch in flight; the result says
which row to resume from.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from taxi_stream.core.errors import SourceError
from taxi_stream.sources.replay.disorder import DisorderMeter
from taxi_stream.sources.replay.files import Block, TripFile
from taxi_stream.sources.replay.layouts import Columns, detect
from taxi_stream.sources.replay.outcomes import FileCount, Put, ReplayOptions, ReplayResult
from taxi_stream.sources.replay.pacing import Pacer, PacingConfig
from taxi_stream.sources.replay.progress import Progress, Reach, last_row
from taxi_stream.sources.replay.records import (
    NO_TIME,
    Records,
    event_ms,
    is_blank,
    malformed_records,
    not_utf8_records,
    open_quote,
    to_records,
    within_limit,
)
from taxi_stream.sources.replay.times import check_types

TripTimesOf = Callable[[Records], npt.NDArray[np.int64]]
"""The event time of each record the consumer makes a trip of (``NO_TIME``: a dead letter)."""

MAX_WAIT_S: Final = 0.25  # waits are cut in slices this long, to notice stop() and show progress
KEEP_FAILURES: Final = 20


def open_files(
    paths: Sequence[Path], forced_format: str | None = None
) -> list[tuple[TripFile, Columns]]:
    """Open every file and detect its layout, before anything is sent (an error names the file)."""
    opened = []
    seen: set[str] = set()
    for path in paths:
        trip_file = TripFile(path)
        if trip_file.name in seen:
            raise SourceError(f"two files named {trip_file.name}: record ids would repeat")
        seen.add(trip_file.name)
        columns = detect(trip_file.header, str(path), forced_format)
        opened.append((trip_file, check_types(columns, trip_file.types, str(path))))
    return opened


class Replayer:
    """Replays opened files into ``put``; ``clock``, ``sleep`` and ``wall`` (epoch seconds: the
    records' arrival, for the disorder's far-future rows) are injected for tests; with
    ``options.measure``, ``trip_times`` (``app.replay.TripTimes``) weighs the disorder."""

    def __init__(
        self,
        files: list[tuple[TripFile, Columns]],
        options: ReplayOptions,
        put: Put,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        stop: Callable[[], bool] = lambda: False,
        tick: Callable[[Progress], None] = lambda progress: None,
        tick_every_s: float = 1.0,
        wall: Callable[[], float] = time.time,
        trip_times: TripTimesOf | None = None,
    ) -> None:
        self._files, self._resume = from_resume(files, options.resume)
        self._options = options
        self._put, self._clock, self._sleep, self._stop = put, clock, sleep, stop
        self._tick, self._tick_every_s = tick, tick_every_s
        self._pacer = Pacer(PacingConfig(options.speedup, options.start_at_ms), clock)
        self._pending: list[tuple[str, bytes]] = []
        self._pending_last_row = 0
        self._result = ReplayResult()
        self._wall = wall
        if (options.measure is None) != (trip_times is None):
            raise ValueError("a measured replay takes trip_times, and only a measured one does")
        self._disorder = None if options.measure is None else DisorderMeter(options.measure)
        self._trip_times = trip_times
        self._sent_total = 0
        self._lag_s = 0.0
        self._last_event_ms: int | None = None  # the last pickup sent unpaced
        self._started = 0.0
        self._next_tick = 0.0
        self._reach = Reach(sum(f.size for f, _ in self._files))
        self._sure_row = 0  # the last row of the file whose put returned

    def run(self) -> ReplayResult:
        """Replay every file in order; returns the counts (and the resume point if cut short)
        and, with ``measure``, the disorder of the trips it sent."""
        result = self._run()
        if self._disorder is not None:
            result.disorder = self._disorder.summary()
        return result

    def _run(self) -> ReplayResult:
        self._started = self._clock()
        for index, (trip_file, columns) in enumerate(self._files):
            first_row = self._first_row(trip_file.name)
            if index and self._stop():  # between files: the next one is where to go on
                self._result.stopped = True
                self._result.next_row = (trip_file.name, first_row)
                return self._result
            count = FileCount(trip_file.name, columns.layout.name, first_row)
            self._result.files.append(count)
            self._pending_last_row = self._sure_row = first_row - 1
            self._reach.start_file(trip_file.size, self._sure_row)
            try:
                if not self._replay_file(trip_file, columns, count):
                    return self._cut(count)
            except SourceError as exc:  # a read error mid-file: keep what was read, say where
                self._result.error = str(exc)
                return self._cut(count)
            self._flush(count)
            count.read = count.handled()
            self._reach.end_file()
        self._final_tick()
        return self._result

    def _replay_file(self, trip_file: TripFile, columns: Columns, count: FileCount) -> bool:
        """Send one file's rows; False when stop() or --limit ended the replay."""
        for block in trip_file.blocks(columns):
            read = _Read(trip_file.name, len(trip_file.header), count.first_row)
            records, skipped, blank = self._records(block, columns, read)
            count.open_quote = count.open_quote or _open_quote(block)
            self._reach.block(last_row(block), block.done)
            done = self._send(records, count)
            self._measure(records, done)
            count.skipped += _before(skipped, self._pending_last_row + 1, done)
            count.blank += _before(blank, self._pending_last_row + 1, done)
            count.read = count.handled()
            if not done:
                return False
            if not self._pending:  # the block's rows are all sent or skipped
                self._reach.handled(last_row(block))
        return True

    def _measure(self, records: Records, whole: bool) -> None:
        """The disorder of the block's trips sent (all, or up to where --limit or a stop cut),
        put by the wall clock now (their arrival, to within the block's sending)."""
        if self._disorder is None or self._trip_times is None:
            return
        if not whole:  # records are in row order: those sent are the first ones
            records = _head(records, int(np.count_nonzero(records.rows <= self._pending_last_row)))
        self._disorder.note(self._trip_times(records), int(self._wall() * 1000))

    def _first_row(self, name: str) -> int:
        resume = self._resume
        return resume[1] if resume is not None and resume[0] == name else 1

    def _records(
        self, block: Block, columns: Columns, read: _Read
    ) -> tuple[Records, npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """The block's records from the first row on, and the rows (before --start-at, blank)
        that are not sent."""
        source, first_row = read.source, read.first_row
        batch, rows = block.batch, block.rows
        keep = rows >= first_row
        start = self._options.start_at_ms
        skipped = np.empty(0, dtype=np.int64)
        if start is not None and batch.num_rows:
            pickup_ms = event_ms(batch)
            early = (pickup_ms != NO_TIME) & (pickup_ms < start) & keep
            skipped = rows[early]
            keep &= ~early
        if not keep.all():
            batch, rows = batch.filter(pa.array(keep)), rows[keep]
        records = to_records(batch, rows, columns.layout, source)
        malformed = [(row, text) for row, text in block.malformed if row >= first_row]
        blank = np.array([row for row, text in malformed if is_blank(text)], dtype=np.int64)
        malformed = [(row, text) for row, text in malformed if not is_blank(text)]
        if malformed:
            records = _merge(records, malformed_records(malformed, source, read.width))
        not_utf8 = [(row, cells) for row, cells in block.not_utf8 if row >= first_row]
        if not_utf8:
            names = [columns.names[name] for name in columns.names]
            records = _merge(records, not_utf8_records(not_utf8, names, source))
        return within_limit(records, source), skipped, blank

    def _send(self, records: Records, count: FileCount) -> bool:
        """Pace and send a block's records; False when stop() or --limit ended the replay."""
        if self._options.speedup is None:
            return self._send_unpaced(records, count)
        limit = self._options.limit
        size = self._options.batch_size
        events, rows = records.event_ms, records.rows
        total = len(records.data)
        for i in range(total):
            if limit is not None and self._sent_total + len(self._pending) >= limit:
                self._flush(count)
                self._result.limited = True
                return False
            event = int(events[i])
            due = self._pacer.due(None if event == NO_TIME else event)
            if due is not None:
                if due > self._clock():
                    self._flush(count)
                    if not self._wait(due, count):
                        return False
                self._lag_s = self._pacer.lag_s(due)
            self._pending.append((records.keys[i], records.data[i]))
            self._pending_last_row = int(rows[i])
            if len(self._pending) >= size:
                self._flush(count)
                self._maybe_tick(count)
                if self._stop():
                    return False
        self._maybe_tick(count)
        return True

    def _send_unpaced(self, records: Records, count: FileCount) -> bool:
        """As fast as possible: whole batches, no clock."""
        limit, size = self._options.limit, self._options.batch_size
        total, start = len(records.data), 0
        while start < total:
            room = size - len(self._pending)
            if limit is not None:
                room = min(room, limit - self._sent_total - len(self._pending))
                if room <= 0:
                    self._flush(count)
                    self._result.limited = True
                    return False
            end = min(start + room, total)
            self._pending += zip(records.keys[start:end], records.data[start:end], strict=True)
            self._pending_last_row = int(records.rows[end - 1])
            self._note_event(records.event_ms[start:end])
            start = end
            if len(self._pending) >= size:
                self._flush(count)
                self._maybe_tick(count)
                if self._stop():
                    return False
        self._maybe_tick(count)
        return True

    def _note_event(self, events: npt.NDArray[np.int64]) -> None:
        timed = events[events != NO_TIME]
        if len(timed):
            self._last_event_ms = int(timed[-1])

    def _wait(self, due: float, count: FileCount) -> bool:
        while True:
            now = self._clock()
            if now >= due:
                return True
            if self._stop():
                return False
            self._maybe_tick(count)
            self._sleep(min(due - now, MAX_WAIT_S))

    def _flush(self, count: FileCount) -> None:
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        outcome = self._put(batch)
        self._sure_row = int(batch[-1][0])  # partition keys are the row numbers
        self._reach.handled(self._sure_row)
        failures = outcome.failures
        count.sent += len(batch) - len(failures)
        count.failed += len(failures)
        self._sent_total += len(batch)
        room = KEEP_FAILURES - len(self._result.failures)
        self._result.failures += [(batch[index][0], why) for index, why in failures[:room]]

    def _cut(self, count: FileCount) -> ReplayResult:
        """End early (stop or limit): flush what is pending, say where to resume."""
        self._flush(count)
        count.read = count.handled()
        self._result.stopped = not self._result.limited and self._result.error is None
        self._result.next_row = (count.name, self._pending_last_row + 1)
        self._final_tick()
        return self._result

    def _maybe_tick(self, count: FileCount) -> None:
        now = self._clock()
        if now >= self._next_tick:
            self._next_tick = now + self._tick_every_s
            self._tick(self._snapshot(count, self._reach.fraction(), now))

    def _snapshot(self, count: FileCount, fraction: float, now: float) -> Progress:
        earlier = sum(f.handled() for f in self._result.files[:-1])
        read = count.handled() + len(self._pending)
        return Progress(
            file=count.name,
            rows_read=earlier + read,
            rows_sent=self._sent_total,
            elapsed_s=now - self._started,
            event_ms=self._last_event_ms if self._pacer.event_ms is None else self._pacer.event_ms,
            lag_s=self._lag_s,
            fraction=fraction,
        )

    def _final_tick(self) -> None:
        """The last progress, after the last flush: every record sent is counted."""
        last = self.snapshot()
        if last is not None:
            self._tick(last)

    def snapshot(self) -> Progress | None:
        """Where the replay stands now (None before the first file), for the last line."""
        if not self._result.files:
            return None
        return self._snapshot(self._result.files[-1], self._reach.fraction(), self._clock())

    def unsent(self) -> tuple[str, int] | None:
        """(file, row) from which no put has returned: where a replay quit at once goes on (the
        batch in flight then may be sent twice); None before the first file."""
        if not self._result.files:
            return None
        return self._result.files[-1].name, self._sure_row + 1


@dataclass(frozen=True, slots=True)
class _Read:
    """What a block's rows are read from: the file's name, its header's width, the first row."""

    source: str
    width: int
    first_row: int


def from_resume(
    files: list[tuple[TripFile, Columns]], resume: tuple[str, int] | None
) -> tuple[list[tuple[TripFile, Columns]], tuple[str, int] | None]:
    """The files from the one ``resume`` names (its name, its path as given, or resolved)."""
    if resume is None:
        return files, None
    wanted, row = resume
    matches = [i for i, (trip_file, _) in enumerate(files) if _names(trip_file, wanted)]
    if len(matches) != 1:
        names = ", ".join(trip_file.name for trip_file, _ in files)
        why = "not among the files" if not matches else "it names more than one of the files"
        raise SourceError(f"cannot resume at {wanted}: {why} ({names})")
    return files[matches[0] :], (files[matches[0]][0].name, row)


def _names(trip_file: TripFile, wanted: str) -> bool:
    if wanted in (trip_file.name, str(trip_file.path)):
        return True
    try:
        return Path(wanted).resolve() == trip_file.path.resolve()
    except OSError:
        return False


def _before(skipped: npt.NDArray[np.int64], next_row: int, whole: bool) -> int:
    """How many skipped rows count as read: all of them, or those before the stop point."""
    return len(skipped) if whole else int(np.count_nonzero(skipped < next_row))


def _open_quote(block: Block) -> tuple[int, int] | None:
    """The (row, lines taken) of a malformed row of the block whose quote never closes."""
    for row, text in block.malformed:
        taken = open_quote(text)
        if taken is not None:
            return row, taken
    return None


def _head(records: Records, n: int) -> Records:
    """The first ``n`` records."""
    r = records
    return Records(r.rows[:n], r.event_ms[:n], r.keys[:n], r.data[:n], r.dropoff_ms[:n])


def _merge(records: Records, extra: Records) -> Records:
    rows = np.concatenate([records.rows, extra.rows])
    order = np.argsort(rows, kind="stable")
    keys, data = records.keys + extra.keys, records.data + extra.data
    return Records(
        rows[order],
        np.concatenate([records.event_ms, extra.event_ms])[order],
        [keys[i] for i in order],
        [data[i] for i in order],
        np.concatenate([records.dropoff_ms, extra.dropoff_ms])[order],
    )
