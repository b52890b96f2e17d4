"""`taxi-stream aws local --data-dir`: it empties only a dir it wrote, never one in use."""

from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from taxi_stream.cli.demodir import MARKER_FILE
from taxi_stream.stores.sqlite import SQLiteStore

CLI = [sys.executable, "-m", "taxi_stream.cli"]


def _env() -> dict[str, str]:
    """The caller's environment without AWS settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}


def _cli(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], input=stdin.decode(), capture_output=True, text=True, env=_env(),
        timeout=120, check=False,
    )  # fmt: skip


def _aws_local(data_dir: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """aws local with a node_modules that holds no servers: a refusal must come before them."""
    empty = tmp_path / "no-servers"
    empty.mkdir(exist_ok=True)
    return _cli("aws", "local", "--trips", "10", "--no-wait", "--node-modules", str(empty),
                "--data-dir", str(data_dir))  # fmt: skip


def _trips(count: int) -> bytes:
    made = _cli("generate", "--trips", str(count), "--seed", "3")
    assert made.returncode == 0, made.stderr
    return made.stdout.encode()


def _digests(data_dir: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in data_dir.iterdir()}


def _error_line(done: subprocess.CompletedProcess[str]) -> str:
    [line] = [text for text in done.stderr.splitlines() if text.startswith("Error:")]
    return line


@pytest.mark.parametrize("marked", [False, True], ids=["unmarked", "marked"])
def test_a_produced_stream_is_refused_and_kept(tmp_path: Path, marked: bool) -> None:
    """A data dir `produce` wrote a stream into is refused (exit 2, naming the dir and the
    stream), even one aws local marked as its own, and its files stay as they were."""
    data_dir = tmp_path / "d40"
    sent = _cli("produce", "--data-dir", str(data_dir), "--shards", "1", "--from", "-",
                stdin=_trips(40))  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    if marked:
        (data_dir / MARKER_FILE).write_text("aws local's\n")
    before = _digests(data_dir)
    assert "stream.db" in before

    done = _aws_local(data_dir, tmp_path)

    assert done.returncode == 2, done.stderr
    line = _error_line(done)
    assert f"--data-dir {data_dir} holds a stream (stream.db)" in line
    assert "did not write" in line
    assert "kinesalite" not in done.stdout  # refused before any server started
    assert _digests(data_dir) == before


@pytest.mark.parametrize(
    ("marked", "held"),
    [(False, "a store (store.db"), (True, "a store with windows or dead letters (store.db)")],
    ids=["unmarked", "marked"],
)
def test_a_processed_store_is_refused_and_kept(tmp_path: Path, marked: bool, held: str) -> None:
    """A store with windows that `process` wrote (its stream moved away) is refused, exit 2,
    even in a dir aws local marked (its own store is DynamoDB: it writes no windows here)."""
    data_dir = tmp_path / "d"
    sent = _cli("produce", "--data-dir", str(data_dir), "--from", "-", stdin=_trips(20))
    assert sent.returncode == 0, sent.stderr
    processed = _cli("process", "--data-dir", str(data_dir), "--until-idle", "--quiet")
    assert processed.returncode == 0, processed.stderr
    (data_dir / "stream.db").rename(tmp_path / "stream.db")
    if marked:
        (data_dir / MARKER_FILE).write_text("aws local's\n")
    before = _digests(data_dir)

    done = _aws_local(data_dir, tmp_path)

    assert done.returncode == 2, done.stderr
    assert f"--data-dir {data_dir} holds {held}" in _error_line(done)
    assert _digests(data_dir) == before


def test_a_dir_being_consumed_is_refused_as_process_refuses_it(tmp_path: Path) -> None:
    """aws local's own dir, while a consumer holds its lock, is refused with the line and exit
    status `process` gives a second consumer, and nothing in it is removed."""
    data_dir = tmp_path / "demo"
    data_dir.mkdir()
    (data_dir / MARKER_FILE).write_text("aws local's\n")
    SQLiteStore(data_dir / "store.db").close()  # the demo's checkpoints, none saved yet
    fd = os.open(data_dir / "consumer.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, b"4242")
        before = _digests(data_dir)
        done = _aws_local(data_dir, tmp_path)
        second = _cli("process", "--data-dir", str(data_dir), "--stream", "kinesis://x",
                      "--until-idle")  # fmt: skip
    finally:
        os.close(fd)
    assert done.returncode == second.returncode == 1, done.stderr + second.stderr
    assert _error_line(done) == _error_line(second)
    assert "is being consumed already (pid 4242)" in _error_line(done)
    assert _digests(data_dir) == before


@pytest.mark.aws
def test_its_own_dir_is_emptied_at_the_next_start(tmp_path: Path) -> None:
    """A dir aws local made is marked, and a second run on it (dead letters and all) starts
    from empty checkpoints (old ones would point into the first run's servers) and balances."""
    data_dir = tmp_path / "demo"
    for _ in range(2):
        done = _cli("aws", "local", "--trips", "2000", "--malformed", "0.01", "--no-wait",
                    "--data-dir", str(data_dir))  # fmt: skip
        assert done.returncode == 0, done.stderr + done.stdout
        assert "produced 2,000 = " in done.stdout
        assert "dead letters (balanced)" in done.stdout
    assert sorted(p.name for p in data_dir.iterdir()) == [MARKER_FILE, "consumer.lock", "store.db"]
