"""The accounting line: produced = counted in windows + dead-lettered + in flight."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from taxi_stream.core.words import count
from taxi_stream.ports import CountingStream, TotalsQuery

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Accounting:
    """produced = counted in windows + dead-lettered + in flight.

    ``produced`` is every record the embedded stream ever took, when the store is the data
    dir's own (a balance over the whole data dir); otherwise what this run produced, against
    what the store gained during the run. ``this_run`` is what this run produced.
    """

    produced: int
    counted: int
    dead_letters: int
    this_run: int | None = None

    @property
    def in_flight(self) -> int:
        """Records produced but in no window total and no dead letter yet."""
        return self.produced - self.counted - self.dead_letters

    def lines(self) -> list[str]:
        """The summary printed at the end of a run, each line within 80 columns.

        ``produced N = C in windows + D dead letters (balanced)``; when records are in flight,
        ``+ F in flight`` and a line ``NOT balanced: ...`` after it. When earlier runs are in
        the balance, a line naming what this run produced comes first.
        """
        lines = []
        if self.this_run is not None and self.this_run != self.produced:
            lines.append(f"this run produced {self.this_run:,}; with earlier runs:")
        balance = (
            f"produced {self.produced:,} = {self.counted:,} in windows"
            f" + {count(self.dead_letters, 'dead letter')}"
        )
        if self.in_flight == 0:
            return [*lines, f"{balance} (balanced)"]
        if self.in_flight < 0:  # the store holds more than the stream took: another writer
            why = f"the store holds {count(-self.in_flight, 'record')} more than were produced"
        else:
            why = f"{count(self.in_flight, 'record')} in no window and no dead letter"
        return [*lines, f"{balance} + {self.in_flight:,} in flight", f"NOT balanced: {why}"]


def accounting(
    store: TotalsQuery,
    whole_data_dir: CountingStream | None,
    before: tuple[int, int],
    this_run: int,
) -> Accounting:
    """The balance after a run; ``before`` is the store's (counted, dead letters) at its start.

    ``whole_data_dir`` is the embedded stream when the store is the data dir's own (wiring
    says so): then every record it ever took is balanced against everything the store holds.
    """
    counted, dead = store.counts()
    if whole_data_dir is not None:
        return Accounting(whole_data_dir.appended(), counted, dead, this_run)
    return Accounting(this_run, counted - before[0], dead - before[1], this_run)


@dataclass(frozen=True, slots=True)
class Gained:
    """What a replay's processing added to the store, and the records its stream took
    meanwhile (another producer's too; None when the stream does not count them)."""

    trips: int
    dead_letters: int
    stream_took: int | None


class Gain:
    """The store's counts (and the stream's, when it counts) at the start of a replay."""

    def __init__(self, store: TotalsQuery, stream: CountingStream | None) -> None:
        self._store, self._stream = store, stream
        self._took = None if stream is None else stream.appended()
        self._counts = store.counts()

    def since(self) -> Gained:
        """What was gained since the start; call it once the processing has stopped."""
        took = None
        if self._stream is not None and self._took is not None:
            took = self._stream.appended() - self._took
        counted, dead = self._store.counts()
        return Gained(counted - self._counts[0], dead - self._counts[1], took)
