"""The embedded stream: a durable, sharded, Kinesis-like log in one SQLite file (WAL mode).

Shards cover the 128-bit hash-key range evenly; a record goes to the shard holding the MD5 of its
partition key, as in Kinesis. An entry Kinesis would refuse (``core.limits``: a partition key
outside 1..256 UTF-16 units, a record over 1 MiB) is reported failed; the rest go in. Sequence
numbers look and sort like Kinesis's: 56-digit decimal strings, increasing per shard and unique
across shards, so comparing them as strings gives the shard's order. Each record keeps its
arrival time. Producers and consumers may be separate processes: every write is one IMMEDIATE
transaction, readers see committed records only, so a killed producer leaves no half batch.

On disk each put stores one row per shard it touches, a record batch (``streams.batches``):
the records' keys and payloads compressed together, with the last sequence number, the count
and the arrival time once. A log written before batches keeps its one-row-per-record table,
read before the batches that follow it. Records older than the retention (``retention_hours``,
24 by default as Kinesis's) are trimmed whole batches at a time, and the file gives their pages
back (``auto_vacuum=INCREMENTAL``; a log created before that reuses them instead).
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

from taxi_stream.core.errors import ConfigError, StreamError
from taxi_stream.core.limits import accepted_columns
from taxi_stream.core.recordbatch import RecordBatch, StoredChunk, numbers
from taxi_stream.core.records import PutResult, ReadResult, ShardInfo, StreamRecord
from taxi_stream.infra.clock import now_ms
from taxi_stream.infra.sqlite import connect, errors
from taxi_stream.streams import batches
from taxi_stream.streams.writing import encoded_rows

log = logging.getLogger(__name__)

MAX_SHARDS: Final = 64
DEFAULT_RETENTION_H: Final = 24  # Kinesis's default
MAX_RETENTION_H: Final = 8_760  # Kinesis's maximum, 365 days
_TRIM_EVERY: Final = 100_000  # records appended between retention trims

SEQUENCE_DIGITS: Final = 56  # as long as a Kinesis sequence number
_SEQUENCE_LEAD: Final = "49"  # a fixed start, as Kinesis's numbers have, so none has a leading 0
_SHARD_DIGITS: Final = 4
_COUNTER_DIGITS: Final = SEQUENCE_DIGITS - len(_SEQUENCE_LEAD) - _SHARD_DIGITS
_SEQUENCE_FORMAT: Final = "kinesis-56"  # stream_meta's marker; a log without one is legacy
_LEGACY_DIGITS: Final = 18  # a legacy number is a plain counter that fits SQLite's INTEGER
_DIGITS: Final = re.compile(r"[0-9]+")

_NEW_FILE: Final = "PRAGMA auto_vacuum = INCREMENTAL;"  # trimmed pages go back to the disk
_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS stream_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS shards (shard INTEGER PRIMARY KEY, last_seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS batches (
    shard INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,
    count INTEGER NOT NULL,
    arrival_ms INTEGER NOT NULL,
    codec INTEGER NOT NULL,
    size INTEGER NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (shard, last_seq)
);
"""
_LEGACY_TABLE: Final = "records"  # one row per record: (shard, seq, arrival_ms, key, data)


def shard_id(index: int) -> str:
    """Kinesis-style shard id for a shard index."""
    return f"shardId-{index:012d}"


def _shard_prefix(shard: int) -> str:
    """The digits every sequence number of a shard starts with: the lead and the shard index."""
    return f"{_SEQUENCE_LEAD}{shard:0{_SHARD_DIGITS}d}"


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
        if not 1 <= retention_hours <= MAX_RETENTION_H:
            raise ConfigError(
                f"retention must be 1..{MAX_RETENTION_H} hours, got {retention_hours}"
            )
        self._path = Path(path)
        self._clock = clock
        self._retention_ms = retention_hours * 3_600_000
        self._since_trim = _TRIM_EVERY  # a writer trims on its first put
        self._db = connect(self._path, _SCHEMA, StreamError, new_file=_NEW_FILE)
        self.shard_count, self._name, self._legacy = self._init_meta(shard_count)
        self._record_table = self._has_record_table()
        self._decoded: tuple[int, int, StoredChunk] | None = None  # the last batch read

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

    def _has_record_table(self) -> bool:
        """True for a log written before batches: its one-row-per-record table is read first."""
        with errors("embedded stream open", StreamError, self._path):
            found = self._db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (_LEGACY_TABLE,)
            ).fetchone()
        return found is not None

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
        return self.put_columns([key for key, _ in entries], [data for _, data in entries])

    def put_columns(self, keys: Sequence[str], payloads: Sequence[bytes]) -> PutResult:
        """``put_records`` of the entries ``zip(keys, payloads)``, given as two columns.

        The same records go in, in the same rows, and the same entries fail (by index), as
        ``put_records`` of the pairs; a producer that holds columns saves a tuple a record.
        """
        if len(keys) != len(payloads):
            raise ValueError(f"{len(keys)} keys for {len(payloads)} payloads")
        keys, payloads, failed = accepted_columns(keys, payloads)
        encoded = encoded_rows(keys, payloads, self.shard_count)
        with errors("embedded stream write", StreamError, self._path), self._db:
            self._db.execute("BEGIN IMMEDIATE")
            last = dict(self._db.execute("SELECT shard, last_seq FROM shards"))
            arrival_ms = self._clock()
            out = []
            for shard, count, (codec, size, stored) in encoded:
                last[shard] = last.get(shard, 0) + count
                out.append((shard, last[shard], count, arrival_ms, codec, size, stored))
            self._db.executemany("INSERT INTO batches VALUES (?, ?, ?, ?, ?, ?, ?)", out)
            self._db.executemany("INSERT OR REPLACE INTO shards VALUES (?, ?)", last.items())
            sent = len(keys)
            trimmed = self._maybe_trim(sent)
        if trimmed:
            self._give_back()
        return PutResult(sent=sent, failed=failed, records=sent)

    def _maybe_trim(self, added: int) -> int:
        self._since_trim += added
        return self._trim() if self._since_trim >= _TRIM_EVERY else 0

    def trim(self) -> int:
        """Drop records older than the retention now, in one transaction; how many went."""
        with errors("embedded stream trim", StreamError, self._path), self._db:
            self._db.execute("BEGIN IMMEDIATE")
            removed = self._trim()
        if removed:
            self._give_back()
        return removed

    def _give_back(self) -> None:
        """Return the pages that trimmed records freed to the file system, in a transaction
        of their own (``executescript`` steps the pragma to its end; a no-op without
        auto_vacuum, where later puts reuse the pages instead)."""
        with errors("embedded stream trim", StreamError, self._path):
            self._db.executescript("PRAGMA incremental_vacuum;")

    def _trim(self) -> int:
        """Drop records older than the retention (first put, then every 100,000 records).

        Whole batches go (a batch's records share one arrival time), whether or not a consumer
        has read them, as Kinesis's retention does; the caller gives their pages back after.
        """
        self._since_trim = 0
        cutoff = self._clock() - self._retention_ms
        with errors("embedded stream trim", StreamError, self._path):
            gone = self._db.execute(
                "DELETE FROM batches WHERE arrival_ms < ? RETURNING count", (cutoff,)
            ).fetchall()
            removed = sum(int(count) for (count,) in gone)
            if self._record_table:
                deleted = self._db.execute("DELETE FROM records WHERE arrival_ms < ?", (cutoff,))
                removed += int(deleted.rowcount)
        return removed

    def list_shards(self) -> list[ShardInfo]:
        """Every shard (the embedded stream never reshards, so all are open)."""
        return [ShardInfo(shard_id(i)) for i in range(self.shard_count)]

    def read(self, shard_id: str, after: str | None, limit: int) -> ReadResult:
        """Up to ``limit`` records of a shard after sequence number ``after``.

        ``after`` must be a sequence number of that shard (StreamError otherwise): one of
        another shard or stream would skip or repeat records. When retention trimmed records
        that followed ``after``, the read starts at the oldest one left and ``expired`` says
        how many were lost. The records are a ``RecordBatch``: columns, each record built
        only when it is read.
        """
        index = self._index(shard_id)
        start = 0 if after is None else self._counter(index, after)
        with errors("embedded stream read", StreamError, self._path):
            first, last, records = self._record_rows(index, start, limit)
            if len(records) < limit:
                later, batched = self._batch_records(index, last, limit - len(records))
                first = first if len(records) else later
                records += batched
            tip = self._tip(index)
        behind = tip - records[-1].arrival_ms if records and tip is not None else 0
        expired = first - start - 1 if records and after is not None else 0
        return ReadResult(records=records, behind_ms=behind, expired=expired)

    def _batch_records(self, index: int, start: int, limit: int) -> tuple[int, RecordBatch]:
        """(first counter, records) of up to ``limit`` records after ``start``, from batches."""
        chunks: list[StoredChunk] = []
        first, taken = 0, 0
        rows = self._db.execute(
            "SELECT last_seq, count, arrival_ms, codec, size, body FROM batches"
            " WHERE shard = ? AND last_seq > ? ORDER BY last_seq",
            (index, start),
        )
        for last, count, arrival_ms, codec, size, body in rows:
            batch = self._batch(index, last, count, arrival_ms, (codec, size, body))
            skip = max(0, start - (last - count))
            if not chunks:
                first = last - count + 1 + skip
            chunk = batch.cut(skip, min(count, skip + limit - taken))
            chunks.append(chunk)
            taken += len(chunk)
            if taken >= limit:
                break
        rows.close()
        return first, RecordBatch(chunks)

    def _batch(
        self, index: int, last: int, count: int, arrival_ms: int, stored: tuple[int, int, bytes]
    ) -> StoredChunk:
        """The records of one batch (the last one decoded is kept: reads often resume in it)."""
        if self._decoded is not None and self._decoded[:2] == (index, last):
            return self._decoded[2]
        try:
            body, ends, keys, payloads = batches.decode_columns(count, *stored)
        except StreamError as exc:
            where = f"the batches row shard={index}, last_seq={last} of {self._path}"
            raise StreamError(f"{exc} ({where})") from exc
        prefix, width = ("", 0) if self._legacy else (_shard_prefix(index), _COUNTER_DIGITS)
        sequence = (prefix, width, last - count + 1)
        chunk = StoredChunk(payloads, arrival_ms, sequence, body, ends, keys)
        self._decoded = (index, last, chunk)
        return chunk

    def _record_rows(self, index: int, start: int, limit: int) -> tuple[int, int, RecordBatch]:
        """(first counter, last counter, records) from an older log's one-row-per-record table.

        Without such records: (0, ``start``, no records).
        """
        if not self._record_table:
            return 0, start, RecordBatch()
        rows = self._db.execute(
            "SELECT seq, arrival_ms, partition_key, data FROM records"
            " WHERE shard = ? AND seq > ? ORDER BY seq LIMIT ?",
            (index, start, limit),
        ).fetchall()
        sequence = self._sequencer(index)
        records = [StreamRecord(sequence(seq), arr, key, data) for seq, arr, key, data in rows]
        if not rows:
            return 0, start, RecordBatch()
        return rows[0][0], rows[-1][0], RecordBatch.of(records)

    def _tip(self, index: int) -> int | None:
        """The arrival time of the shard's newest record (None: the shard has none)."""
        row = self._db.execute(
            "SELECT arrival_ms FROM batches WHERE shard = ? ORDER BY last_seq DESC LIMIT 1",
            (index,),
        ).fetchone()
        if row is None and self._record_table:
            row = self._db.execute(
                "SELECT arrival_ms FROM records WHERE shard = ? ORDER BY seq DESC LIMIT 1",
                (index,),
            ).fetchone()
        return None if row is None else int(row[0])

    def _numbers(self, index: int, first: int, stop: int) -> list[str]:
        """The shard's sequence numbers of the counters ``first`` to ``stop - 1``, as
        ``_sequencer`` writes them, made in C (``core.recordbatch.numbers``)."""
        if self._legacy:
            return numbers("", 0, first, stop)
        return numbers(_shard_prefix(index), _COUNTER_DIGITS, first, stop)

    def _sequencer(self, index: int) -> Callable[[int], str]:
        """A shard's sequence number of a counter."""
        if self._legacy:
            return str
        prefix = _shard_prefix(index)
        return lambda counter: f"{prefix}{counter:0{_COUNTER_DIGITS}d}"

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
