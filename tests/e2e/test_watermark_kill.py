"""The watermark survives a SIGKILL: killed mid-window and restarted, the same trips are late.

The stream holds a seeded out-of-order scenario (tests/support/disorder.py); the late trips
are computed by hand from the records in shard order, and `--late dead-letter` must put
exactly those in the dead letters, across the kill, with every other trip in its window.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import subprocess
import time
from contextlib import closing
from pathlib import Path

from tests.e2e.test_pipeline_kill import KILL_WITHIN_S, kill_mid_window, progress
from tests.support.disorder import Trip, disordered_trips, expected_late, sums

from taxi_stream.streams.local import LocalStream

TRIPS = 12_000
SHARDS = 4
PUT_SIZE = 8  # a put a second of arrival: a window part holds a few records per shard
WINDOW_S = 2
OOO_S = 300


def write_stream(path: Path, start_ms: int) -> list[Trip]:
    """Put the scenario into a local stream, a second of arrival a put; the trips as stored.

    So many small window parts that most late trips come in another part than the trips that
    raised the watermark past them: only the stored watermark can judge them.
    """
    trips = disordered_trips(seed=21, count=TRIPS)
    now_ms = [start_ms]
    stream = LocalStream(path, SHARDS, clock=lambda: now_ms[0])
    for at in range(0, TRIPS, PUT_SIZE):
        now_ms[0] = start_ms + at // PUT_SIZE * 1000
        chunk = trips[at : at + PUT_SIZE]
        assert stream.put_records([(t.trip_id, t.wire()) for t in chunk]).sent == len(chunk)
    by_id = {t.trip_id: t for t in trips}
    stored = []
    for shard in stream.list_shards():
        after = None
        while records := stream.read(shard.shard_id, after, 1000).records:
            for r in records:
                trip = by_id[r.partition_key]
                stored.append(
                    dataclasses.replace(
                        trip, shard_id=shard.shard_id, sequence=int(r.sequence_number)
                    )
                )
            after = records[-1].sequence_number
    stream.close()
    assert len(stored) == TRIPS
    return stored


def dead_and_totals(store: Path) -> tuple[set[str], dict[tuple[str, int], tuple[int, ...]]]:
    """(the trip ids of the dead letters, all `late`; the four sums per window)."""
    with closing(sqlite3.connect(f"file:{store}?mode=ro", uri=True)) as db:
        letters = db.execute("SELECT reason, raw FROM dead_letters").fetchall()
        rows = db.execute(
            "SELECT vendor_id, window_start_ms, trip_count, distance_milli, duration_s,"
            " passenger_count FROM windows"
        ).fetchall()
    assert {reason for reason, _ in letters} <= {"late"}
    late = {bytes(raw).split(b'"id": "', 1)[1].split(b'"', 1)[0].decode() for _, raw in letters}
    return late, {(v, s): (n, d, t, p) for v, s, n, d, t, p in rows}


def test_sigkill_mid_window_keeps_the_watermark_and_the_late_verdicts(
    taxi_stream_exe: Path, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """Killed mid-window, then restarted: the dead letters `late` are exactly the late trips."""
    data = tmp_path / "data"
    past_ms = (time.time_ns() // 1_000_000 // 1000 - TRIPS // PUT_SIZE - 60) * 1000
    trips = write_stream(data / "stream.db", past_ms)  # every arrival window over at the start
    late = expected_late(trips, window_s=WINDOW_S, out_of_orderness_s=OOO_S, allowed_lateness_s=0)
    assert len(late) > 50
    argv = [str(taxi_stream_exe), "process", "--data-dir", str(data), "--clock", "event",
            "--window-seconds", str(WINDOW_S), "--max-out-of-orderness", str(OOO_S),
            "--late", "dead-letter", "--batch-size", "10", "--until-idle"]  # fmt: skip

    kill_mid_window(argv, tmp_path, cli_env, data / "store.db")
    trips_at_kill, _ = progress(data / "store.db")
    assert 0 < trips_at_kill < TRIPS - len(late), "the kill did not land mid-run"

    done = subprocess.run(argv, cwd=tmp_path, env=cli_env, capture_output=True, text=True,
                          timeout=KILL_WITHIN_S, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    dead, totals = dead_and_totals(data / "store.db")
    assert dead == late
    assert totals == sums([t for t in trips if t.trip_id not in late], WINDOW_S)
