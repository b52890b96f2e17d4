"""The SQLite store's watermarks table: one row per stream and shard, only ever raised.

A lower watermark than the stored one changes nothing; an equal one rewrites the part it names,
which a redelivered part does with the same values. A store file from before watermarks has no
such table until it is opened for writing: reading one then finds none.
"""

from __future__ import annotations

import sqlite3
from typing import Final

from taxi_stream.core.watermarks import Watermark

SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS watermarks (
    stream TEXT NOT NULL,
    shard_id TEXT NOT NULL,
    watermark_ms INTEGER NOT NULL,
    part TEXT NOT NULL,
    previous_ms INTEGER,
    last_arrival_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (stream, shard_id)
) WITHOUT ROWID;
"""
_RAISE: Final = """
INSERT INTO watermarks VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (stream, shard_id) DO UPDATE SET
    watermark_ms = excluded.watermark_ms,
    part = excluded.part,
    previous_ms = excluded.previous_ms,
    last_arrival_ms = excluded.last_arrival_ms,
    updated_ms = excluded.updated_ms
WHERE excluded.watermark_ms >= watermarks.watermark_ms
"""
_SELECT: Final = (
    "SELECT stream, shard_id, watermark_ms, part, previous_ms, last_arrival_ms FROM watermarks"
)


def raise_watermark(db: sqlite3.Connection, w: Watermark, now_ms: int) -> None:
    """Store ``w`` unless the shard's stored watermark is higher (in the caller's transaction)."""
    row = (w.stream, w.shard_id, w.watermark_ms, w.part, w.previous_ms, w.last_arrival_ms, now_ms)
    db.execute(_RAISE, row)


def read_watermarks(
    db: sqlite3.Connection, stream: str | None = None, shard_id: str | None = None
) -> list[Watermark]:
    """The stored watermarks by stream and shard (only that shard's, given one)."""
    found = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'watermarks'"
    ).fetchone()
    if not found:
        return []
    rows = db.execute(
        f"{_SELECT} WHERE (?1 IS NULL OR stream = ?1) AND (?2 IS NULL OR shard_id = ?2)"
        " ORDER BY stream, shard_id",
        (stream, shard_id),
    )
    return [Watermark(*row) for row in rows]
