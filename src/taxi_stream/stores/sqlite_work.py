"""The SQLite store's schema and its unit of work: one open transaction that writes totals,
dead letters, watermarks and checkpoints together.

A contribution is applied at most once: its id is inserted under a unique key in the same
transaction that adds its totals.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

from taxi_stream.core.errors import StoreError
from taxi_stream.core.records import Contribution, DeadLetter
from taxi_stream.core.watermarks import Watermark
from taxi_stream.infra.sqlite import errors
from taxi_stream.runner.checkpoint import Checkpoint
from taxi_stream.stores import stream_claimed, stream_label, windows_label, windows_mismatch
from taxi_stream.stores.sqlite_marks import SCHEMA as WATERMARKS_SCHEMA
from taxi_stream.stores.sqlite_marks import raise_watermark, read_watermarks

SCHEMA: Final = (
    """
CREATE TABLE IF NOT EXISTS windows (
    vendor_id TEXT NOT NULL,
    window_start_ms INTEGER NOT NULL,
    window_end_ms INTEGER NOT NULL,
    trip_count INTEGER NOT NULL,
    distance_milli INTEGER NOT NULL,
    duration_s INTEGER NOT NULL,
    passenger_count INTEGER NOT NULL,
    fare_cents INTEGER NOT NULL DEFAULT 0,
    tip_cents INTEGER NOT NULL DEFAULT 0,
    amount_cents INTEGER NOT NULL DEFAULT 0,
    late_trips INTEGER NOT NULL DEFAULT 0,
    contributions INTEGER NOT NULL,
    clock TEXT NOT NULL,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (vendor_id, window_start_ms)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS windows_by_start ON windows (window_start_ms);
CREATE TABLE IF NOT EXISTS contributions (
    vendor_id TEXT NOT NULL,
    window_start_ms INTEGER NOT NULL,
    contribution_id TEXT NOT NULL,
    PRIMARY KEY (vendor_id, window_start_ms, contribution_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dead_letters (
    letter_id TEXT PRIMARY KEY,
    stream TEXT NOT NULL,
    shard_id TEXT NOT NULL,
    sequence_number TEXT NOT NULL,
    sub_sequence INTEGER,
    arrival_ms INTEGER,
    reason TEXT NOT NULL,
    message TEXT NOT NULL,
    raw BLOB NOT NULL,
    stored_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS store_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS checkpoints (
    consumer TEXT NOT NULL,
    stream TEXT NOT NULL,
    shard_id TEXT NOT NULL,
    sequence_number TEXT,
    state TEXT,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (consumer, stream, shard_id)
) WITHOUT ROWID;
"""
    + WATERMARKS_SCHEMA
)

# The money columns came later: a store file made before them gets them on open (default 0).
MONEY_COLUMNS: Final = ("fare_cents", "tip_cents", "amount_cents")
ADDED_COLUMNS: Final = (*MONEY_COLUMNS, "late_trips")  # and so did late trips

# The columns are named: a store file created by an earlier version also has a column
# late_contributions (always 0, read by nothing), which keeps its default.
_ADD_WINDOW: Final = """
INSERT INTO windows (vendor_id, window_start_ms, window_end_ms, trip_count, distance_milli,
    duration_s, passenger_count, fare_cents, tip_cents, amount_cents, late_trips, contributions,
    clock, updated_ms)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)
ON CONFLICT (vendor_id, window_start_ms) DO UPDATE SET
    trip_count = trip_count + excluded.trip_count,
    distance_milli = distance_milli + excluded.distance_milli,
    duration_s = duration_s + excluded.duration_s,
    passenger_count = passenger_count + excluded.passenger_count,
    fare_cents = fare_cents + excluded.fare_cents,
    tip_cents = tip_cents + excluded.tip_cents,
    amount_cents = amount_cents + excluded.amount_cents,
    late_trips = late_trips + excluded.late_trips,
    contributions = contributions + 1,
    window_end_ms = MAX(window_end_ms, excluded.window_end_ms),
    updated_ms = excluded.updated_ms
"""


class SQLiteUnitOfWork:
    """One open transaction on the store; implements TotalsStore and UnitOfWork.

    Everything written through it commits together when the store's ``unit_of_work()`` block
    ends, or not at all. Once that block is over, writing through it raises StoreError.
    """

    def __init__(self, db: sqlite3.Connection, path: Path, clock: Callable[[], int]) -> None:
        self._db: sqlite3.Connection | None = db
        self._path = path
        self._clock = clock

    def _open(self) -> sqlite3.Connection:
        if self._db is None:
            raise StoreError(f"{self._path}: the unit of work is over; open another one")
        return self._db

    def close(self) -> None:
        """End the unit: it writes nothing more (the store commits or rolls back)."""
        self._db = None

    def claim_windows(self, seconds: int, clock: str) -> None:
        """Claim the store for these windows on first use; refuse other ones (they would add into
        one row).

        Totals are keyed by (vendor, window start): 10 s and 5 s windows, or arrival- and
        event-clock windows, starting at the same second would be summed together.
        """
        db, want = self._open(), windows_label(clock, seconds)
        with errors("store window claim", StoreError, self._path):
            found = db.execute("SELECT value FROM store_meta WHERE key = 'windows'").fetchone()
            if found is None:
                db.execute("INSERT INTO store_meta VALUES ('windows', ?)", (want,))
                return
        if found[0] != want:
            raise windows_mismatch(f"the store {self._path}", found[0], want)

    def claim_stream(self, stream: str, checkpoints_id: str, where: str) -> None:
        """Record the checkpoint store that feeds ``stream`` into this one; refuse another."""
        db, want = self._open(), stream_label(checkpoints_id, where)
        with errors("store stream claim", StoreError, self._path):
            db.execute("INSERT OR IGNORE INTO store_meta VALUES (?, ?)", (f"stream {stream}", want))
            have = db.execute(
                "SELECT value FROM store_meta WHERE key = ?", (f"stream {stream}",)
            ).fetchone()[0]
        if have.partition(" ")[0] != checkpoints_id:
            raise stream_claimed(f"the store {self._path}", stream, have)

    def identity(self) -> str:
        """The id of the checkpoints in this store: made on first use, kept in store_meta."""
        db = self._open()
        with errors("store identity", StoreError, self._path):
            made = str(uuid.uuid4())
            db.execute("INSERT OR IGNORE INTO store_meta VALUES ('checkpoints', ?)", (made,))
            row = db.execute("SELECT value FROM store_meta WHERE key = 'checkpoints'").fetchone()
        return str(row[0])

    def apply(
        self, contributions: Sequence[Contribution], watermark: Watermark | None = None
    ) -> int:
        """Apply contributions not applied before, raise the shard's watermark; count the new."""
        db, new, now = self._open(), 0, self._clock()
        with errors("store apply", StoreError, self._path):
            if watermark is not None:
                raise_watermark(db, watermark, now)
            for c in contributions:
                cursor = db.execute(
                    "INSERT OR IGNORE INTO contributions VALUES (?, ?, ?)",
                    (c.vendor_id, c.window_start_ms, c.contribution_id),
                )
                if cursor.rowcount != 1:
                    continue
                t = c.totals
                db.execute(
                    _ADD_WINDOW,
                    (c.vendor_id, c.window_start_ms, c.window_end_ms, t.trip_count,
                     t.distance_milli, t.duration_s, t.passenger_count, t.fare_cents,
                     t.tip_cents, t.amount_cents, t.late_trips, c.clock, now),
                )  # fmt: skip
                new += 1
        return new

    def watermark(self, stream: str, shard_id: str) -> Watermark | None:
        """The shard's stored watermark, if any."""
        db = self._open()
        with errors("store watermark read", StoreError, self._path):
            return next(iter(read_watermarks(db, stream, shard_id)), None)

    def put_dead_letters(self, letters: Sequence[DeadLetter]) -> int:
        """Store dead letters once each, by letter id; return how many were new."""
        db, now = self._open(), self._clock()
        rows = [
            (d.letter_id, d.origin.stream, d.origin.shard_id, d.origin.sequence_number,
             d.origin.sub_sequence, d.origin.arrival_ms, d.reason, d.message, d.raw, now)
            for d in letters
        ]  # fmt: skip
        with errors("store dead-letter write", StoreError, self._path):
            before = db.total_changes
            db.executemany(
                "INSERT OR IGNORE INTO dead_letters VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
            )
            return db.total_changes - before

    def save_checkpoint(
        self, consumer: str, stream: str, shard_id: str, checkpoint: Checkpoint
    ) -> None:
        """Save a checkpoint: its position, and the rest as the JSON ``state`` column."""
        db, document = self._open(), checkpoint.document()
        state = None if document is None else json.dumps(document, separators=(",", ":"))
        with errors("store checkpoint write", StoreError, self._path):
            db.execute(
                "INSERT OR REPLACE INTO checkpoints VALUES (?, ?, ?, ?, ?, ?)",
                (consumer, stream, shard_id, checkpoint.position, state, self._clock()),
            )
