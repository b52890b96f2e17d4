"""The replay command on odd files: every row read is a trip or a dead letter; odd resumes told."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

Cli = Callable[..., subprocess.CompletedProcess[str]]  # the `cli` fixture (conftest.py)
HEADER = b"VendorID,tpep_pickup_datetime,tpep_dropoff_datetime,passenger_count,trip_distance"


def trips(count: int) -> list[bytes]:
    """``count`` good TLC lines, one a minute from 2024-11-01 00:00, 30 s and 1.5 mi each."""
    lines = []
    for m in range(count):
        hh, mm = divmod(m, 60)
        lines.append(f"1,2024-11-01 {hh:02d}:{mm:02d}:00,2024-11-01 {hh:02d}:{mm:02d}:30,1,1.5")
    return [line.encode() for line in lines]


def test_a_huge_row_and_a_row_not_utf8_end_as_dead_letters(cli: Cli, tmp_path: Path) -> None:
    """100 rows, row 50 with a 3 MB cell, row 70 with a \\xff: 98 trips + 2 dead letters."""
    lines = trips(100)
    lines[49] = b"1" * 3_000_000 + lines[49][1:]
    lines[69] = lines[69].replace(b",1,1.5", b",1\xff,1.5")
    path = tmp_path / "odd.csv"
    path.write_bytes(b"\n".join([HEADER, *lines]) + b"\n")
    data = tmp_path / "data"
    replay = cli("replay", path, "--data-dir", data, "--as-fast-as-possible", "--quiet")
    assert "read 100 rows, sent 100 records" in replay.stderr
    cli("process", "--data-dir", data, "--clock", "event", "--until-idle", "--quiet")
    windows = json.loads(cli("query", "--data-dir", data, "--format", "json").stdout)
    letters = json.loads(
        cli("query", "--data-dir", data, "--dead-letters", "--format", "json").stdout
    )
    assert sum(w["tripCount"] for w in windows) == 98
    assert sorted(letter["reason"] for letter in letters) == ["not_utf8", "too_large"]


def test_resume_past_the_end_says_nothing_was_left(cli: Cli, tmp_path: Path) -> None:
    """--resume t.csv:99999 of a 5-row file: exit 0 with a warning that nothing was sent."""
    path = tmp_path / "t.csv"
    path.write_bytes(b"\n".join([HEADER, *trips(5)]) + b"\n")
    done = cli("replay", path, "--data-dir", tmp_path / "data", "--as-fast-as-possible",
               "--quiet", "--resume", "t.csv:99999")  # fmt: skip
    assert "warning: t.csv has no row 99,999 or later" in done.stderr


def test_help_says_sigterm_stops_like_ctrl_c(cli: Cli) -> None:
    """--help names both signals that stop a replay after the batch in flight."""
    text = " ".join(cli("replay", "--help").stdout.split())
    assert "Ctrl-C or SIGTERM stops after the batch in flight" in text


def test_replay_processes_its_rows_and_balances_them(cli: Cli, tmp_path: Path) -> None:
    """By default replay counts what it sends: rows read = trips in windows + dead letters,
    with a 2008 and a 2088 trip (as TLC files hold) dead-lettered by the event-time range."""
    lines = trips(30)
    lines[3] = b"1,2008-12-31 23:00:00,2008-12-31 23:10:00,1,1.5"
    lines[7] = b"2,2088-01-01 00:00:00,2088-01-01 00:20:00,1,1.5"
    path = tmp_path / "month.csv"
    path.write_bytes(b"\n".join([HEADER, *lines]) + b"\n")
    data = tmp_path / "data"
    done = cli("replay", path, "--data-dir", data, "--as-fast-as-possible", "--quiet")
    assert "rows read 30 = 28 trips in windows + 2 dead letters (balanced)" in done.stderr
    letters = json.loads(
        cli("query", "--data-dir", data, "--dead-letters", "--format", "json").stdout
    )
    assert sorted(letter["reason"] for letter in letters) == [
        "event_before_2009",
        "event_in_future",
    ]
    windows = json.loads(cli("query", "--data-dir", data, "--format", "json").stdout)
    assert {w["clock"] for w in windows} == {"event"}
    assert sum(w["tripCount"] for w in windows) == 28


def test_produce_only_sends_and_leaves_the_counting_to_another_consumer(
    cli: Cli, tmp_path: Path
) -> None:
    """--produce-only sends every row and counts none: a later process counts them all."""
    path = tmp_path / "t.csv"
    path.write_bytes(b"\n".join([HEADER, *trips(12)]) + b"\n")
    data = tmp_path / "data"
    done = cli("replay", path, "--data-dir", data, "--as-fast-as-possible", "--produce-only")
    assert "read 12 rows, sent 12 records" in done.stderr
    assert "once processed, every record sent is a trip in a window or a dead letter" in done.stderr
    assert not (data / "store.db").exists()
    cli("process", "--data-dir", data, "--clock", "event", "--until-idle", "--quiet")
    windows = json.loads(cli("query", "--data-dir", data, "--format", "json").stdout)
    assert sum(w["tripCount"] for w in windows) == 12


def test_a_short_row_that_is_no_utf8_balances_without_a_traceback(cli: Cli, tmp_path: Path) -> None:
    """2 rows, \\xff\\xfe\\x00garbage, 46 rows: read 49 = 48 trips + 1 dead letter, not_utf8."""
    lines = trips(48)
    path = tmp_path / "shortbin.csv"
    path.write_bytes(b"\n".join([HEADER, *lines[:2], b"\xff\xfe\x00garbage", *lines[2:]]) + b"\n")
    data = tmp_path / "data"
    done = cli("replay", path, "--data-dir", data, "--as-fast-as-possible", "--quiet")
    assert "Traceback" not in done.stderr
    assert "Exception ignored" not in done.stderr
    assert "rows read 49 = 48 trips in windows + 1 dead letter (balanced)" in done.stderr
    letters = json.loads(
        cli("query", "--data-dir", data, "--dead-letters", "--format", "json").stdout
    )
    assert [letter["reason"] for letter in letters] == ["not_utf8"]
