"""`taxi-stream run` (what `make run` starts): live per-vendor totals, then a balanced account."""

from __future__ import annotations

import re
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

FIRST_TOTALS_WITHIN_S = 10.0
RUN_TIMEOUT_S = 60

Cli = Callable[..., subprocess.CompletedProcess[str]]  # the `cli` fixture (conftest.py)

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# A row of the windows table: window (UTC), vendor, trips, ...
VENDOR_ROW = re.compile(r"^\d\d:\d\d:\d\dZ\s+(\S+)\s+([\d,]+)\s")
TOTAL_ROW = re.compile(r"^total\s+([\d,]+)\s")
ACCOUNTING = re.compile(
    r"^produced (?P<n>[\d,]+) = (?P<c>[\d,]+) in windows"
    r" \+ (?P<d>[\d,]+) dead letters? \(balanced\)$"
)


def _number(text: str) -> int:
    return int(text.replace(",", ""))


def _timed_lines(process: subprocess.Popen[str], out: list[tuple[float, str]]) -> None:
    """Collect (seconds since start, line) for every line the process writes to stdout."""
    started = time.monotonic()
    assert process.stdout is not None
    for line in process.stdout:
        out.append((time.monotonic() - started, ANSI.sub("", line).rstrip()))


def test_run_shows_vendor_totals_within_10_s_and_ends_balanced(
    taxi_stream_exe: Path, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """A 5 s run shows per-vendor window totals within 10 s and ends with a balanced account."""
    argv = [taxi_stream_exe, "run", "--data-dir", tmp_path / "data"]
    argv += ["--duration", "5", "--window-seconds", "2"]
    lines: list[tuple[float, str]] = []
    with (tmp_path / "stderr.txt").open("w") as stderr:
        process = subprocess.Popen(
            argv, cwd=tmp_path, env=cli_env, stdout=subprocess.PIPE, stderr=stderr, text=True
        )
        reader = threading.Thread(target=_timed_lines, args=(process, lines))
        with process:  # closes the pipe on the way out
            reader.start()
            try:
                returncode = process.wait(timeout=RUN_TIMEOUT_S)
            finally:
                process.kill()
                reader.join(timeout=RUN_TIMEOUT_S)
    errors = (tmp_path / "stderr.txt").read_text()
    assert returncode == 0, f"run exited {returncode}:\n{errors}"

    rows = [(at, VENDOR_ROW.match(line)) for at, line in lines]
    vendor_rows = [(at, match.group(1)) for at, match in rows if match]
    output = "\n".join(line for _, line in lines)
    assert vendor_rows, f"no per-vendor window row in the output:\n{output}"
    first_at = vendor_rows[0][0]
    assert first_at < FIRST_TOTALS_WITHIN_S, f"first vendor totals after {first_at:.1f} s"
    assert {vendor for _, vendor in vendor_rows} >= {"1", "2"}

    text = [line for _, line in lines if line.strip()]
    account = ACCOUNTING.match(text[-1])
    assert account, f"last line is not the accounting line on one line: {text[-2:]!r}"
    produced, counted, dead = (_number(account[k]) for k in "ncd")
    assert produced > 0
    assert produced == counted + dead
    totals = [match for line in text if (match := TOTAL_ROW.match(line))]
    assert totals, f"no totals row:\n{output}"
    assert _number(totals[-1][1]) == counted  # the final table: every window of the run
    assert all(len(line) <= 80 for line in text[:-1]), "a view line is wider than 80 columns"


def test_run_quiet_prints_only_the_accounting_line(cli: Cli, tmp_path: Path) -> None:
    """`run --quiet` writes one line to stdout, the balanced accounting, and nothing else."""
    done = cli(
        "run", "--quiet", "--data-dir", tmp_path / "data",
        "--trips", "3000", "--as-fast-as-possible", "--window-seconds", "1",
    )  # fmt: skip
    assert done.stderr == ""
    lines = done.stdout.splitlines()
    assert len(lines) == 1, done.stdout
    account = ACCOUNTING.match(lines[0])
    assert account, lines
    assert _number(account["n"]) == 3000


def test_run_says_when_its_producer_cannot_keep_the_rate(cli: Cli, tmp_path: Path) -> None:
    """`run --rate 1e9 --duration 1`: no machine keeps a billion trips a second, so the
    producer child stops 1 s past the duration with fewer trips, and the run's stderr says so
    (the child's warning reaches the terminal), still balanced."""
    done = cli(
        "run", "--quiet", "--data-dir", tmp_path / "data", "--rate", "1e9", "--duration", "1",
    )  # fmt: skip
    assert re.search(r"^warning: could not keep 1e\+09 trips/s: sent \d+ of 1000000000 trips$",
                     done.stderr, re.MULTILINE), done.stderr  # fmt: skip
    assert ACCOUNTING.match(done.stdout.splitlines()[-1]), done.stdout
