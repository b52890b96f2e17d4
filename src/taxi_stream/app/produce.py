"""Produce: send entries into a stream in batches, count what went, stop cleanly on a signal."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import islice
from operator import itemgetter
from typing import Final

from taxi_stream.core.limits import MAX_BATCH_RECORDS
from taxi_stream.core.records import PutResult
from taxi_stream.ports import ColumnWriter, StreamWriter
from taxi_stream.sources.files import Entry

log = logging.getLogger(__name__)

PRODUCE_BATCH: Final = MAX_BATCH_RECORDS  # one PutRecords call's worth
_KEY_DATA: Final = itemgetter(1, 2)  # an entry's (partition key, data)
_KEY: Final = itemgetter(1)
_DATA: Final = itemgetter(2)
FILE_BATCH: Final = 5_000  # a put of a file into the embedded stream: fewer rows and commits


@dataclass(frozen=True, slots=True)
class Produced:
    """What a producer achieved, by input line.

    ``records`` counts the stream records put (fewer than ``sent`` when KPL aggregates carry
    many entries); ``handled_through`` is the input line up to which every entry is sent or
    failed; ``interrupted`` says a signal stopped it before the input's end.
    """

    sent: int
    failed: int
    failures: list[tuple[int, str]]  # (input line number, reason)
    records: int = 0
    handled_through: int = 0
    interrupted: bool = False


class Interruption:
    """Ctrl-C and SIGTERM while producing: a batch in flight finishes, a wait for input ends.

    Install it as the signal handler. While ``produce`` reads input it raises KeyboardInterrupt
    (so a read blocked on a quiet pipe ends); while a batch is being sent it only takes note,
    and ``produce`` stops after that batch.
    """

    def __init__(self) -> None:
        self.requested = False
        self.breakable = False

    def __call__(self, signum: int, frame: object) -> None:
        self.requested = True
        if self.breakable:
            self.breakable = False
            raise KeyboardInterrupt


@dataclass(slots=True)
class Tally:
    """What went so far: entries sent (trips), stream records put, failures by input line."""

    sent: int = 0
    records: int = 0
    failures: list[tuple[int, str]] = field(default_factory=list)
    last_line: int = 0

    def put(self, stream: StreamWriter, chunk: list[Entry], gate: Interruption) -> None:
        """Send a chunk and empty it, unbreakable from the call to the emptying."""
        if not chunk:
            return
        gate.breakable = False
        result = _put(stream, chunk)
        self.sent += result.sent
        self.records += result.sent if result.records is None else result.records
        self.failures.extend((chunk[i][0], why) for i, why in result.failed)
        self.last_line = chunk[-1][0]
        chunk.clear()
        gate.breakable = not gate.requested


def _put(stream: StreamWriter, chunk: list[Entry]) -> PutResult:
    """Put a chunk's (key, data): as two columns where the stream takes them (no pair a line)."""
    if isinstance(stream, ColumnWriter):
        return stream.put_columns(list(map(_KEY, chunk)), list(map(_DATA, chunk)))
    return stream.put_records(list(map(_KEY_DATA, chunk)))


def produce(
    stream: StreamWriter,
    entries: Iterable[Entry],
    batch: int = PRODUCE_BATCH,
    interruption: Interruption | None = None,
    tally: Tally | None = None,
) -> Produced:
    """Send (line number, partition key, data) entries in batches; count what went and failed.

    With an ``interruption`` installed as the signal handler, a signal ends the input: what
    was read is sent, and the result says so. ``tally`` (a fresh one by default) is counted
    up batch by batch, so another thread (the metrics) can watch it.
    """
    gate = interruption or Interruption()
    tally = Tally() if tally is None else tally
    chunk: list[Entry] = []
    try:
        gate.breakable = interruption is not None and not gate.requested
        pending = iter(entries)
        while True:
            chunk.extend(islice(pending, batch))  # a signal keeps in chunk what was read
            if len(chunk) < batch:
                break  # the input's end
            tally.put(stream, chunk, gate)
            if gate.requested:
                break
        gate.breakable = False  # the last statement a signal may break
    except KeyboardInterrupt:
        if interruption is None:
            raise
    tally.put(stream, chunk, gate)  # the last entries, or those read before the signal
    gate.breakable = False
    failures = tally.failures
    return Produced(
        tally.sent, len(failures), failures, tally.records, tally.last_line, gate.requested
    )
