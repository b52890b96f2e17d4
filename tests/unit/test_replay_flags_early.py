"""A replay flag that cannot apply is a usage error, found before anything is written."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from taxi_stream.cli.replay import replay as replay_command

HEADER = "VendorID,tpep_pickup_datetime,tpep_dropoff_datetime,trip_distance"
LINE = "2,2024-11-01 00:00:00,2024-11-01 00:10:00,1.5"


def test_a_resume_naming_no_file_is_a_usage_error_before_any_write(tmp_path: Path) -> None:
    """--resume nosuch.csv:5 exits 2 naming the flag, and leaves no data dir behind."""
    path = tmp_path / "trips.csv"
    path.write_text(f"{HEADER}\n{LINE}\n")
    data = tmp_path / "data"
    args = [str(path), "--data-dir", str(data), "--as-fast-as-possible", "--quiet"]
    done = CliRunner().invoke(replay_command, [*args, "--resume", "nosuch.csv:5"])
    assert done.exit_code == 2, done.output
    assert "'--resume'" in done.output
    assert "cannot resume at nosuch.csv: not among the files (trips.csv)" in done.output
    assert "the producer failed" not in done.output
    assert not data.exists()
