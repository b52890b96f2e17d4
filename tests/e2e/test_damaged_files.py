"""Damaged SQLite files: every command ends with one line naming the file, and never hangs.

The data dirs are written by real commands first; then stream.db or store.db is overwritten
from byte 8192 to its end (its header and first pages intact, as the issue had it) or replaced
by a file that is no database at all, and the installed command is run on a copy.
"""

from __future__ import annotations

import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest

BOUND_S = 60  # a command that hangs fails the test here instead of stalling the suite
GARBAGE_FROM = 8192

ACCOUNTING = re.compile(r"^produced [\d,]+ = [\d,]+ in windows \+ .* \(balanced\)$")


def _garbage_from_8192(path: Path) -> None:
    """Overwrite the file from byte 8192 to its end with seeded random bytes."""
    size = path.stat().st_size
    assert size > GARBAGE_FROM * 2, f"{path} is too small to damage past its header"
    with path.open("r+b") as file:
        file.seek(GARBAGE_FROM)
        file.write(random.Random(GARBAGE_FROM).randbytes(size - GARBAGE_FROM))


def _not_a_database(path: Path) -> None:
    """Replace the file by text."""
    path.write_bytes(b"these are not the pages you are looking for\n" * 200)


# How each damage is spoilt, and SQLite's own words for it.
DAMAGES: dict[str, tuple[Callable[[Path], None], str]] = {
    "garbage-from-8192": (_garbage_from_8192, "database disk image is malformed"),
    "not-a-database": (_not_a_database, "file is not a database"),
}

RUN = ("run", "--trips", "100")
# (the command, the file damaged, the fixture whose data dir it runs on)
CASES = [
    (RUN, "stream.db", "after_run"),
    (RUN, "store.db", "after_run"),
    (("produce", "--from", "one.jsonl"), "stream.db", "after_run"),
    (("process", "--until-idle"), "stream.db", "after_run"),
    (("process", "--until-idle"), "store.db", "after_run"),
    (("process",), "stream.db", "after_run"),
    (("process",), "store.db", "after_run"),
    (("query",), "store.db", "after_windows"),
    (("query", "--dead-letters"), "store.db", "after_windows"),
]


def _command(exe: Path, env: dict[str, str], cwd: Path, *args: str | Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(exe), *map(str, args)],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    """Wait at most BOUND_S for the command (killed past it); its exit code, stdout, stderr."""
    with process:
        try:
            out, err = process.communicate(timeout=BOUND_S)
        finally:
            process.kill()
    return process.returncode, out, err


def _ok(exe: Path, env: dict[str, str], cwd: Path, *args: str | Path) -> None:
    code, _, err = _finish(_command(exe, env, cwd, *args))
    assert code == 0, f"{args} exited {code}:\n{err}"


@pytest.fixture(scope="module")
def after_run(
    tmp_path_factory: pytest.TempPathFactory, taxi_stream_exe: Path, session_cli_env: dict[str, str]
) -> Path:
    """A data dir written by a real `run` (arrival clock, the default 60 s windows)."""
    cwd = tmp_path_factory.mktemp("after-run")
    args = ("run", "--data-dir", "data", "--trips", "5000", "--as-fast-as-possible")
    _ok(taxi_stream_exe, session_cli_env, cwd, *args)
    return cwd / "data"


@pytest.fixture(scope="module")
def after_windows(
    tmp_path_factory: pytest.TempPathFactory, taxi_stream_exe: Path, session_cli_env: dict[str, str]
) -> Path:
    """A data dir whose windows fill several pages: generate, produce, process (1 s windows)."""
    cwd = tmp_path_factory.mktemp("after-windows")
    exe, env = taxi_stream_exe, session_cli_env
    _ok(exe, env, cwd, "generate", "--trips", "5000", "--malformed", "0.01", "--out", "t.jsonl")
    _ok(exe, env, cwd, "produce", "--data-dir", "data", "--from", "t.jsonl")
    flags = ("--until-idle", "--clock", "event", "--window-seconds", "1")
    _ok(exe, env, cwd, "process", "--data-dir", "data", *flags)
    with closing(sqlite3.connect(f"file:{cwd / 'data' / 'store.db'}?mode=ro", uri=True)) as db:
        (windows,) = db.execute("SELECT COUNT(*) FROM windows").fetchone()
    assert windows >= 100, "the windows must fill more than the store's first pages"
    return cwd / "data"


Command = Callable[..., subprocess.Popen[str]]


@pytest.fixture
def command(taxi_stream_exe: Path, cli_env: dict[str, str], tmp_path: Path) -> Command:
    """Start ``taxi-stream ARGS...`` in tmp_path, its stdout and stderr piped."""
    return lambda *args: _command(taxi_stream_exe, cli_env, tmp_path, *args)


@pytest.mark.parametrize("damage", list(DAMAGES))
@pytest.mark.parametrize("case", CASES, ids=[f"{' '.join(c[0])}-{c[1]}" for c in CASES])
def test_a_damaged_file_ends_the_command_with_one_line_naming_it(
    case: tuple[tuple[str, ...], str, str],
    damage: str,
    request: pytest.FixtureRequest,
    command: Command,
    tmp_path: Path,
) -> None:
    """A damaged stream.db or store.db: exit 1, one line naming the file and why, no traceback."""
    args, name, source = case
    data = tmp_path / "data"
    shutil.copytree(request.getfixturevalue(source), data)
    (tmp_path / "one.jsonl").write_text('{"id": "1", "vendorId": 1}\n')
    spoil, why = DAMAGES[damage]
    spoil(data / name)

    code, _, err = _finish(command(*args, "--data-dir", data))

    assert code == 1, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert f"{data / name} is damaged ({why})" in lines[0]
    assert "--data-dir" in lines[0]  # what to do about it


def _until_a_snapshot(process: subprocess.Popen[str], shows: str) -> bool:
    """Read the run's stdout up to a snapshot line matching ``shows``; False if it ended first."""
    assert process.stdout is not None
    return any(re.match(shows, line) for line in process.stdout)


def test_sigterm_during_a_run_drains_it_and_ends_it_balanced(
    taxi_stream_exe: Path, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """SIGTERM stops a run without bounds: what was produced is drained, the account balances,
    and the run exits 130 with one line on stderr saying so."""
    process = _command(
        taxi_stream_exe, cli_env, tmp_path, "run", "--data-dir", "d", "--rate", "200"
    )
    with process:
        try:
            assert _until_a_snapshot(process, r"produced [1-9]"), "the run ended by itself"
            process.send_signal(signal.SIGTERM)
            out, err = process.communicate(timeout=BOUND_S)
        finally:
            process.kill()
    assert process.returncode == 130, err
    account = ACCOUNTING.match([line for line in out.splitlines() if line.strip()][-1])
    assert account
    assert err.splitlines()[-1].startswith("interrupted by SIGTERM after ")
    assert err.splitlines()[-1].endswith("; drained: each is in a window or a dead letter")


def test_a_run_on_a_damaged_stream_ends_even_after_sigterm(
    after_run: Path, command: Command, tmp_path: Path
) -> None:
    """A run on a damaged stream ends with one line, whether a SIGTERM comes meanwhile or not."""
    data = tmp_path / "data"
    shutil.copytree(after_run, data)
    _garbage_from_8192(data / "stream.db")
    process = command(*RUN, "--data-dir", data)
    with process:
        try:
            if _until_a_snapshot(process, r"produced "):
                process.send_signal(signal.SIGTERM)
            _, err = process.communicate(timeout=BOUND_S)
        finally:
            process.kill()
    assert process.returncode == 1, err
    assert "Traceback" not in err
    assert f"{data / 'stream.db'} is damaged" in err


def test_a_producer_that_fails_ends_the_run_with_its_reason(
    taxi_stream_exe: Path, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """A producer that cannot write ends the run: exit 1, its reason in one line, no traceback.

    Files may grow to 1 MiB only: the producer's first batch of 5,000 trips (about 1.6 MB)
    cannot be written, while the store's few rows can.
    """
    limit = 1 << 20
    grow_at_most = (
        "import os, resource, sys;"
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}));"
        "os.execv(sys.argv[1], sys.argv[1:])"
    )
    argv = [sys.executable, "-c", grow_at_most, taxi_stream_exe]
    args = ("run", "--data-dir", "d", "--trips", "20000", "--as-fast-as-possible")
    done = subprocess.run(
        [*map(str, argv), *args],
        cwd=tmp_path,
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=BOUND_S,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("Error: the producer failed: embedded stream write failed:")
