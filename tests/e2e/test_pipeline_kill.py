"""A `taxi-stream process` killed with SIGKILL mid-window, then restarted: totals stay exact.

The stream is written with known arrival times (an injected clock), so the test knows which
tumbling window every trip belongs to and computes the expected totals in plain Python.
"""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from contextlib import closing
from pathlib import Path

from taxi_stream.sources.simulator import Simulator, SimulatorConfig
from taxi_stream.streams.local import LocalStream

TRIPS = 24_000
SHARDS = 4
PUT_SIZE = 100
PUT_STEP_MS = 100  # arrival time advances 100 ms per put: 240 puts span 24 s
WINDOW_S = 2  # so the trips fall in 12 windows
BATCH_SIZE = 10  # small invocations, so the kill lands between many checkpoints
KILL_WITHIN_S = 60  # bound on waiting for the moment to kill
POLL_S = 0.002

Key = tuple[str, int]  # (vendor, window start ms)


def write_stream(path: Path, start_ms: int) -> dict[Key, list[int]]:
    """Put seeded trips into a local stream; return their expected totals per (vendor, window)."""
    now_ms = [start_ms]
    stream = LocalStream(path, SHARDS, clock=lambda: now_ms[0])
    expected: dict[Key, list[int]] = {}
    batches = Simulator(SimulatorConfig(seed=404)).batches(PUT_SIZE, count=TRIPS)
    for index, batch in enumerate(batches):
        arrival = now_ms[0] = start_ms + index * PUT_STEP_MS
        assert stream.put_records(batch.entries).sent == len(batch.entries)
        window = arrival - arrival % (WINDOW_S * 1000)
        for _, data in batch.entries:
            trip = json.loads(data)
            cell = expected.setdefault((str(trip["vendorId"]), window), [0, 0, 0, 0])
            cell[0] += 1
            cell[1] += round(trip["googleDistance"] * 1000)
            cell[2] += trip["tripDuration"]
            cell[3] += trip["passengerCount"]
    stream.close()
    return expected


def progress(store: Path) -> tuple[int, int]:
    """(trips in stored windows, checkpoints holding an open window's state), read-only.

    A checkpoint holds an open window when it carries a state: the Lambda contract ends a window
    with an empty one, whatever the handler keeps inside it.
    """
    if not store.exists():
        return 0, 0
    with closing(sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=5)) as db:
        try:
            (trips,) = db.execute("SELECT COALESCE(SUM(trip_count), 0) FROM windows").fetchone()
            states = [state for (state,) in db.execute("SELECT state FROM checkpoints")]
        except sqlite3.OperationalError:  # schema not created yet
            return 0, 0
    return trips, sum(1 for state in states if state and json.loads(state))


def stored_totals(store: Path) -> tuple[dict[Key, list[int]], Counter[Key]]:
    """Totals per (vendor, window) and how many contributions each window took."""
    with closing(sqlite3.connect(f"file:{store}?mode=ro", uri=True)) as db:
        rows = db.execute(
            "SELECT vendor_id, window_start_ms, trip_count, distance_milli, duration_s,"
            " passenger_count, contributions FROM windows"
        ).fetchall()
        ids = db.execute(
            "SELECT vendor_id, window_start_ms, COUNT(*) FROM contributions GROUP BY 1, 2"
        ).fetchall()
    totals = {(v, s): [n, d, t, p] for v, s, n, d, t, p, _ in rows}
    applied = Counter({(v, s): c for v, s, *_, c in rows})
    assert applied == Counter({(v, s): n for v, s, n in ids}), "a contribution lost its id"
    return totals, applied


def kill_mid_window(argv: list[str], cwd: Path, env: dict[str, str], store: Path) -> None:
    """Start a process; SIGKILL it once a window is stored while another one is still open."""
    process = subprocess.Popen(argv, cwd=cwd, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + KILL_WITHIN_S
    try:
        while time.monotonic() < deadline and process.poll() is None:
            trips, open_windows = progress(store)
            if trips and open_windows:
                process.send_signal(signal.SIGKILL)
                break
            time.sleep(POLL_S)  # bounded: waiting on the subprocess to make progress
        _, stderr = process.communicate(timeout=KILL_WITHIN_S)
    finally:
        process.kill()
    assert process.returncode == -signal.SIGKILL, f"not killed mid-run: {stderr}"


def test_sigkill_mid_window_then_restart_counts_every_trip_exactly_once(
    taxi_stream_exe: Path, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """Killed mid-window and restarted, the totals per (vendor, window) are exact."""
    data = tmp_path / "data"
    start_ms = time.time_ns() // 1_000_000 // 1000 * 1000
    expected = write_stream(data / "stream.db", start_ms)
    argv = [str(taxi_stream_exe), "process", "--data-dir", str(data)]
    argv += ["--window-seconds", str(WINDOW_S), "--batch-size", str(BATCH_SIZE), "--until-idle"]

    kill_mid_window(argv, tmp_path, cli_env, data / "store.db")
    trips_at_kill, open_at_kill = progress(data / "store.db")
    assert 0 < trips_at_kill < TRIPS, "the kill did not land between the first and last window"
    assert open_at_kill > 0, "no window was open when the process died"

    done = subprocess.run(argv, cwd=tmp_path, env=cli_env, capture_output=True, text=True,
                          timeout=KILL_WITHIN_S, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    resumed = re.search(r"delivered ([\d,]+) records", done.stderr)
    assert resumed, done.stderr
    assert int(resumed[1].replace(",", "")) < TRIPS, "the restart did not resume from a checkpoint"
    totals, applied = stored_totals(data / "store.db")
    assert totals == expected
    assert sum(n for n, *_ in totals.values()) == TRIPS
    assert all(1 <= count <= SHARDS for count in applied.values()), applied
