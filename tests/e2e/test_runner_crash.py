"""Crash safety: `taxi-stream process` SIGKILLed at random points and restarted, totals exact."""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import time
from collections import defaultdict
from pathlib import Path

from taxi_stream.sources.simulator import Simulator, SimulatorConfig
from taxi_stream.stores.sqlite import SQLiteStore
from taxi_stream.streams.local import LocalStream, parse_sequence

TRIPS = 50_000
PUT = 500  # trips per put; each put arrives one (simulated) second after the last
WINDOW_S = 5
BATCH = 50  # small batches: kills land mid-window, mid-batch and mid-transaction
KILLS = 24
SEED = 424_242
START_MS = 1_730_419_200_000
RUN_TIMEOUT_S = 60
POLL_S = 0.003

Totals = dict[tuple[str, int], tuple[int, int, int, int]]


def produce(data: Path) -> Totals:
    """Put the trips into a 4-shard embedded stream; return their totals by plain Python."""
    now = [START_MS]
    stream = LocalStream(data / "stream.db", 4, clock=lambda: now[0])
    expected: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    simulator = Simulator(SimulatorConfig(seed=SEED))
    for _ in range(TRIPS // PUT):
        entries = simulator.batch(PUT).entries
        assert stream.put_records(entries).sent == PUT
        window = now[0] - now[0] % (WINDOW_S * 1000)
        for _, data_ in entries:
            trip = json.loads(data_)
            cell = expected[(str(trip["vendorId"]), window)]
            cell[0] += 1
            cell[1] += round(trip["googleDistance"] * 1000)
            cell[2] += trip["tripDuration"]
            cell[3] += trip["passengerCount"]
        now[0] += 1_000
    stream.close()
    return {key: (c[0], c[1], c[2], c[3]) for key, c in expected.items()}


def consumed(store: Path) -> int:
    """Records checkpointed so far (each shard's counter starts at 1)."""
    if not store.exists():
        return 0
    with sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=30) as db:
        try:
            rows = db.execute("SELECT sequence_number FROM checkpoints").fetchall()
        except sqlite3.OperationalError:
            return 0
    return sum(parse_sequence(seq)[1] for (seq,) in rows if seq is not None)


def kill_after(process: subprocess.Popen[bytes], store: Path, target: int) -> bool:
    """SIGKILL the process once ``target`` records are checkpointed; False if it ended first."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while consumed(store) < target:
        try:
            process.wait(timeout=POLL_S)
            return False
        except subprocess.TimeoutExpired:
            assert time.monotonic() < deadline, f"no progress to {target} in {RUN_TIMEOUT_S} s"
    process.send_signal(signal.SIGKILL)
    process.wait()
    return True


def test_sigkilled_at_random_points_and_restarted_totals_stay_exact(
    taxi_stream_exe: Path, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """Killed 24 times at seeded random points over 50,000 trips: nothing lost or counted twice."""
    data = tmp_path / "data"
    expected = produce(data)
    store = data / "store.db"
    argv = [str(taxi_stream_exe), "process", "--data-dir", str(data), "--quiet", "--until-idle"]
    argv += ["--window-seconds", str(WINDOW_S), "--batch-size", str(BATCH)]
    targets = sorted(random.Random(SEED).sample(range(1, TRIPS), KILLS))
    kills = 0
    with (tmp_path / "stderr.txt").open("wb") as stderr:
        for target in targets:
            at_least = max(target, consumed(store) + 1)  # every kill after progress in its run
            process = subprocess.Popen(argv, env=cli_env, stdout=subprocess.DEVNULL, stderr=stderr)
            kills += kill_after(process, store, at_least)
        final = subprocess.run(
            argv, env=cli_env, capture_output=True, timeout=RUN_TIMEOUT_S, check=False
        )
    assert final.returncode == 0, final.stderr.decode()
    assert kills >= 20
    result = SQLiteStore(store)
    stored = {
        (w.vendor_id, w.window_start_ms): (
            w.totals.trip_count,
            w.totals.distance_milli,
            w.totals.duration_s,
            w.totals.passenger_count,
        )
        for w in result.windows()
    }
    assert result.counts() == (TRIPS, 0)
    assert stored == expected
    result.close()
