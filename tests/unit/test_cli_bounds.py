"""Inputs the command line takes are bounded, and a value past the bound is a usage error."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from taxi_stream.cli import main

GENERATE_MAX = 10_000_000  # docs: README, generate --help


def test_generate_refuses_more_trips_than_its_documented_maximum(tmp_path: Path) -> None:
    """--trips 10,000,001 (a typo of extra zeros) is exit 2 in one line; nothing is written."""
    out = tmp_path / "trips.jsonl"
    args = ["generate", "--trips", str(GENERATE_MAX + 1), "--out", str(out)]
    done = CliRunner().invoke(main, args)
    assert done.exit_code == 2
    assert "--trips" in done.stderr
    assert f"1<=x<={GENERATE_MAX}" in done.stderr
    assert "Traceback" not in done.stderr
    assert not out.exists()


def test_generate_help_states_the_maximum() -> None:
    """generate --help says how many trips it writes at most."""
    done = CliRunner().invoke(main, ["generate", "--help"])
    assert "10,000,000" in " ".join(done.stdout.split())
