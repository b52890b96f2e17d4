"""`process` stops alike on Ctrl-C and SIGTERM: one line saying where the next run resumes, 130."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from queue import Empty, SimpleQueue

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


SLEEPER = """\
import os, pathlib, time

def handler(event, context):
    pathlib.Path("began").write_text(context.aws_request_id)
    time.sleep(float(os.environ["SLEEP"]))
"""


@contextmanager
def sleeping_process(
    taxi_stream_exe: Path, env: dict[str, str], tmp: Path, sleep_s: int, timeout_s: int
) -> Iterator[tuple[subprocess.Popen[str], SimpleQueue[str]]]:
    """`process` on 3 records with a handler that sleeps ``sleep_s`` per call, once its first
    call has begun; its stderr lines, as they come, in the queue."""
    (tmp / "sleeper.py").write_text(SLEEPER)
    (tmp / "trips.jsonl").write_text("".join(f'{{"n": {n}}}\n' for n in range(3)))
    argv = [str(taxi_stream_exe), "produce", "--data-dir", "d", "--from", "trips.jsonl"]
    subprocess.run(argv, cwd=tmp, env=env, check=True, capture_output=True, timeout=CLI_TIMEOUT_S)
    argv = [str(taxi_stream_exe), "process", "--data-dir", "d", "--quiet", "--window-seconds"]
    argv += ["0", "--handler", "sleeper:handler", "--function-timeout", str(timeout_s)]
    env = {**env, "SLEEP": str(sleep_s)}
    with subprocess.Popen(argv, cwd=tmp, env=env, stderr=subprocess.PIPE, text=True) as process:
        lines: SimpleQueue[str] = SimpleQueue()
        assert process.stderr is not None
        threading.Thread(
            target=lambda: [lines.put(line) for line in process.stderr], daemon=True
        ).start()
        try:
            deadline = time.monotonic() + CLI_TIMEOUT_S
            while not (tmp / "began").exists():
                assert process.poll() is None, "process ended by itself"
                assert time.monotonic() < deadline, "the handler was never called"
                time.sleep(POLL_S)
            yield process, lines
        finally:
            process.kill()


def line_with(lines: SimpleQueue[str], text: str, seen: list[str]) -> str:
    """The next stderr line that holds ``text`` (those before it kept in ``seen``)."""
    while True:
        try:
            line = lines.get(timeout=CLI_TIMEOUT_S)
        except Empty:
            raise AssertionError(f"no line with {text!r} after {seen}") from None
        seen.append(line)
        if text in line:
            return line


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_during_a_long_call_says_it_waits_and_a_second_quits_now(
    taxi_stream_exe: Path, cli_env: dict[str, str], tmp_path: Path, signum: int
) -> None:
    """The first signal during a call that sleeps an hour (timeout 900 s) prints one line: it
    waits for the call, up to its timeout, and a second signal quits now; the second does."""
    with sleeping_process(taxi_stream_exe, cli_env, tmp_path, 3600, 900) as (process, lines):
        process.send_signal(signum)
        seen: list[str] = []
        notice = line_with(lines, "stopping:", seen)
        assert "waiting for the running invocation" in notice
        assert "up to its timeout" in notice
        assert "again quits now" in notice
        process.send_signal(signum)
        assert process.wait(timeout=CLI_TIMEOUT_S) == 130
        line_with(lines, "interrupted; the next run resumes from the last checkpoint", seen)


def test_a_call_past_its_timeout_ends_as_a_timeout_while_stopping(
    taxi_stream_exe: Path, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """A call that never returns (an hour's sleep, --function-timeout 5): after one SIGTERM,
    `process` ends once the call has timed out, saying so, with exit status 130."""
    with sleeping_process(taxi_stream_exe, cli_env, tmp_path, 3600, 5) as (process, lines):
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=CLI_TIMEOUT_S) == 130
        seen: list[str] = []
        line_with(lines, "timed out while stopping", seen)
        line_with(lines, "interrupted; the next run resumes from the last checkpoint", seen)
