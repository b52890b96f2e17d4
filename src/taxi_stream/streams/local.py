"""The embedded stream: a durable, sharded, Kinesis-like log in one SQLite file (WAL mode).

Shards cover the 128-bit hash-key range evenly; a record goes to the shard holding the MD5 of its
partition key, as in Kinesis. Sequence numbers increase per shard. Each record keeps its arrival
time. Producers and consumers may be separate processes: every write is one IMMEDIATE
transaction, readers see committed records only. Records older than the retention are trimmed.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

from taxi_stream.clock import now_ms
from taxi_stream.core.errors import ConfigError, StreamError
from taxi_stream.core.records import StreamRecord
from taxi_stream.sqlitedb import connect, errors
from taxi_stream.streams import PutResult, ReadResult, ShardInfo

log = logging.getLogger(__name__)

MAX_SHARDS: Final = 64
MAX_RECORD_BYTES: Final = 1_048_576
MAX_KEY_CHARS: Final = 256
DEFAULT_RETENTION_H: Final = 24
_TRIM_EVERY: Final = 100_000  # records appended between retention trims

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS stream_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS shards (shard INTEGER PRIMARY KEY, last_seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    shard INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    arrival_ms INTEGER NOT NULL,
    partition_key TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (shard, seq)
) WITHOUT ROWID;
"""


def shard_id(index: int) -> str:
    """Kinesis-style shard id for a shard index."""
    return f"shardId-{index:012d}"


def shard_for_key(partition_key: str, shard_count: int) -> int:
    """The index of the shard whose even slice of the 128-bit hash range holds MD5(key)."""
    digest = int.from_bytes(hashlib.md5(partition_key.encode()).digest(), "big")  # noqa: S324
    return (digest * shard_count) >> 128


class LocalStream:
    """A sharded log in SQLite, implementing StreamWriter and StreamReader."""

    def __init__(
        self,
        path: Path,
        shard_count: int | None = None,
        *,
        retention_hours: int = DEFAULT_RETENTION_H,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self._path = Path(path)
        self._clock = clock
        self._retention_ms = retention_hours * 3_600_000
        self._since_trim = _TRIM_EVERY  # a writer trims on its first put
        self._db = connect(self._path, _SCHEMA, StreamError)
        self.shard_count, self._name = self._init_meta(shard_count)

    @property
    def name(self) -> str:
        """The stream's name, unique to this log (``local-`` and an id drawn at creation).

        Checkpoints, contribution ids and dead-letter ids carry it, so two embedded streams
        feeding one store never collide, and a recreated stream never resumes old checkpoints.
        """
        return self._name

    def close(self) -> None:
        """Close the database connection."""
        self._db.close()

    def _init_meta(self, requested: int | None) -> tuple[int, str]:
        if requested is not None and not 1 <= requested <= MAX_SHARDS:
            raise ConfigError(f"shard count must be 1..{MAX_SHARDS}, got {requested}")
        with errors("embedded stream open", StreamError, self._path), self._db:
            self._db.execute("BEGIN IMMEDIATE")
            meta = dict(self._db.execute("SELECT key, value FROM stream_meta"))
            if "shards" not in meta:
                meta = {"shards": str(requested or 4), "name": f"local-{uuid.uuid4().hex[:12]}"}
                self._db.executemany("INSERT INTO stream_meta VALUES (?, ?)", meta.items())
                return int(meta["shards"]), meta["name"]
        existing = int(meta["shards"])
        if requested is not None and requested != existing:
            raise ConfigError(
                f"stream {self._path} already has {existing} shards; it cannot be reopened with "
                f"{requested} (use another --data-dir, or drop the shard option)"
            )
        return existing, meta["name"]

    def put_records(self, entries: Sequence[tuple[str, bytes]]) -> PutResult:
        """Append entries in one transaction; a bad entry is reported failed, the rest go in."""
        rows, failed = self._rows(entries)
        with errors("embedded stream write", StreamError, self._path), self._db:
            self._db.execute("BEGIN IMMEDIATE")
            last = dict(self._db.execute("SELECT shard, last_seq FROM shards"))
            arrival_ms = self._clock()
            out = []
            for shard, key, data in rows:
                seq = last.get(shard, 0) + 1
                last[shard] = seq
                out.append((shard, seq, arrival_ms, key, data))
            self._db.executemany("INSERT INTO records VALUES (?, ?, ?, ?, ?)", out)
            self._db.executemany("INSERT OR REPLACE INTO shards VALUES (?, ?)", last.items())
            self._maybe_trim(len(out))
        return PutResult(sent=len(rows), failed=failed)

    def _rows(
        self, entries: Sequence[tuple[str, bytes]]
    ) -> tuple[list[tuple[int, str, bytes]], list[tuple[int, str]]]:
        rows, failed = [], []
        count = self.shard_count
        for index, (key, data) in enumerate(entries):
            if not 1 <= len(key) <= MAX_KEY_CHARS:
                failed.append((index, f"partition key must be 1..{MAX_KEY_CHARS} characters"))
            elif len(data) + len(key.encode()) > MAX_RECORD_BYTES:  # Kinesis counts the key too
                failed.append((index, f"record of {len(data)} bytes and its key is over 1 MiB"))
            else:
                rows.append((shard_for_key(key, count), key, bytes(data)))
        return rows, failed

    def _maybe_trim(self, added: int) -> None:
        self._since_trim += added
        if self._since_trim >= _TRIM_EVERY:
            self._trim()

    def _trim(self) -> None:
        """Drop records older than the retention (first put, then every 100,000 records)."""
        self._since_trim = 0
        with errors("embedded stream trim", StreamError, self._path):
            cutoff = self._clock() - self._retention_ms
            self._db.execute("DELETE FROM records WHERE arrival_ms < ?", (cutoff,))

    def list_shards(self) -> list[ShardInfo]:
        """Every shard (the embedded stream never reshards, so all are open)."""
        return [ShardInfo(shard_id(i)) for i in range(self.shard_count)]

    def read(self, shard_id: str, after: str | None, limit: int) -> ReadResult:
        """Up to ``limit`` records of a shard after sequence number ``after``."""
        index = self._index(shard_id)
        start = int(after) if after is not None else 0
        with errors("embedded stream read", StreamError, self._path):
            rows = self._db.execute(
                "SELECT seq, arrival_ms, partition_key, data FROM records "
                "WHERE shard = ? AND seq > ? ORDER BY seq LIMIT ?",
                (index, start, limit),
            ).fetchall()
            tip = self._db.execute(
                "SELECT arrival_ms FROM records WHERE shard = ? ORDER BY seq DESC LIMIT 1",
                (index,),
            ).fetchone()
        records = [StreamRecord(str(seq), arr, key, data) for seq, arr, key, data in rows]
        behind = tip[0] - records[-1].arrival_ms if records and tip else 0
        return ReadResult(records=records, behind_ms=behind)

    def _index(self, sid: str) -> int:
        prefix = "shardId-"
        if not sid.startswith(prefix) or not sid[len(prefix) :].isdigit():
            raise ConfigError(f"not a shard id of this stream: {sid!r}")
        index = int(sid[len(prefix) :])
        if index >= self.shard_count:
            raise ConfigError(f"stream has {self.shard_count} shards; no {sid}")
        return index

    def appended(self) -> int:
        """How many records were ever appended (retention trims do not lower it)."""
        with errors("embedded stream read", StreamError, self._path):
            row = self._db.execute("SELECT COALESCE(SUM(last_seq), 0) FROM shards").fetchone()
            return int(row[0])
