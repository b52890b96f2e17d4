"""In-memory stores for unit tests and experiments: totals and checkpoints, no durability."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from taxi_stream.core.errors import StoreError
from taxi_stream.core.records import Contribution, DeadLetter, WindowTotals
from taxi_stream.core.totals import ZERO
from taxi_stream.core.watermarks import Watermark
from taxi_stream.infra.clock import now_ms
from taxi_stream.runner.checkpoint import Checkpoint
from taxi_stream.stores import stream_claimed, stream_label, windows_label, windows_mismatch

_Key = tuple[str, str, str]  # consumer, stream, shard id


class MemoryStore:
    """Totals and dead letters in dictionaries; implements TotalsStore and TotalsQuery."""

    def __init__(self, *, clock: Callable[[], int] = now_ms) -> None:
        self._clock = clock
        self._windows: dict[tuple[str, int], WindowTotals] = {}
        self._applied: set[tuple[str, int, str]] = set()
        self._letters: dict[str, DeadLetter] = {}
        self._windows_held: str | None = None
        self._streams: dict[str, str] = {}
        self._marks: dict[tuple[str, str], Watermark] = {}

    def close(self) -> None:
        """Nothing to free; here so the memory store is a Store like the others."""

    def claim_windows(self, seconds: int, clock: str) -> None:
        """Record the windows on first use; refuse other ones."""
        want = windows_label(clock, seconds)
        self._windows_held = self._windows_held or want
        if self._windows_held != want:
            raise windows_mismatch("the memory store", self._windows_held, want)

    def claim_stream(self, stream: str, checkpoints_id: str, where: str) -> None:
        """Record the checkpoint store that feeds ``stream`` into this one; refuse another."""
        have = self._streams.setdefault(stream, stream_label(checkpoints_id, where))
        if have.partition(" ")[0] != checkpoints_id:
            raise stream_claimed("the memory store", stream, have)

    def apply(
        self, contributions: Sequence[Contribution], watermark: Watermark | None = None
    ) -> int:
        """Apply contributions not applied before, raise the shard's watermark; count the new."""
        if watermark is not None:
            shard = (watermark.stream, watermark.shard_id)
            if watermark.supersedes(self._marks.get(shard)):
                self._marks[shard] = watermark
        new = 0
        for c in contributions:
            key = (c.vendor_id, c.window_start_ms, c.contribution_id)
            if key in self._applied:
                continue
            self._applied.add(key)
            old = self._windows.get((c.vendor_id, c.window_start_ms))
            self._windows[(c.vendor_id, c.window_start_ms)] = WindowTotals(
                c.vendor_id,
                c.window_start_ms,
                max(c.window_end_ms, old.window_end_ms if old else 0),
                (old.totals if old else ZERO) + c.totals,
                (old.contributions if old else 0) + 1,
                c.clock,
                self._clock(),
            )
            new += 1
        return new

    def watermark(self, stream: str, shard_id: str) -> Watermark | None:
        """The shard's watermark, if any."""
        return self._marks.get((stream, shard_id))

    def watermarks(self) -> list[Watermark]:
        """Every shard's watermark, by stream and shard."""
        return [mark for _, mark in sorted(self._marks.items())]

    def vendors(self, limit: int) -> list[str]:
        """The first ``limit`` vendor ids with windows."""
        return sorted({vendor for vendor, _ in self._windows})[:limit]

    def put_dead_letters(self, letters: Sequence[DeadLetter]) -> int:
        """Keep dead letters once each, by letter id."""
        before = len(self._letters)
        for letter in letters:
            self._letters.setdefault(letter.letter_id, letter)
        return len(self._letters) - before

    def windows(
        self,
        vendor_id: str | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> list[WindowTotals]:
        """Windows whose start lies in [start_ms, end_ms), ordered by vendor then start."""
        return [
            w
            for (vendor, start), w in sorted(self._windows.items())
            if (vendor_id is None or vendor == vendor_id)
            and (start_ms is None or start >= start_ms)
            and (end_ms is None or start < end_ms)
        ]

    def dead_letters(
        self, limit: int | None = None, *, newest_first: bool = False
    ) -> list[DeadLetter]:
        """Dead letters in the order they were first stored, or newest first."""
        letters = list(self._letters.values())
        if newest_first:
            letters.reverse()
        return letters if limit is None else letters[:limit]

    def counts(self) -> tuple[int, int]:
        """(trips counted in windows, dead letters)."""
        return sum(w.totals.trip_count for w in self._windows.values()), len(self._letters)

    def dead_letter_reasons(self) -> dict[str, int]:
        """How many dead letters per reason, every one of them."""
        return dict(Counter(letter.reason for letter in self._letters.values()))


class MemoryUnitOfWork:
    """Checkpoints saved through one unit of work, held until it commits; implements UnitOfWork."""

    def __init__(self) -> None:
        self.saved: dict[_Key, Checkpoint] | None = {}

    def save_checkpoint(
        self, consumer: str, stream: str, shard_id: str, checkpoint: Checkpoint
    ) -> None:
        """Hold a checkpoint until the unit of work commits."""
        if self.saved is None:
            raise StoreError("the unit of work is over; open another one")
        self.saved[(consumer, stream, shard_id)] = checkpoint


class MemoryCheckpointStore:
    """Checkpoints in a dictionary; implements CheckpointStore, one unit of work at a time."""

    def __init__(self) -> None:
        self._checkpoints: dict[_Key, Checkpoint] = {}
        self._open: MemoryUnitOfWork | None = None
        self._id = str(uuid.uuid4())

    def identity(self) -> str:
        """This store's id, made when it was."""
        return self._id

    def load_checkpoint(self, consumer: str, stream: str, shard_id: str) -> Checkpoint | None:
        """The saved checkpoint, if any."""
        return self._checkpoints.get((consumer, stream, shard_id))

    def save_checkpoint(
        self, consumer: str, stream: str, shard_id: str, checkpoint: Checkpoint
    ) -> None:
        """Save a checkpoint in a unit of work of its own."""
        with self.unit_of_work() as work:
            work.save_checkpoint(consumer, stream, shard_id, checkpoint)

    @contextmanager
    def unit_of_work(self) -> Iterator[MemoryUnitOfWork]:
        """Checkpoints saved through the unit land when the block ends; none if it raises."""
        if self._open is not None:
            raise StoreError("a unit of work is open on the memory checkpoint store already")
        work = self._open = MemoryUnitOfWork()
        try:
            yield work
            for key, checkpoint in (work.saved or {}).items():  # kept as a durable store keeps it
                self._checkpoints[key] = Checkpoint.from_document(
                    checkpoint.position, checkpoint.document()
                )
        finally:
            work.saved, self._open = None, None
