"""A SQLite store made before the money totals opens, gains their columns, keeps its windows."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from taxi_stream.core.records import Contribution
from taxi_stream.core.totals import Totals
from taxi_stream.stores.sqlite import SQLiteStore

NOW_MS = 1_700_000_000_123
MINUTE_MS = 60_000

# The windows table as the previous version created it (no money columns), with the column
# late_contributions an earlier one had.
OLD_WINDOWS = """
CREATE TABLE windows (
    vendor_id TEXT NOT NULL,
    window_start_ms INTEGER NOT NULL,
    window_end_ms INTEGER NOT NULL,
    trip_count INTEGER NOT NULL,
    distance_milli INTEGER NOT NULL,
    duration_s INTEGER NOT NULL,
    passenger_count INTEGER NOT NULL,
    contributions INTEGER NOT NULL,
    late_contributions INTEGER NOT NULL DEFAULT 0,
    clock TEXT NOT NULL,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (vendor_id, window_start_ms)
) WITHOUT ROWID;
CREATE TABLE contributions (
    vendor_id TEXT NOT NULL,
    window_start_ms INTEGER NOT NULL,
    contribution_id TEXT NOT NULL,
    PRIMARY KEY (vendor_id, window_start_ms, contribution_id)
) WITHOUT ROWID;
INSERT INTO windows VALUES ('1', 60000, 120000, 4, 5000, 1200, 6, 2, 0, 'arrival', 1);
INSERT INTO contributions VALUES ('1', 60000, 'old-a'), ('1', 60000, 'old-b');
"""


@pytest.fixture
def old_file(tmp_path: Path) -> Path:
    """A store file holding one window, written by the schema before the money totals."""
    path = tmp_path / "store.db"
    with sqlite3.connect(path) as db:
        db.executescript(OLD_WINDOWS)
    db.close()
    return path


def columns(path: Path) -> list[str]:
    """The windows table's column names, as SQLite lists them."""
    with sqlite3.connect(path) as db:
        names = [row[1] for row in db.execute("PRAGMA table_info(windows)")]
    db.close()
    return names


def test_an_old_store_file_gets_the_money_columns_at_zero(old_file: Path) -> None:
    """Opened for writing, the old file gains fare/tip/amount columns; its window reads 0 cents."""
    store = SQLiteStore(old_file, clock=lambda: NOW_MS)
    [window] = store.windows()
    store.close()
    assert window.totals == Totals(4, 5_000, 1_200, 6, 0, 0, 0)
    assert window.contributions == 2
    assert {"fare_cents", "tip_cents", "amount_cents"} <= set(columns(old_file))


def test_an_old_store_file_gets_late_trips_and_a_watermarks_table(old_file: Path) -> None:
    """Opened for writing, the old file gains late_trips (0 for its window) and watermarks."""
    store = SQLiteStore(old_file, clock=lambda: NOW_MS)
    [window] = store.windows()
    new = Contribution("late", "1", MINUTE_MS, 2 * MINUTE_MS, Totals(1, 1, 1, 1, late_trips=1),
                       "arrival")  # fmt: skip
    assert store.apply([new]) == 1
    [after] = store.windows()
    store.close()
    assert window.totals.late_trips == 0
    assert after.totals.late_trips == 1
    assert "late_trips" in columns(old_file)
    assert store_watermarks(old_file) == []


def store_watermarks(path: Path) -> list[tuple[object, ...]]:
    """The rows of the watermarks table (which the open created)."""
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT * FROM watermarks").fetchall()
    db.close()
    return rows


def test_money_adds_to_a_window_the_old_version_wrote(old_file: Path) -> None:
    """A contribution applied after the upgrade adds its counts and its cents to the old row."""
    store = SQLiteStore(old_file, clock=lambda: NOW_MS)
    new = Contribution(
        "new", "1", MINUTE_MS, 2 * MINUTE_MS, Totals(1, 10, 60, 1, 990, 200, 1_390), "arrival"
    )
    old_again = Contribution(
        "old-a", "1", MINUTE_MS, 2 * MINUTE_MS, Totals(9, 9, 9, 9, 9, 9, 9), "arrival"
    )
    assert store.apply([new, old_again]) == 1  # the old contribution ids still count as applied
    [window] = store.windows()
    store.close()
    assert window.totals == Totals(5, 5_010, 1_260, 7, 990, 200, 1_390)


def test_an_old_store_file_reads_read_only_without_being_changed(old_file: Path) -> None:
    """`query` opens the store read-only: the old file shows 0 cents and keeps its schema."""
    before = columns(old_file)
    store = SQLiteStore(old_file, read_only=True)
    [window] = store.windows()
    store.close()
    assert window.totals == Totals(4, 5_000, 1_200, 6)
    assert columns(old_file) == before


def test_opening_the_upgraded_file_again_changes_nothing(old_file: Path) -> None:
    """A second open finds the columns there and adds none (the upgrade happens once)."""
    SQLiteStore(old_file, clock=lambda: NOW_MS).close()
    upgraded = columns(old_file)
    SQLiteStore(old_file, clock=lambda: NOW_MS).close()
    assert columns(old_file) == upgraded
    assert upgraded.count("fare_cents") == 1
