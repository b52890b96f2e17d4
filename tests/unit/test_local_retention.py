"""The embedded stream's retention: a flag, trims by age alone, gives pages back, says what went."""

from __future__ import annotations

import logging
import random
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from taxi_stream.cli import main
from taxi_stream.core.errors import ConfigError
from taxi_stream.infra.clock import now_ms
from taxi_stream.runner.batching import Batcher
from taxi_stream.runner.config import MappingConfig
from taxi_stream.runner.cursor import ShardCursor
from taxi_stream.streams.local import LocalStream

T0_MS = 1_730_419_200_000
HOUR_MS = 3_600_000
SHARD_0 = "shardId-000000000000"
OLD, NEW = b'{"id": "old", "vendorId": "1"}', b'{"id": "new", "vendorId": "1"}'


class Clock:
    """A settable clock in epoch ms."""

    def __init__(self, now_ms: int = T0_MS) -> None:
        self.now_ms = now_ms

    def __call__(self) -> int:
        return self.now_ms


def trips(count: int, prefix: str = "t") -> list[tuple[str, bytes]]:
    """``count`` entries with seeded random payloads, which no compression shrinks."""
    draw = random.Random(prefix)
    return [(f"{prefix}{n}", draw.randbytes(300)) for n in range(count)]


def pages(path: Path) -> int:
    """The database's page count, read by a connection of its own."""
    with sqlite3.connect(path) as db:
        count = int(db.execute("PRAGMA page_count").fetchone()[0])
    db.close()
    return count


def test_trimmed_records_give_their_pages_and_bytes_back(tmp_path: Path) -> None:
    """After the retention passes, a trim frees the records' pages: the file shrinks on close."""
    path, clock = tmp_path / "stream.db", Clock()
    stream = LocalStream(path, 1, clock=clock)
    for start in range(0, 4_000, 500):
        stream.put_records(trips(500, prefix=f"b{start}-"))
    stream.close()
    full_pages, full_bytes = pages(path), path.stat().st_size
    clock.now_ms = T0_MS + 24 * HOUR_MS + 1  # just past the default retention of 24 hours
    stream = LocalStream(path, clock=clock)
    assert stream.trim() == 4_000
    stream.close()
    assert pages(path) * 10 < full_pages
    assert path.stat().st_size * 10 < full_bytes


def test_retention_trims_by_age_alone_keeping_younger_unread_records(tmp_path: Path) -> None:
    """With 1 hour retention, a trim an hour on drops the old put and keeps the younger one."""
    clock = Clock()
    stream = LocalStream(tmp_path / "stream.db", 1, retention_hours=1, clock=clock)
    stream.put_records(trips(3, prefix="old"))
    clock.now_ms = T0_MS + 30 * 60_000
    stream.put_records(trips(2, prefix="young"))
    clock.now_ms = T0_MS + HOUR_MS + 1
    assert stream.trim() == 3
    left = stream.read(SHARD_0, None, 10).records
    assert [r.partition_key for r in left] == ["young0", "young1"]
    stream.close()


def test_a_read_past_trimmed_records_says_how_many_expired(tmp_path: Path) -> None:
    """Reading after record 2 of 5 trimmed ones gives the survivors and expired = 3."""
    clock = Clock()
    stream = LocalStream(tmp_path / "stream.db", 1, retention_hours=1, clock=clock)
    stream.put_records(trips(5, prefix="old"))
    checkpoint = stream.read(SHARD_0, None, 2).records[-1].sequence_number
    clock.now_ms = T0_MS + 2 * HOUR_MS
    stream.put_records(trips(2, prefix="new"))
    stream.trim()
    result = stream.read(SHARD_0, checkpoint, 10)
    assert [r.partition_key for r in result.records] == ["new0", "new1"]
    assert result.expired == 5 - 2
    assert stream.read(SHARD_0, result.records[0].sequence_number, 10).expired == 0
    stream.close()


def test_the_runner_warns_of_and_counts_records_that_expired_unread(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A shard resuming past trimmed records logs a warning and counts them in its stats."""
    clock = Clock()
    stream = LocalStream(tmp_path / "stream.db", 1, retention_hours=1, clock=clock)
    stream.put_records(trips(4, prefix="old"))
    cursor = ShardCursor(
        SHARD_0, read_after=stream.read(SHARD_0, None, 1).records[0].sequence_number
    )
    clock.now_ms = T0_MS + 2 * HOUR_MS
    stream.put_records(trips(1, prefix="new"))
    stream.trim()
    with caplog.at_level(logging.WARNING, logger="taxi_stream.runner.batching"):
        Batcher(stream, MappingConfig(), clock).read_ahead(cursor)
    assert [r.partition_key for r in cursor.buffer] == ["new0"]
    assert cursor.stats.expired_records == 3
    assert [r.getMessage() for r in caplog.records] == [
        f"{SHARD_0}: 3 records expired (trimmed by the stream's retention) before they were read"
    ]
    stream.close()


@pytest.mark.parametrize("hours", [0, -1, 8_761])
def test_a_retention_outside_1_to_8760_hours_is_refused(tmp_path: Path, hours: int) -> None:
    """Retention is 1 hour to 365 days (Kinesis's maximum); anything else is a ConfigError."""
    with pytest.raises(ConfigError, match=r"retention must be 1\.\.8760 hours"):
        LocalStream(tmp_path / "stream.db", 1, retention_hours=hours)


@pytest.mark.parametrize(
    ("how", "kept"),
    [("flag", [NEW]), ("env", [NEW]), ("default", [OLD, NEW])],
)
def test_produce_takes_the_retention_from_its_flag_or_environment(
    tmp_path: Path, how: str, kept: list[bytes]
) -> None:
    """`produce` at 1 hour retention (flag or env var) trims a record 2 hours old; 24 keeps it."""
    two_hours_ago = now_ms() - 2 * HOUR_MS  # produce stamps arrivals with the wall clock
    old = LocalStream(tmp_path / "stream.db", 1, clock=lambda: two_hours_ago)
    old.put_records([("k", OLD)])
    old.close()
    lines = tmp_path / "trips.jsonl"
    lines.write_bytes(NEW + b"\n")
    argv = ["produce", "--data-dir", str(tmp_path), "--from", str(lines)]
    argv += ["--retention-hours", "1"] if how == "flag" else []
    env = {"TAXI_STREAM_RETENTION_HOURS": "1" if how == "env" else None}
    done = CliRunner().invoke(main, argv, env=env)
    assert done.exit_code == 0, done.output
    stream = LocalStream(tmp_path / "stream.db")
    assert [r.data for r in stream.read(SHARD_0, None, 10).records] == kept
    stream.close()
