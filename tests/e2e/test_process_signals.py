"""`process` stops alike on Ctrl-C and SIGTERM: one line saying where the next run resumes, 130."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time
from contextlib import closing
from pathlib import Path

import pytest
from tests.e2e.conftest import CLI_TIMEOUT_S, Cli

POLL_S = 0.05  # how often the test looks for the checkpoints; no assertion depends on it


def checkpoints(store: Path) -> int:
    """How many shard checkpoints the store holds (0 before the schema exists), read-only."""
    if not store.exists():
        return 0
    with closing(sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=5)) as db:
        try:
            (n,) = db.execute("SELECT COUNT(*) FROM checkpoints").fetchone()
        except sqlite3.OperationalError:  # schema not created yet
            return 0
    return int(n)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_process_with_one_line_and_exit_130(
    cli: Cli, taxi_stream_exe: Path, cli_env: dict[str, str], tmp_path: Path, signum: int
) -> None:
    """SIGTERM, like Ctrl-C, ends a running `process` with the resume line and exit status 130."""
    source = tmp_path / "trips.jsonl"
    cli("generate", "--trips", "20", "--out", source)
    cli("produce", "--data-dir", "d", "--from", source)
    argv = [str(taxi_stream_exe), "process", "--data-dir", "d", "--quiet"]
    with subprocess.Popen(
        argv, cwd=tmp_path, env=cli_env, stderr=subprocess.PIPE, text=True
    ) as process:
        try:
            deadline = time.monotonic() + CLI_TIMEOUT_S
            while checkpoints(tmp_path / "d" / "store.db") == 0:  # the loop has begun
                assert process.poll() is None, "process ended by itself"
                assert time.monotonic() < deadline, "no checkpoint written"
                time.sleep(POLL_S)
            process.send_signal(signum)
            _, stderr = process.communicate(timeout=CLI_TIMEOUT_S)
        finally:
            process.kill()
    assert process.returncode == 130, stderr
    assert stderr.splitlines()[-1] == "interrupted; the next run resumes from the last checkpoint"
