"""Finality on read: the stream's watermark (idle shards left out) against each window's end."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from taxi_stream.app.wiring import STORE_FILE
from taxi_stream.cli.query import query
from taxi_stream.core.records import Contribution
from taxi_stream.core.totals import Totals
from taxi_stream.core.watermarks import Watermark, is_late, stream_watermark
from taxi_stream.stores.sqlite import SQLiteStore
from tests.support.screen import WIDTH

T0 = 1_730_419_200_000  # 2024-11-01T00:00:00Z
MIN = 60_000


def mark(shard: str, watermark_ms: int, last_arrival_ms: int) -> Watermark:
    """A shard's watermark item, written by part '1' from none."""
    return Watermark("s", shard, watermark_ms, "1", None, last_arrival_ms)


def test_the_stream_watermark_is_the_least_over_busy_shards() -> None:
    """Min over the shards; one whose last record is over the idle timeout behind is left out."""
    busy = [mark("a", T0 + 10 * MIN, T0 + 100 * MIN), mark("b", T0 + 5 * MIN, T0 + 99 * MIN)]
    quiet = mark("c", T0, T0 + 100 * MIN - 301_000)  # 301 s behind the newest arrival
    assert stream_watermark([*busy, quiet], idle_timeout_ms=300_000) == T0 + 5 * MIN
    assert stream_watermark([*busy, quiet], idle_timeout_ms=301_000) == T0
    assert stream_watermark([], idle_timeout_ms=300_000) is None


def test_lateness_starts_when_the_watermark_reaches_the_end_plus_the_allowed_lateness() -> None:
    """At end + lateness - 1 ms a trip is on time; at end + lateness it is late; none: never."""
    end, lateness = T0 + MIN, 30_000
    assert not is_late(end, end + lateness - 1, lateness)
    assert is_late(end, end + lateness, lateness)
    assert not is_late(end, None, lateness)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A store with event windows at T0, T0+1 and T0+2 min; shard a's watermark at T0+2 min,
    shard b's at T0 but its last record 10 minutes older than a's (idle at the default 300 s)."""
    monkeypatch.setenv("COLUMNS", str(WIDTH))
    store = SQLiteStore(tmp_path / STORE_FILE)
    windows = [
        Contribution(f"c{i}", "1", T0 + i * MIN, T0 + (i + 1) * MIN, Totals(1, 1, 1, 1), "event")
        for i in range(3)
    ]
    store.apply(windows, mark("a", T0 + 2 * MIN, T0 + 20 * MIN))
    store.apply([], mark("b", T0, T0 + 10 * MIN))
    store.close()
    return tmp_path


def finals(data_dir: Path, *flags: str) -> list[bool]:
    """The `final` of each window, as query --format json says."""
    args = ["--data-dir", str(data_dir), "--format", "json", *flags]
    result = CliRunner().invoke(query, args)
    assert result.exit_code == 0, result.output
    return [row["final"] for row in json.loads(result.output)]


def test_an_idle_shard_does_not_block_finality(data_dir: Path) -> None:
    """Shard b went quiet: the windows shard a's watermark passed are final all the same."""
    assert finals(data_dir) == [True, True, False]


def test_a_shard_within_the_idle_timeout_holds_the_stream_back(data_dir: Path) -> None:
    """With an idle timeout longer than b's silence, b's watermark (T0) holds every window open."""
    assert finals(data_dir, "--idle-timeout", "900") == [False, False, False]


def test_allowed_lateness_keeps_a_window_open_longer(data_dir: Path) -> None:
    """With 60 s of allowed lateness the window ending at T0+2 min is not final yet."""
    assert finals(data_dir, "--allowed-lateness", "60") == [True, False, False]


def test_the_table_marks_final_windows(data_dir: Path) -> None:
    """The table marks the final windows' rows and says what the mark means."""
    result = CliRunner().invoke(query, ["--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    assert result.output.count("✓ 1") == 2
    assert "✓ final" in result.output


def test_csv_spells_final_as_true_or_false(data_dir: Path) -> None:
    """--format csv has a final column of true/false, as JSON spells booleans."""
    result = CliRunner().invoke(query, ["--data-dir", str(data_dir), "--format", "csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert [row["final"] for row in rows] == ["true", "true", "false"]
    assert [row["lateTrips"] for row in rows] == ["0", "0", "0"]
