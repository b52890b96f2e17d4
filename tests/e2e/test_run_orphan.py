"""A `taxi-stream run` killed with SIGKILL takes its producer child with it: no trips go on
into the stream with nobody left to count them."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

from tests.e2e.conftest import clean_env

WAIT_S = 60  # bound on waiting for the run to start producing, and for its child to end
POLL_S = 0.05


def stream_records(path: Path) -> int:
    """Records in the embedded stream's batches, read-only (0 before the schema exists)."""
    if not path.exists():
        return 0
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)) as db:
        try:
            (count,) = db.execute("SELECT COALESCE(SUM(count), 0) FROM batches").fetchone()
        except sqlite3.OperationalError:
            return 0
    return int(count)


def children(pid: int) -> list[int]:
    """The pids whose parent is ``pid`` (Linux's /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def until(condition: Callable[[], bool], what: str) -> None:
    """Wait, bounded by WAIT_S, until ``condition()``; fail saying ``what`` did not happen."""
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(POLL_S)


def test_the_producer_child_stops_when_its_run_is_killed(
    taxi_stream_exe: Path, tmp_path: Path
) -> None:
    """SIGKILL of `run` mid-stream: every process it started exits, the stream stops growing."""
    data = tmp_path / "data"
    argv = [str(taxi_stream_exe), "run", "--data-dir", str(data), "--duration", "120"]
    argv += ["--rate", "2000", "--window-seconds", "5", "--quiet"]
    with subprocess.Popen(argv, env=clean_env(), stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True) as run:  # fmt: skip
        until(lambda: stream_records(data / "stream.db") > 0, "run never produced")
        started = [pid for pid in children(run.pid) if running(pid)]
        assert started, "no producer child found"
        run.send_signal(signal.SIGKILL)
        run.wait(WAIT_S)
        until(lambda: not any(map(running, started)), "a child outlived its run")
        stderr = run.stderr.read() if run.stderr else ""
    settled = stream_records(data / "stream.db")
    time.sleep(1.0)  # at 2,000 trips a second a live producer would add about 2,000
    assert stream_records(data / "stream.db") == settled
    assert "Traceback" not in stderr
