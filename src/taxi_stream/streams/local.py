"""The embedded stream: a durable, sharded, Kinesis-like log in one SQLite file (WAL mode).

Shards cover the 128-bit hash-key range evenly; a record goes to the shard holding the MD5 of its
partition key, as in Kinesis. An entry Kinesis would refuse (``core.limits``: a partition key
outside 1..256 UTF-16 units, a record over 1 MiB) is reported failed; the rest go in. Sequence
numbers look and sort like Kinesis's: 56-digit decimal strings, increasing per shard and unique
across shards, so comparing them as strings gives the shard's order. Each record keeps its
arrival time. Producers and consumers may be separate processes: every write is one IMMEDIATE
transaction, readers see committed records only. Records older than the retention are trimmed.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

from taxi_stream.core.errors import ConfigError, StreamError
from taxi_stream.core.hashkey import shard_for_key
from taxi_stream.core.limits import entry_problem
from taxi_stream.core.records import PutResult, ReadResult, ShardInfo, StreamRecord
from taxi_stream.infra.clock import now_ms
from taxi_stream.infra.sqlite import connect, errors

log = logging.getLogger(__name__)

MAX_SHARDS: Final = 64
DEFAULT_RETENTION_H: Final = 24
_TRIM_EVERY: Final = 100_000  # records appended between retention trims

SEQUENCE_DIGITS: Final = 56  # as long as a Kinesis sequence number
_SEQUENCE_LEAD: Final = "49"  # a fixed start, as Kinesis's numbers have, so none has a leading 0
_SHARD_DIGITS: Final = 4
_COUNTER_DIGITS: Final = SEQUENCE_DIGITS - len(_SEQUENCE_LEAD) - _SHARD_DIGITS
_SEQUENCE_FORMAT: Final = "kinesis-56"  # stream_meta's marker; a log without one is legacy
_LEGACY_DIGITS: Final = 18  # a legacy number is a plain counter that fits SQLite's INTEGER
_DIGITS: Final = re.compile(r"[0-9]+")

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


def format_sequence(shard: int, counter: int) -> str:
    """The sequence number of a shard's ``counter``-th record: lead, shard index, counter."""
    return f"{_SEQUENCE_LEAD}{shard:0{_SHARD_DIGITS}d}{counter:0{_COUNTER_DIGITS}d}"


def parse_sequence(sequence: str) -> tuple[int, int]:
    """(shard index, per-shard counter) of one of our sequence numbers; StreamError if none."""
    if (
        len(sequence) != SEQUENCE_DIGITS
        or not _DIGITS.fullmatch(sequence)
        or not sequence.startswith(_SEQUENCE_LEAD)
    ):
        raise StreamError(
            f"not a sequence number of the embedded stream: {sequence!r:.80} (expected"
            f" {SEQUENCE_DIGITS} digits starting with {_SEQUENCE_LEAD})"
        )
    shard_end = len(_SEQUENCE_LEAD) + _SHARD_DIGITS
    return int(sequence[len(_SEQUENCE_LEAD) : shard_end]), int(sequence[shard_end:])


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
        self.shard_count, self._name, self._legacy = self._init_meta(shard_count)

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

    @property
    def legacy_sequences(self) -> bool:
        """True for a log created before sequence numbers were Kinesis-like.

        Such a log keeps numbering its shards 1, 2, 3, ... as it always did, so the checkpoints,
        contribution ids and dead letters already written against it stay valid.
        """
        return self._legacy

    def _init_meta(self, requested: int | None) -> tuple[int, str, bool]:
        if requested is not None and not 1 <= requested <= MAX_SHARDS:
            raise ConfigError(f"shard count must be 1..{MAX_SHARDS}, got {requested}")
        with errors("embedded stream open", StreamError, self._path), self._db:
            self._db.execute("BEGIN IMMEDIATE")
            meta = dict(self._db.execute("SELECT key, value FROM stream_meta"))
            if "shards" not in meta:
                meta = {
                    "shards": str(requested or 4),
                    "name": f"local-{uuid.uuid4().hex[:12]}",
                    "sequences": _SEQUENCE_FORMAT,
                }
                self._db.executemany("INSERT INTO stream_meta VALUES (?, ?)", meta.items())
        existing = int(meta["shards"])
        if requested is not None and requested != existing:
            raise ConfigError(
                f"stream {self._path} already has {existing} shards; it cannot be reopened with "
                f"{requested} (use another --data-dir, or drop the shard option)"
            )
        return existing, meta["name"], self._legacy_format(meta.get("sequences"))

    def _legacy_format(self, marker: str | None) -> bool:
        if marker is None:
            log.info(
                "stream %s was created by an earlier version: its sequence numbers stay plain"
                " counters (a new --data-dir gives Kinesis-like ones)",
                self._path,
            )
            return True
        if marker != _SEQUENCE_FORMAT:
            raise ConfigError(
                f"stream {self._path} numbers its records as {marker!r}, which this version does"
                " not know (use the version that created it, or another --data-dir)"
            )
        return False

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
        return PutResult(sent=len(rows), failed=failed, records=len(rows))

    def _rows(
        self, entries: Sequence[tuple[str, bytes]]
    ) -> tuple[list[tuple[int, str, bytes]], list[tuple[int, str]]]:
        rows, failed = [], []
        count = self.shard_count
        for index, (key, data) in enumerate(entries):
            problem = entry_problem(key, data)  # as Kinesis refuses it
            if problem is None:
                rows.append((shard_for_key(key, count), key, bytes(data)))
            else:
                failed.append((index, problem))
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
        """Up to ``limit`` records of a shard after sequence number ``after``.

        ``after`` must be a sequence number of that shard (StreamError otherwise): one of
        another shard or stream would skip or repeat records.
        """
        index = self._index(shard_id)
        start = 0 if after is None else self._counter(index, after)
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
        records = [
            StreamRecord(self._sequence(index, seq), arr, key, data) for seq, arr, key, data in rows
        ]
        behind = tip[0] - records[-1].arrival_ms if records and tip else 0
        return ReadResult(records=records, behind_ms=behind)

    def _sequence(self, index: int, counter: int) -> str:
        return str(counter) if self._legacy else format_sequence(index, counter)

    def _counter(self, index: int, after: str) -> int:
        """The per-shard counter of ``after``, checked to be a sequence number of this shard."""
        if self._legacy:
            if len(after) > _LEGACY_DIGITS or not _DIGITS.fullmatch(after):
                raise StreamError(f"not a sequence number of {shard_id(index)}: {after!r:.80}")
            return int(after)
        shard, counter = parse_sequence(after)
        if shard != index:
            raise StreamError(
                f"sequence number {after} belongs to {shard_id(shard)}, not {shard_id(index)}"
            )
        return counter

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
