"""A closed stdin or stdout is one clear line; a reader that goes away ends the command quietly."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.e2e.conftest import CLI_TIMEOUT_S, Cli

BROKEN_PIPE = 141  # 128 + SIGPIPE, as README.md says


def test_produce_from_a_closed_stdin_says_so_in_one_line(
    taxi_stream_exe: Path, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """produce --from - with stdin closed exits 1 with one line naming stdin, no traceback."""
    done = subprocess.run(
        [str(taxi_stream_exe), "produce", "--data-dir", "d", "--from", "-"],
        cwd=tmp_path,
        env=cli_env,
        stderr=subprocess.PIPE,
        text=True,
        timeout=CLI_TIMEOUT_S,
        check=False,
        preexec_fn=_close_fd(0),
    )
    assert done.returncode == 1
    assert done.stderr.splitlines() == ["Error: stdin is closed: give --from FILE, or open stdin"]


def test_generate_to_a_closed_stdout_says_so_in_one_line(
    taxi_stream_exe: Path, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """generate with stdout closed exits 1 with one line naming stdout, no traceback."""
    done = subprocess.run(
        [str(taxi_stream_exe), "generate", "--trips", "10"],
        cwd=tmp_path,
        env=cli_env,
        stderr=subprocess.PIPE,
        text=True,
        timeout=CLI_TIMEOUT_S,
        check=False,
        preexec_fn=_close_fd(1),
    )
    assert done.returncode == 1
    assert done.stderr.splitlines() == ["Error: stdout is closed: give --out FILE, or open stdout"]


CLOSED_STDOUT = (
    "Error: stdout is closed, so the output cannot be written: open it, or redirect it to a file"
    " (> FILE)"
)


@pytest.mark.parametrize(
    "args",
    [
        ("query", "--data-dir", "d"),
        ("query", "--data-dir", "d", "--format", "json"),
        ("query", "--data-dir", "d", "--dead-letters", "--format", "csv"),
        ("run", "--data-dir", "new", "--trips", "10", "--as-fast-as-possible", "--quiet"),
        ("aws", "create-resources", "--endpoint-url", "http://127.0.0.1:9", "--region", "x-1"),
    ],
    ids=["query", "query-json", "dead-letters-csv", "run", "aws-create-resources"],
)
def test_a_command_whose_output_goes_to_a_closed_stdout_says_so_in_one_line(
    cli: Cli, taxi_stream_exe: Path, cli_env: dict[str, str], tmp_path: Path, args: tuple[str, ...]
) -> None:
    """query, run, aws create-resources with stdout closed: exit 1, one line, nothing done."""
    cli("generate", "--trips", "20", "--malformed", "0.2", "--out", "t.jsonl")
    cli("produce", "--data-dir", "d", "--from", "t.jsonl")
    cli("process", "--data-dir", "d", "--until-idle")  # something to show, were stdout open
    done = subprocess.run(
        [str(taxi_stream_exe), *args],
        cwd=tmp_path,
        env=cli_env,
        stderr=subprocess.PIPE,
        text=True,
        timeout=CLI_TIMEOUT_S,
        check=False,
        preexec_fn=_close_fd(1),
    )
    assert done.returncode == 1
    assert done.stderr.splitlines() == [CLOSED_STDOUT]
    assert not (tmp_path / "new").exists()


def test_query_into_a_parquet_file_needs_no_stdout(
    cli: Cli, taxi_stream_exe: Path, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """query --format parquet --out FILE writes its file with stdout closed, and exits 0."""
    cli("generate", "--trips", "20", "--out", "t.jsonl")
    cli("produce", "--data-dir", "d", "--from", "t.jsonl")
    cli("process", "--data-dir", "d", "--until-idle")
    done = subprocess.run(
        [str(taxi_stream_exe), "query", "--data-dir", "d", "--format", "parquet", "--out", "w.pq"],
        cwd=tmp_path,
        env=cli_env,
        stderr=subprocess.PIPE,
        text=True,
        timeout=CLI_TIMEOUT_S,
        check=False,
        preexec_fn=_close_fd(1),
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert (tmp_path / "w.pq").read_bytes()[:4] == b"PAR1"


def test_generate_into_a_reader_that_stops_early_ends_quietly(
    taxi_stream_exe: Path, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """generate | head -1: the first line arrives, then generate exits 141, stderr empty."""
    with subprocess.Popen(
        [str(taxi_stream_exe), "generate", "--trips", "100000"],
        cwd=tmp_path,
        env=cli_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as generate:
        assert generate.stdout is not None
        assert generate.stderr is not None
        first = generate.stdout.readline()
        generate.stdout.close()  # the reader goes away, as head does after one line
        stderr = generate.stderr.read()
        code = generate.wait(timeout=CLI_TIMEOUT_S)
    assert first.startswith(b"{")
    assert (code, stderr) == (BROKEN_PIPE, b"")


def _close_fd(fd: int) -> Callable[[], None]:
    """A preexec_fn that closes ``fd`` in the child, as a shell's ``<&-`` or ``>&-`` does."""

    def close() -> None:
        os.close(fd)

    return close
