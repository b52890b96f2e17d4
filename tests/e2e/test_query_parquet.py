"""`query --format parquet --out FILE`: the rows of --format json, read back with DuckDB."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import duckdb
import pytest
from tests.e2e.conftest import CLI_TIMEOUT_S, Cli

from taxi_stream.core.timefmt import parse_iso_ms

TIMES = ("windowStart", "windowEnd", "arrival")


@pytest.fixture
def data_dir(cli: Cli) -> str:
    """A data dir ``d`` holding windows of a seeded run and a few dead letters."""
    cli("generate", "--trips", "300", "--malformed", "0.05", "--seed", "7", "--out", "trips.jsonl")
    cli("produce", "--data-dir", "d", "--from", "trips.jsonl")
    cli("process", "--data-dir", "d", "--until-idle", "--quiet")
    return "d"


def read_back(path: Path) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The file's rows (times as epoch ms) and its column types, as DuckDB reads them."""
    with duckdb.connect() as db:
        types = {
            row[0]: row[1] for row in db.execute(f"DESCRIBE SELECT * FROM '{path}'").fetchall()
        }
        picks = [f'epoch_ms("{c}") AS "{c}"' if c in TIMES else f'"{c}"' for c in types]
        cursor = db.execute(f"SELECT {', '.join(picks)} FROM '{path}'")
        names = [d[0] for d in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    return rows, types


def as_json_reads(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """JSON rows with their ISO-8601 times as epoch ms, to compare with Parquet's timestamps."""
    return [{k: parse_iso_ms(v) if k in TIMES and v else v for k, v in r.items()} for r in rows]


@pytest.mark.parametrize("dead", [False, True], ids=["windows", "dead-letters"])
def test_parquet_holds_what_json_shows(
    cli: Cli, data_dir: str, tmp_path: Path, *, dead: bool
) -> None:
    """Same columns in the same order, same values; counts int64, times UTC timestamps."""
    extra = ["--dead-letters"] if dead else []
    shown = json.loads(cli("query", "--data-dir", data_dir, "--format", "json", *extra).stdout)
    assert shown
    out = tmp_path / "export.parquet"
    done = cli("query", "--data-dir", data_dir, "--format", "parquet", "--out", out, *extra)
    assert done.stdout == ""
    rows, types = read_back(out)
    assert list(types) == list(shown[0])
    assert rows == as_json_reads(shown)
    if dead:
        assert (types["arrival"], types["subSequence"]) == ("TIMESTAMP WITH TIME ZONE", "BIGINT")
    else:
        assert types["windowStart"] == types["windowEnd"] == "TIMESTAMP WITH TIME ZONE"
        assert types["tripCount"] == types["totalDurationSeconds"] == "BIGINT"
        assert types["totalDistanceMiles"] == "DOUBLE"


def test_an_empty_result_is_a_file_with_the_columns(
    cli: Cli, data_dir: str, tmp_path: Path
) -> None:
    """No window matches: the file has json's columns and no rows."""
    out = tmp_path / "none.parquet"
    cli("query", "--data-dir", data_dir, "--vendor", "nobody", "--format", "parquet", "--out", out)
    rows, types = read_back(out)
    assert rows == []
    assert "tripCount" in types
    assert types["windowStart"] == "TIMESTAMP WITH TIME ZONE"


@pytest.mark.parametrize(
    ("args", "why"),
    [(["--format", "parquet"], "--format parquet writes a file: give --out FILE"),
     (["--format", "json", "--out", "x.json"], "--out is for --format parquet")],
)  # fmt: skip
def test_parquet_needs_out_and_out_needs_parquet(
    taxi_stream_exe: Path, cli_env: dict[str, str], tmp_path: Path, args: list[str], why: str
) -> None:
    """A clear usage error (exit 2), and nothing binary written to the terminal."""
    done = subprocess.run(
        [str(taxi_stream_exe), "query", "--data-dir", "d", *args],
        cwd=tmp_path, env=cli_env, capture_output=True, timeout=CLI_TIMEOUT_S, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stdout == b""
    assert why in done.stderr.decode()


def test_out_on_a_terminal_or_in_no_directory_is_refused(
    taxi_stream_exe: Path, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """--out naming a terminal (as /dev/stdout can) or a file in no directory: exit 2, one line."""
    leader, follower = os.openpty()
    parquet = ("--format", "parquet")
    try:
        for out, why in (
            (os.ttyname(follower), "names a terminal"),
            ("no/x.parquet", "no directory"),
        ):
            done = subprocess.run(
                [str(taxi_stream_exe), "query", "--data-dir", "d", *parquet, "--out", out],
                cwd=tmp_path, env=cli_env, capture_output=True, timeout=CLI_TIMEOUT_S, check=False,
            )  # fmt: skip
            assert done.returncode == 2, done.stderr
            assert why in done.stderr.decode()
    finally:
        os.close(leader)
        os.close(follower)
