"""Embedded stream throughput (write, read) vs a naive SQLite log: one row per call.

Ours: ``LocalStream.put_records`` in calls of 500 records (one PutRecords call's worth, what
`taxi-stream produce` and `run` send) into a 4-shard stream, then ``LocalStream.read`` of up to
10,000 records per call (the BatchSize maximum), shard by shard, to the end.

Baseline: the same table, the same SQLite settings (WAL, synchronous=NORMAL), used the way the
original generator used its stream, one record per call: an INSERT and a COMMIT per record
(``put_record``, durable when it returns), and a SELECT by (shard, sequence number) per record
to read. Both run in this process, alternately, each into a fresh file; medians are reported.
The baseline writes fewer records per repeat (it is slow); trips/s is per record either way.

    .venv/bin/python bench/bench_stream.py [--repeats N]
"""

from __future__ import annotations

import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from taxi_stream.core.hashkey import shard_for_key
from taxi_stream.sources.simulator import Simulator, SimulatorConfig
from taxi_stream.streams.local import LocalStream, shard_id

DEFAULT_REPEATS = 5
RECORDS = 100_000
BASELINE_RECORDS = 10_000
SHARDS = 4
PUT_BATCH = 500
READ_LIMIT = 10_000

Entries = list[tuple[str, bytes]]

_NAIVE_SCHEMA = """
CREATE TABLE records (
    shard INTEGER NOT NULL, seq INTEGER NOT NULL, arrival_ms INTEGER NOT NULL,
    partition_key TEXT NOT NULL, data BLOB NOT NULL, PRIMARY KEY (shard, seq)
) WITHOUT ROWID;
"""


def ours(path: Path, entries: Entries) -> tuple[float, float]:
    """Seconds to write then read ``entries`` through LocalStream."""
    stream = LocalStream(path, SHARDS)
    started = time.perf_counter()
    for start in range(0, len(entries), PUT_BATCH):
        stream.put_records(entries[start : start + PUT_BATCH])
    written = time.perf_counter()
    read = 0
    for index in range(SHARDS):
        after = None
        while records := stream.read(shard_id(index), after, READ_LIMIT).records:
            read += len(records)
            after = records[-1].sequence_number
    done = time.perf_counter()
    stream.close()
    assert read == len(entries), f"read {read} of {len(entries)}"
    return written - started, done - written


def naive(path: Path, entries: Entries) -> tuple[float, float]:
    """Seconds to write then read ``entries`` one record per statement, committing each write."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(_NAIVE_SCHEMA)
    last = [0] * SHARDS
    started = time.perf_counter()
    for key, data in entries:
        shard = shard_for_key(key, SHARDS)
        last[shard] += 1
        db.execute("BEGIN IMMEDIATE")
        db.execute(
            "INSERT INTO records VALUES (?, ?, ?, ?, ?)",
            (shard, last[shard], time.time_ns() // 1_000_000, key, data),
        )
        db.execute("COMMIT")
    written = time.perf_counter()
    read = 0
    for shard in range(SHARDS):
        for seq in range(1, last[shard] + 1):
            row = db.execute(
                "SELECT arrival_ms, partition_key, data FROM records WHERE shard = ? AND seq = ?",
                (shard, seq),
            ).fetchone()
            read += row is not None
    done = time.perf_counter()
    db.close()
    assert read == len(entries), f"read {read} of {len(entries)}"
    return written - started, done - written


def _timed(kind: Callable[[Path, Entries], tuple[float, float]], entries: Entries) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        write_s, read_s = kind(Path(tmp) / "stream.db", entries)
    return [len(entries) / write_s, len(entries) / read_s]


def run(repeats: int = DEFAULT_REPEATS) -> list[dict[str, Any]]:
    """Median records/s written and read, ours vs the one-record-per-call baseline."""
    entries = Simulator(SimulatorConfig(seed=5)).batch(RECORDS).entries
    rates: dict[str, list[list[float]]] = {"ours": [], "naive": []}
    for _ in range(repeats):
        rates["ours"].append(_timed(ours, entries))
        rates["naive"].append(_timed(naive, entries[:BASELINE_RECORDS]))
    rows = []
    for column, label in enumerate(("write, 500 per put", "read, 10k per read")):
        mine = statistics.median(r[column] for r in rates["ours"])
        base = statistics.median(r[column] for r in rates["naive"])
        rows.append(
            {
                "name": f"embedded stream {label} vs 1 per call",
                "trips_per_s": round(mine),
                "baseline_trips_per_s": round(base),
                "ratio": round(mine / base, 1),
            }
        )
    return rows


if __name__ == "__main__":
    from rows import print_rows

    print_rows(run, __doc__, DEFAULT_REPEATS)
