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
    r" --max-out-of-orderness (\d+) allows(?:: [^;]*)?; try --max-out-of-orderness (\d+) into a new"
    r" --data-dir \(a replay into this one adds its trips to these totals again, [^)]*\)$",
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
    """With 60 s most of the sample comes late: one line with the store's count, and a bound
    under which, replayed into a new data dir, at most 1 % comes late and nothing is said."""
    stderr, windows = replay(cli, tmp_path / "data")
    late = sum(w["lateTrips"] for w in windows)
    trips = sum(w["tripCount"] for w in windows)
    [hint] = HINT.findall(stderr)
    assert hint[:4] == (f"{late:,}", f"{trips:,}", f"{round(100 * late / trips)}", "60")
    assert late > trips // 10
    stderr, windows = replay(cli, tmp_path / "new", "--max-out-of-orderness", hint[4])
    assert sum(w["lateTrips"] for w in windows) <= trips // 100
    assert "came late" not in stderr


def test_a_file_no_bound_can_order_is_called_unordered(cli: Cli, tmp_path: Path) -> None:
    """The 2015 sample (pickups a month apart, shuffled) is said to be out of time order, with
    sorting and the arrival clock for advice, not a bound that would not work."""
    sample = SAMPLE.with_name("yellow_tripdata_2015-01_first2k.csv")
    done = cli("replay", sample, "--data-dir", tmp_path / "d", "--as-fast-as-possible", "--quiet")
    [hint] = [line for line in done.stderr.splitlines() if "came late" in line]
    assert "the file is not ordered by time" in hint
    assert hint.endswith("sort it by pickup time, or replay it with --clock arrival")
    assert "try --max-out-of-orderness" not in hint


def test_a_bound_the_file_fits_prints_no_hint(cli: Cli, tmp_path: Path) -> None:
    """With --max-out-of-orderness 3600 at most a tenth comes late, and nothing is said."""
    stderr, windows = replay(cli, tmp_path / "data", "--max-out-of-orderness", "3600")
    late = sum(w["lateTrips"] for w in windows)
    assert late <= sum(w["tripCount"] for w in windows) // 10
    assert "came late" not in stderr


def test_a_second_replay_into_the_same_data_dir_counts_the_file_again(
    cli: Cli, tmp_path: Path
) -> None:
    """As the hint and the README warn: a replay into a used data dir adds the file once more,
    its trips behind the first run's watermark; a new data dir holds the file once."""
    data = tmp_path / "data"
    rows = SAMPLE.read_bytes().count(b"\n") - 1  # the header
    _, first = replay(cli, data, "--max-out-of-orderness", "3600")
    _, again = replay(cli, data, "--max-out-of-orderness", "3600")
    _, fresh = replay(cli, tmp_path / "new", "--max-out-of-orderness", "3600")
    assert sum(w["tripCount"] for w in first) == rows
    assert sum(w["tripCount"] for w in again) == 2 * rows
    assert sum(w["lateTrips"] for w in again) > rows // 2
    assert sum(w["tripCount"] for w in fresh) == rows


def test_by_dropoff_the_hint_suggests_what_the_dropoffs_need_once(cli: Cli, tmp_path: Path) -> None:
    """--event-time dropoff: the sample's day-long trips put 99 % of its dropoffs within about
    a day of the latest one before them; the bound said, followed, needs no second hint."""
    stderr, windows = replay(cli, tmp_path / "data", "--event-time", "dropoff")
    [hint] = HINT.findall(stderr)
    assert "of the latest dropoff before them" in stderr
    suggested = int(hint[4])
    assert 86_400 <= suggested <= 90_000  # a day and a half hour, from the dropoffs' own lag
    stderr, windows = replay(
        cli, tmp_path / "new", "--event-time", "dropoff", "--max-out-of-orderness", str(suggested)
    )
    assert sum(w["lateTrips"] for w in windows) <= sum(w["tripCount"] for w in windows) // 100
    assert "came late" not in stderr
