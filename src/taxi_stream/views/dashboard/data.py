"""What the dashboard reads: windows and dead letters from the store, health, each bounded."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final, Protocol

from taxi_stream.app.standing import Standing
from taxi_stream.core.errors import TaxiStreamError
from taxi_stream.core.records import DeadLetter, WindowTotals
from taxi_stream.core.watermarks import (
    DEFAULT_ALLOWED_LATENESS_S,
    DEFAULT_IDLE_TIMEOUT_S,
    Watermark,
)
from taxi_stream.views.cells import one_line
from taxi_stream.views.dashboard.health import (
    LiveFeed,
    Rates,
    letters_summary,
    live_shards,
    stored_shards,
    stuck_shards,
)
from taxi_stream.views.dashboard.rows import Json, Row, letter_row, window_row
from taxi_stream.views.finality import Finality

MAX_ROWS: Final = 5_000  # the most window rows or dead letters one answer carries
LATEST_LETTERS: Final = 5
PREVIEW_BYTES: Final = 4_096  # of each latest dead letter in health; all of them: /api/dead-letters


class Reader(Protocol):
    """The read side of a totals store, as far as the dashboard needs it."""

    def windows(
        self, vendor_id: str | None = None, start_ms: int | None = None, end_ms: int | None = None
    ) -> list[WindowTotals]:
        """Windows whose start lies in [start_ms, end_ms), ordered by vendor then start."""
        ...

    def dead_letters(
        self, limit: int | None = None, *, newest_first: bool = False
    ) -> list[DeadLetter]:
        """Dead letters, oldest first (``newest_first``: newest first), at most ``limit``."""
        ...

    def counts(self) -> tuple[int, int]:
        """(trips counted in windows, dead letters)."""
        ...

    def dead_letter_reasons(self) -> dict[str, int]:
        """How many dead letters per reason, every one of them."""
        ...

    def watermarks(self) -> list[Watermark]:
        """Every shard's watermark (event clock)."""
        ...

    def close(self) -> None:
        """Free the connections."""
        ...


@dataclass(frozen=True, slots=True)
class Lateness:
    """How finality is judged, as ``query`` judges it (--allowed-lateness, --idle-timeout)."""

    allowed_lateness_s: int = DEFAULT_ALLOWED_LATENESS_S
    idle_timeout_s: int = DEFAULT_IDLE_TIMEOUT_S


DEFAULT_LATENESS: Final = Lateness()


@dataclass(frozen=True, slots=True)
class WindowQuery:
    """The filters of ``/api/windows``: those of ``query``, and the latest N windows."""

    vendor: str | None = None
    start_ms: int | None = None
    end_ms: int | None = None
    limit: int = MAX_ROWS
    latest: int | None = None  # only the latest N window starts (after the other filters)


class Reads:
    """Opens the store for each read (SQLite: each read sees what is committed by then), or
    once for the dashboard's life, shared under a lock (DynamoDB: its client is costly)."""

    def __init__(self, open_store: Callable[[], Reader], *, keep_open: bool) -> None:
        self._open, self._keep = open_store, keep_open
        self._lock = threading.Lock()
        self._kept: Reader | None = None

    @contextmanager
    def store(self) -> Iterator[Reader]:
        """The store, one reader at a time."""
        with self._lock:
            if not self._keep:
                store = self._open()
                try:
                    yield store
                finally:
                    store.close()
                return
            if self._kept is None:
                self._kept = self._open()
            yield self._kept

    def close(self) -> None:
        """Close a store kept open."""
        with self._lock:
            if self._kept is not None:
                self._kept.close()
                self._kept = None


def latest_windows(windows: list[WindowTotals], latest: int | None) -> list[WindowTotals]:
    """The windows of the latest ``latest`` window starts (all for None), in the same order."""
    starts = sorted({w.window_start_ms for w in windows})
    if latest is None or len(starts) <= latest:
        return windows
    first = starts[-latest]
    return [w for w in windows if w.window_start_ms >= first]


class DashboardData:
    """The answers of the JSON API; health is computed at most every ``cache_s`` seconds.

    ``feed``: the pipeline beside the dashboard (its health comes from the runner); else
    ``standing`` reads each shard's checkpoint against the stream (None: no stream to read).
    """

    def __init__(
        self,
        reads: Reads,
        *,
        monotonic: Callable[[], float],
        feed: LiveFeed | None = None,
        standing: Callable[[], Standing] | None = None,
        cache_s: float = 0.5,
        lateness: Lateness = DEFAULT_LATENESS,
    ) -> None:
        self._reads, self._feed, self._standing = reads, feed, standing
        self._lateness = lateness
        self._monotonic, self._cache_s = monotonic, cache_s
        self._rates = Rates(monotonic)
        self._lock = threading.Lock()
        self._health: tuple[float, dict[str, Json]] | None = None

    def windows(self, query: WindowQuery) -> dict[str, Json]:
        """Window rows for the filters (at most ``query.limit``), in the order of ``query``."""
        with self._reads.store() as store:
            found = store.windows(query.vendor, query.start_ms, query.end_ms)
            lateness = self._lateness
            marks = store.watermarks()
        final = Finality.of(marks, lateness.allowed_lateness_s, lateness.idle_timeout_s)
        shown = latest_windows(found, query.latest)
        rows: list[Json] = [window_row(w, final) for w in shown[: query.limit]]
        return {"windows": rows, "truncated": len(shown) > query.limit, "limit": query.limit}

    def dead_letters(self, limit: int) -> list[Row]:
        """The oldest ``limit`` dead letters, as ``query --dead-letters --format json``."""
        with self._reads.store() as store:
            return [letter_row(letter) for letter in store.dead_letters(limit)]

    def health(self) -> dict[str, Json]:
        """Rates, shards, retries, stuck shards and dead letters (cached for ``cache_s``)."""
        with self._lock:
            now = self._monotonic()
            if self._health is None or now - self._health[0] >= self._cache_s:
                self._health = (now, self._compute())
            return self._health[1]

    def _compute(self) -> dict[str, Json]:
        with self._reads.store() as store:
            counted, dead = store.counts()
            reasons = store.dead_letter_reasons()
            letters = store.dead_letters(LATEST_LETTERS, newest_first=True)
        health: dict[str, Json] = {
            "counted": counted,
            "deadLetters": letters_summary(reasons, dead),
            "latestDeadLetters": [letter_row(letter, PREVIEW_BYTES) for letter in letters],
        }
        produced = self._shards(health)
        health["rates"] = dict[str, Json](
            self._rates.update({"inPerSecond": produced, "outPerSecond": counted + dead})
        )
        return health

    def _shards(self, health: dict[str, Json]) -> int | None:
        """Fill in the shards and counts of the pipeline, or of the stores; records in."""
        sample = self._feed.latest() if self._feed is not None else None
        if self._feed is not None:
            shards = [] if sample is None else live_shards(sample)
            health.update(
                source="pipeline",
                produced=None if sample is None else sample.produced,
                delivered=None if sample is None else sample.delivered,
                discarded=None if sample is None else sample.discarded,
            )
            produced = None if sample is None else sample.produced
        else:
            shards, produced = self._stored(health)
        health["shards"] = list[Json](shards)
        live = self._feed is not None  # the stores know nothing of retries in flight
        health["retries"] = sum(_whole(s.get("retries")) for s in shards) if live else None
        health["stuck"] = list[Json](stuck_shards(shards))
        return produced

    def _stored(self, health: dict[str, Json]) -> tuple[list[Row], int | None]:
        health.update(source="stores", produced=None, error=None)
        if self._standing is None:
            return [], None
        try:
            found = self._standing()
        except TaxiStreamError as exc:  # the stream cannot be read now: say so, keep serving
            health["error"] = one_line(str(exc))
            return [], None
        health.update(stream=found.stream, produced=found.appended)
        return stored_shards(found), found.appended


def _whole(value: Json) -> int:
    """A count from a row (0 when it has none)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
