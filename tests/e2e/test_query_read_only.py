"""`query` opens the store read-only: it writes nothing, and works where nothing may be written.

Root ignores file permissions, so "nothing is written" is checked directly: every file's bytes
and modification time, the directory's entries and modification time, and a file size limit of
0 bytes on the command (a write that grows or creates any file's content fails under it).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest

BOUND_S = 60
TRIPS = 3000

Query = Callable[..., subprocess.CompletedProcess[str]]
Snapshot = tuple[int, dict[str, tuple[str, int]]]


@pytest.fixture(scope="module")
def written(
    tmp_path_factory: pytest.TempPathFactory, taxi_stream_exe: Path, session_cli_env: dict[str, str]
) -> Path:
    """A data dir written by generate, produce and process (2% of the trips dead letters)."""
    cwd = tmp_path_factory.mktemp("written")
    for args in (
        ("generate", "--trips", TRIPS, "--malformed", "0.02", "--out", "t.jsonl"),
        ("produce", "--data-dir", "data", "--from", "t.jsonl"),
        ("process", "--data-dir", "data", "--until-idle"),
    ):
        done = subprocess.run(
            [str(taxi_stream_exe), *map(str, args)],
            cwd=cwd,
            env=session_cli_env,
            capture_output=True,
            text=True,
            timeout=BOUND_S,
            check=False,
        )
        assert done.returncode == 0, done.stderr
    assert not list((cwd / "data").glob("*-wal")), "a clean exit leaves no write-ahead log"
    return cwd / "data"


@pytest.fixture
def data(written: Path, tmp_path: Path) -> Path:
    """A copy of the written data dir for one test (its own directory, its own mtimes)."""
    copy = tmp_path / "data"
    copy.mkdir()
    for name in ("store.db", "stream.db"):
        (copy / name).write_bytes((written / name).read_bytes())
    return copy


@pytest.fixture
def query(taxi_stream_exe: Path, cli_env: dict[str, str], tmp_path: Path) -> Query:
    """Run ``taxi-stream query ARGS...`` where no file may grow past 0 bytes."""
    no_growth = (
        "import os, resource, sys;"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0));"
        "os.execv(sys.argv[1], sys.argv[1:])"
    )
    env = {**cli_env, "PYTHONDONTWRITEBYTECODE": "1"}

    def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-c", no_growth, str(taxi_stream_exe), "query", *map(str, args)]
        return subprocess.run(
            argv,
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=BOUND_S,
            check=False,
        )

    return run


def snapshot(directory: Path) -> Snapshot:
    """The directory's mtime, and each file's content digest and mtime."""
    files = {
        p.name: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(directory.iterdir())
    }
    return directory.stat().st_mtime_ns, files


def accounted(query: Query, data: Path) -> int:
    """Trips in the windows plus dead letters, as `query --format json` and `--format csv` say."""
    windows = query("--data-dir", data, "--format", "json")
    letters = query("--data-dir", data, "--dead-letters", "--format", "csv")
    assert windows.returncode == 0, windows.stderr
    assert letters.returncode == 0, letters.stderr
    trips = sum(row["tripCount"] for row in json.loads(windows.stdout))
    return trips + len(list(csv.DictReader(io.StringIO(letters.stdout))))


def test_query_writes_nothing_in_the_data_dir(query: Query, data: Path) -> None:
    """Every query form reads all the trips and leaves every byte, mtime and entry unchanged."""
    before = snapshot(data)
    table = query("--data-dir", data)
    letters = query("--data-dir", data, "--dead-letters")
    assert table.returncode == 0, table.stderr
    assert letters.returncode == 0, letters.stderr
    assert accounted(query, data) == TRIPS
    assert snapshot(data) == before
    assert sorted(p.name for p in data.iterdir()) == ["store.db", "stream.db"]


LETTER = ("letter-x", "local-x", "shardId-000000000000", "99999", None, 1, "not_json", "m", b"{")


@contextmanager
def live_writer(store: Path) -> Iterator[None]:
    """A writer holding the store open, one dead letter committed to its log, not to the file."""
    with closing(sqlite3.connect(store, isolation_level=None)) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("INSERT INTO dead_letters VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0)", LETTER)
        assert store.with_name("store.db-wal").stat().st_size > 0
        yield


def test_query_reads_what_a_live_writer_has_not_checkpointed(query: Query, data: Path) -> None:
    """Beside a writer, query reads its write-ahead log and changes neither the file nor the log."""
    store = data / "store.db"
    with live_writer(store):
        before = {p.name: p.read_bytes() for p in (store, data / "store.db-wal")}
        done = query("--data-dir", data, "--dead-letters", "--format", "json")
        after = {p.name: p.read_bytes() for p in (store, data / "store.db-wal")}
    assert done.returncode == 0, done.stderr
    assert [r["sequenceNumber"] for r in json.loads(done.stdout)].count("99999") == 1
    assert after == before


@contextmanager
def read_only(directory: Path) -> Iterator[None]:
    """The directory and its files without write permission (for anyone but root)."""
    modes = {p: p.stat().st_mode for p in [directory, *directory.iterdir()]}
    for path in modes:
        os.chmod(path, 0o555 if path.is_dir() else 0o444)
    try:
        yield
    finally:
        for path, mode in modes.items():
            os.chmod(path, stat.S_IMODE(mode))


@pytest.mark.parametrize("with_log", [False, True], ids=["no-wal", "live-wal"])
def test_query_works_on_a_data_dir_nobody_may_write(
    query: Query, data: Path, with_log: bool
) -> None:
    """Without write permission on the data dir and its files, query reads every trip."""
    if with_log:
        with live_writer(data / "store.db"), read_only(data):
            assert accounted(query, data) == TRIPS + 1
    else:
        with read_only(data):
            assert accounted(query, data) == TRIPS


def test_a_missing_store_is_one_clear_line_and_nothing_is_created(
    query: Query, tmp_path: Path
) -> None:
    """A data dir or a sqlite:/// path without a store is an error, not a new empty store."""
    missing = query("--data-dir", tmp_path / "nowhere")
    elsewhere = query("--store", f"sqlite:///{tmp_path / 'nowhere.db'}")
    assert (missing.returncode, elsewhere.returncode) == (1, 1)
    assert f"no store in {tmp_path / 'nowhere'}" in missing.stderr
    assert f"no store at {tmp_path / 'nowhere.db'}" in elsewhere.stderr
    assert len((missing.stderr + elsewhere.stderr).splitlines()) == 2
    assert "Traceback" not in missing.stderr + elsewhere.stderr
    assert not (tmp_path / "nowhere").exists()
    assert not (tmp_path / "nowhere.db").exists()
