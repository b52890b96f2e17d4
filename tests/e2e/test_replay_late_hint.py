"""A processed replay of a file more out of order than --max-out-of-orderness says so, once."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

Cli = Callable[..., subprocess.CompletedProcess[str]]  # the `cli` fixture (conftest.py)
SAMPLE = Path(__file__).parents[1] / "data" / "yellow_tripdata_2024-11_first10k.csv"
HINT = re.compile(
    r"^([\d,]+) of ([\d,]+) trips came late \((\d+)%\): the file is more out of order than"
    r" --max-out-of-orderness (\d+) allows; try --max-out-of-orderness 3600$",
    re.MULTILINE,
)


def replay(cli: Cli, data: Path, *flags: str) -> tuple[str, list[dict[str, int]]]:
    """Replay the TLC sample into ``data``: its stderr and the windows the store holds."""
    done = cli("replay", SAMPLE, "--data-dir", data, "--as-fast-as-possible", "--quiet", *flags)
    windows = json.loads(cli("query", "--data-dir", data, "--format", "json").stdout)
    return done.stderr, windows


def test_the_tlc_sample_under_the_default_bound_says_how_many_came_late(
    cli: Cli, tmp_path: Path
) -> None:
    """With 60 s most of the sample comes late: one line with the store's count, and 3600."""
    stderr, windows = replay(cli, tmp_path / "data")
    late = sum(w["lateTrips"] for w in windows)
    trips = sum(w["tripCount"] for w in windows)
    [hint] = HINT.findall(stderr)
    assert hint == (f"{late:,}", f"{trips:,}", f"{round(100 * late / trips)}", "60")
    assert late > trips // 10


def test_a_bound_the_file_fits_prints_no_hint(cli: Cli, tmp_path: Path) -> None:
    """With --max-out-of-orderness 3600 at most a tenth comes late, and nothing is said."""
    stderr, windows = replay(cli, tmp_path / "data", "--max-out-of-orderness", "3600")
    late = sum(w["lateTrips"] for w in windows)
    assert late <= sum(w["tripCount"] for w in windows) // 10
    assert "came late" not in stderr
