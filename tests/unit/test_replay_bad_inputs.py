"""Files replay cannot read are refused in one line naming them, before anything is created."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from taxi_stream.cli.replay import replay as replay_command

PICKUP = "tpep_pickup_datetime"
WALL = ["2024-11-01 00:00:00", "2024-11-01 00:05:00"]
FIFO_HANG_S = 10  # a replay blocked opening a FIFO fails after this, not at the suite's 300 s


def error_lines(output: str) -> list[str]:
    """The lines of the output that say what went wrong."""
    return [line for line in output.splitlines() if line.startswith("Error:")]


def run(tmp_path: Path, *files: str | Path) -> tuple[int, str, Path]:
    """Replay ``files`` into a fresh data dir: the exit code, the output and the data dir."""
    data = tmp_path / "data"
    args = [*map(str, files), "--data-dir", str(data), "--as-fast-as-possible", "--quiet"]
    done = CliRunner().invoke(replay_command, args)
    return done.exit_code, done.output, data


def parquet(tmp_path: Path, pickup: pa.Array) -> Path:
    """A two-row TLC yellow Parquet file with this pickup column."""
    table = pa.table(
        {
            "VendorID": pa.array([2, 1]),
            PICKUP: pickup,
            "tpep_dropoff_datetime": pa.array(WALL).cast(pa.timestamp("s")),
            "trip_distance": pa.array([1.5, 2.0]),
        }
    )
    path = tmp_path / "odd.parquet"
    pq.write_table(table, path)
    return path


def test_a_directory_is_a_usage_error_naming_it(tmp_path: Path) -> None:
    """replay DIR exits 2 with one error line naming the directory; no data dir is made."""
    code, output, data = run(tmp_path, tmp_path)
    assert code == 2, output
    (line,) = error_lines(output)
    assert str(tmp_path) in line
    assert "is a directory" in line
    assert not data.exists()


def test_a_missing_file_is_a_usage_error_naming_it(tmp_path: Path) -> None:
    """A file that does not exist exits 2, as a directory does, in one line naming it."""
    missing = tmp_path / "nosuch.parquet"
    code, output, data = run(tmp_path, missing)
    assert code == 2, output
    (line,) = error_lines(output)
    assert str(missing) in line
    assert "does not exist" in line
    assert not data.exists()


# A replay that did open the FIFO would wait for a writer forever: the timeout (SIGALRM, so
# the blocked open() is interrupted and the test fails, the session goes on) turns that hang
# into a failure. It bounds a deadlock, not a speed: the refusal takes milliseconds.
@pytest.mark.timeout(FIFO_HANG_S, method="signal")
def test_a_pipe_is_a_usage_error_saying_to_save_it_first(tmp_path: Path) -> None:
    """A FIFO (a shell's <(...) is one) exits 2 in one line naming it, before anything is made:
    replay reads a file's header, then its rows, and a pipe gives its bytes once."""
    fifo = tmp_path / "trips.csv"
    os.mkfifo(fifo)
    code, output, data = run(tmp_path, fifo)
    assert code == 2, output
    (line,) = error_lines(output)
    assert str(fifo) in line
    assert "save it to a file first" in line
    assert not data.exists()


EPOCH_S = [1_730_433_600, 1_730_433_900]  # 2024-11-01 00:00 and 00:05 New York time


@pytest.mark.parametrize(
    ("pickup", "kind"),
    [
        (pa.array(EPOCH_S, pa.int64()), "int64"),
        (pa.array([s * 1000 for s in EPOCH_S], pa.int64()), "int64"),
        (pa.array([s * 10**9 for s in EPOCH_S], pa.int64()), "int64"),
        (pa.array(EPOCH_S, pa.int32()), "int32"),
        (pa.array([float(s) for s in EPOCH_S]), "double"),
        (pa.array([True, False]), "bool"),
        (pa.array([b"x", b"y"], pa.binary()), "binary"),
    ],
)
def test_a_pickup_column_of_no_time_type_is_refused_naming_it(
    tmp_path: Path, pickup: pa.Array, kind: str
) -> None:
    """Epoch numbers and other non-time types: exit 1, the file's column and type named, what
    replay reads said, no --resume offered, nothing created."""
    path = parquet(tmp_path, pickup)
    code, output, data = run(tmp_path, path)
    assert code == 1, output
    (line,) = error_lines(output)
    assert f"column {PICKUP} holds {kind}" in line
    assert str(path) in line
    assert "timestamp" in line  # what it takes instead
    assert "text" in line
    assert "--resume" not in output
    assert not data.exists()


@pytest.mark.parametrize(
    "pickup",
    [
        pa.array(WALL).cast(pa.timestamp("us")),
        pa.array(["2024-11-01T04:00:00Z", "2024-11-01T04:05:00Z"]).cast(
            pa.timestamp("ms", tz="UTC")
        ),
        pa.array(["2024-11-01T00:00:00-04:00", "2024-11-01T00:05:00-04:00"]).cast(
            pa.timestamp("ns", tz="America/New_York")
        ),
        pa.array(WALL),
        pa.array(WALL, pa.large_string()),
        pa.array(WALL).dictionary_encode(),
    ],
)
def test_a_pickup_column_of_times_or_text_is_replayed(tmp_path: Path, pickup: pa.Array) -> None:
    """Timestamps (naive: New York time; with a zone: the instant) and text are read."""
    code, output, _ = run(tmp_path, parquet(tmp_path, pickup))
    assert code == 0, output
    assert "rows read 2 = 2 trips in windows + 0 dead letters (balanced)" in output
