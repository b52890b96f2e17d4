"""The local store: window totals, dead letters and consumer checkpoints in one SQLite file.

A contribution is applied at most once: its id is inserted under a unique key in the same
transaction that adds its totals. ``unit_of_work()`` opens one transaction and yields the unit
that writes in it: the runner saves a shard's checkpoint through it and hands it to our
in-process handler as its store, so the checkpoint commits with the contributions and dead
letters of the batch it covers. Every write outside a unit of work is a unit of its own.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from taxi_stream.core.errors import StoreError
from taxi_stream.core.records import Contribution, DeadLetter, Origin, WindowTotals
from taxi_stream.core.totals import Totals
from taxi_stream.core.watermarks import Watermark
from taxi_stream.core.windows import WindowClock
from taxi_stream.infra.clock import now_ms
from taxi_stream.infra.sqlite import connect, connect_read_only, errors
from taxi_stream.runner.checkpoint import Checkpoint
from taxi_stream.stores.sqlite_marks import read_watermarks
from taxi_stream.stores.sqlite_work import ADDED_COLUMNS, SCHEMA, SQLiteUnitOfWork

__all__ = ["SQLiteStore", "SQLiteUnitOfWork"]

log = logging.getLogger(__name__)


class SQLiteStore:
    """Totals, dead letters and checkpoints in SQLite.

    Implements TotalsStore, TotalsQuery and CheckpointStore.
    """

    def __init__(
        self, path: Path, *, clock: Callable[[], int] = now_ms, read_only: bool = False
    ) -> None:
        """Open (or create) the store; ``read_only`` opens an existing one and never writes it."""
        self.path = Path(path)
        self._clock = clock
        if read_only:
            self._db = connect_read_only(self.path, StoreError)
        else:
            self._db = connect(self.path, SCHEMA, StoreError)
            self._add_money_columns()
        self._added = ", ".join(self._money_columns())  # what a read selects for them

    def _money_columns(self) -> list[str]:
        """The columns that came later (money, late trips), or 0 for each one a file made
        before them lacks (read-only)."""
        with errors("store open", StoreError, self.path):
            rows = self._db.execute("PRAGMA table_info(windows)").fetchall()
        have = {row[1] for row in rows}
        return [name if name in have else "0" for name in ADDED_COLUMNS]

    def _add_money_columns(self) -> None:
        """Give a store file made before the money totals or late trips their columns, 0 for
        existing windows."""
        if "0" not in self._money_columns():
            return
        with self.unit_of_work():  # one writer at a time: another may be upgrading it too
            have = self._money_columns()  # again, now that no other writer can add them
            missing = [n for n, col in zip(ADDED_COLUMNS, have, strict=True) if col == "0"]
            with errors("store upgrade", StoreError, self.path):
                for name in missing:
                    self._db.execute(
                        f"ALTER TABLE windows ADD COLUMN {name} INTEGER NOT NULL DEFAULT 0"
                    )
        log.info("store %s: columns added (%s), 0 for its windows", self.path, missing)

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    @contextmanager
    def unit_of_work(self) -> Iterator[SQLiteUnitOfWork]:
        """One transaction: what is written through the unit commits together, or not at all.

        There is one at a time: a write to the store while a unit is open raises StoreError
        (SQLite cannot begin a transaction inside another), it never joins the open one.
        """
        with errors("store begin", StoreError, self.path):
            self._db.execute("BEGIN IMMEDIATE")
        work = SQLiteUnitOfWork(self._db, self.path, self._clock)
        try:
            yield work
        except BaseException:
            work.close()
            self._db.rollback()
            raise
        work.close()
        with errors("store commit", StoreError, self.path):
            self._db.commit()

    def claim_windows(self, seconds: int, clock: str) -> None:
        """Claim the store for these windows on first use; refuse other ones (they would add into
        one row)."""
        with self.unit_of_work() as work:
            work.claim_windows(seconds, clock)

    def claim_stream(self, stream: str, checkpoints_id: str, where: str) -> None:
        """Record the checkpoint store that feeds ``stream`` into this one; refuse another."""
        with self.unit_of_work() as work:
            work.claim_stream(stream, checkpoints_id, where)

    def identity(self) -> str:
        """The id of the checkpoints in this store: made once (store_meta), then always the same."""
        with self.unit_of_work() as work:
            return work.identity()

    def apply(
        self, contributions: Sequence[Contribution], watermark: Watermark | None = None
    ) -> int:
        """Apply contributions not applied before, raise the shard's watermark; count the new."""
        with self.unit_of_work() as work:
            return work.apply(contributions, watermark)

    def watermark(self, stream: str, shard_id: str) -> Watermark | None:
        """The shard's stored watermark, if any."""
        with errors("store watermark read", StoreError, self.path):
            return next(iter(read_watermarks(self._db, stream, shard_id)), None)

    def watermarks(self) -> list[Watermark]:
        """Every shard's watermark, by stream and shard (none in a file from before them)."""
        with errors("store query", StoreError, self.path):
            return read_watermarks(self._db)

    def vendors(self, limit: int) -> list[str]:
        """The first ``limit`` vendor ids with windows: a skip over the primary key, one
        probe per vendor, however many windows each has."""
        sql = (
            "WITH RECURSIVE v(id, n) AS (SELECT MIN(vendor_id), 1 FROM windows UNION ALL"
            " SELECT (SELECT MIN(vendor_id) FROM windows WHERE vendor_id > v.id), n + 1"
            " FROM v WHERE v.id IS NOT NULL AND n < ?) SELECT id FROM v WHERE id IS NOT NULL"
        )
        with errors("store query", StoreError, self.path):
            return [vendor for (vendor,) in self._db.execute(sql, (limit,))]

    def put_dead_letters(self, letters: Sequence[DeadLetter]) -> int:
        """Store dead letters once each, by letter id; return how many were new."""
        with self.unit_of_work() as work:
            return work.put_dead_letters(letters)

    def save_checkpoint(
        self, consumer: str, stream: str, shard_id: str, checkpoint: Checkpoint
    ) -> None:
        """Save a checkpoint in a unit of work of its own."""
        with self.unit_of_work() as work:
            work.save_checkpoint(consumer, stream, shard_id, checkpoint)

    def windows(
        self,
        vendor_id: str | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> list[WindowTotals]:
        """Windows whose start lies in [start_ms, end_ms), ordered by vendor then start."""
        sql = (
            "SELECT vendor_id, window_start_ms, window_end_ms, trip_count, distance_milli,"
            f" duration_s, passenger_count, {self._added}, contributions, clock, updated_ms"
            " FROM windows"
            " WHERE (?1 IS NULL OR vendor_id = ?1) AND (?2 IS NULL OR window_start_ms >= ?2)"
            " AND (?3 IS NULL OR window_start_ms < ?3) ORDER BY vendor_id, window_start_ms"
        )
        with errors("store query", StoreError, self.path):
            rows = self._db.execute(sql, (vendor_id, start_ms, end_ms)).fetchall()
        return [
            WindowTotals(
                v, s, e, Totals(n, d, t, p, fare, tip, amount, late), c, WindowClock(clock), u
            )
            for v, s, e, n, d, t, p, fare, tip, amount, late, c, clock, u in rows
        ]

    def dead_letters(
        self, limit: int | None = None, *, newest_first: bool = False
    ) -> list[DeadLetter]:
        """Dead letters, oldest first; those stored together in shard and sequence order.
        ``newest_first``: the same order backwards (each key DESC), so a limit keeps the newest.

        Sequence numbers are compared as numbers of any length (Kinesis's have 56 digits, more
        than an SQLite INTEGER holds): a shorter one is smaller, equal lengths compare as text.
        """
        way = " DESC" if newest_first else ""
        keys = ("stored_ms", "stream", "shard_id", "length(sequence_number)", "sequence_number")
        order = ", ".join(f"{key}{way}" for key in (*keys, "sub_sequence"))
        sql = (
            "SELECT stream, shard_id, sequence_number, sub_sequence, arrival_ms, reason, message,"
            f" raw FROM dead_letters ORDER BY {order} LIMIT ?"
        )
        with errors("store query", StoreError, self.path):
            rows = self._db.execute(sql, (-1 if limit is None else limit,)).fetchall()
        return [
            DeadLetter(Origin(st, sh, seq, sub, arr), reason, msg, bytes(raw))
            for st, sh, seq, sub, arr, reason, msg, raw in rows
        ]

    def counts(self) -> tuple[int, int]:
        """(trips counted in windows, dead letters): the two sides of the accounting line."""
        with errors("store query", StoreError, self.path):
            trips = self._db.execute("SELECT COALESCE(SUM(trip_count), 0) FROM windows")
            letters = self._db.execute("SELECT COUNT(*) FROM dead_letters")
            return int(trips.fetchone()[0]), int(letters.fetchone()[0])

    def dead_letter_reasons(self) -> dict[str, int]:
        """How many dead letters per reason, every one of them (one GROUP BY)."""
        with errors("store query", StoreError, self.path):
            sql = "SELECT reason, COUNT(*) FROM dead_letters GROUP BY reason"
            return {reason: int(n) for reason, n in self._db.execute(sql)}

    def load_checkpoint(self, consumer: str, stream: str, shard_id: str) -> Checkpoint | None:
        """The saved checkpoint of a consumer in a shard, if any; StoreError if it is damaged."""
        with errors("store checkpoint read", StoreError, self.path):
            row = self._db.execute(
                "SELECT sequence_number, state FROM checkpoints"
                " WHERE consumer = ? AND stream = ? AND shard_id = ?",
                (consumer, stream, shard_id),
            ).fetchone()
        if row is None:
            return None
        try:
            return Checkpoint.from_document(row[0], json.loads(row[1]) if row[1] else None)
        except ValueError as exc:
            raise StoreError(
                f"the checkpoint of {consumer} in {stream} {shard_id} in {self.path} is damaged:"
                f" {exc}"
            ) from exc
