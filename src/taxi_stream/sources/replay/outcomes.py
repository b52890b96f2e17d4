"""What a replay is asked to do (options, the put it calls) and what it reports (counts)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Protocol

from taxi_stream.core.limits import MAX_BATCH_RECORDS

if TYPE_CHECKING:
    from taxi_stream.sources.replay.disorder import Disorder

PUT_BATCH: Final = MAX_BATCH_RECORDS  # one PutRecords call's worth


class PutOutcome(Protocol):
    """What the producer reports of one batch (``app.Produced`` is one)."""

    @property
    def sent(self) -> int:
        """Records accepted."""
        ...

    @property
    def failures(self) -> list[tuple[int, str]]:
        """(index in the batch, reason) of each record not accepted."""
        ...


Put = Callable[[list[tuple[str, bytes]]], PutOutcome]


@dataclass(frozen=True, slots=True)
class ReplayOptions:
    """What to replay and how fast."""

    speedup: float | None  # event seconds per wall second; None: as fast as possible
    start_at_ms: int | None = None  # skip rows whose pickup is before this
    limit: int | None = None  # stop after sending this many records
    resume: tuple[str, int] | None = None  # (file name, row): start there
    batch_size: int = PUT_BATCH
    measure: str | None = None  # the event time (pickup, dropoff) whose disorder to measure


@dataclass(slots=True)
class FileCount:
    """One file's counts: rows read = records sent (or failed) + rows skipped by --start-at +
    blank rows (empty, only whitespace, or only empty cells: skipped, as ``produce --from``
    skips blank lines). A row whose quote never closes is one row, however many lines it took."""

    name: str
    layout: str
    first_row: int = 1
    read: int = 0
    skipped: int = 0
    sent: int = 0
    failed: int = 0
    blank: int = 0
    open_quote: tuple[int, int] | None = None  # (row, lines it took): a quote that never closed

    def handled(self) -> int:
        """The rows handled so far: sent, failed, skipped or blank."""
        return self.sent + self.failed + self.skipped + self.blank


@dataclass(slots=True)
class ReplayResult:
    """What a replay did, file by file, and where it stands."""

    files: list[FileCount] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (record id, why), the first
    stopped: bool = False  # stop() ended it
    limited: bool = False  # --limit ended it
    next_row: tuple[str, int] | None = None  # (file name, row) to resume from, when cut short
    error: str | None = None  # the read error that ended it
    disorder: Disorder | None = None  # how far its trips fell behind (with ``measure``), at the end
