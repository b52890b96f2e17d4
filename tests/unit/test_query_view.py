"""`query`: a windows table with a totals row, a dead-letter table at 80 columns, whole exports."""

from __future__ import annotations

import csv
import io
import json
import os
import stat
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from taxi_stream.app.wiring import STORE_FILE, in_process_handler
from taxi_stream.cli.query import query
from taxi_stream.core.records import Contribution, DeadLetter, Origin, WindowTotals
from taxi_stream.core.totals import Totals
from taxi_stream.core.windows import WindowClock
from taxi_stream.function.handler import HandlerConfig
from taxi_stream.runner.mapping import EventSourceMapping, MappingConfig
from taxi_stream.stores.sqlite import SQLiteStore
from taxi_stream.views.query import windows_table
from tests.support.harness import START_MS, Clock
from tests.support.kinesis_like import SEQUENCE_DIGITS, KinesisLikeStream
from tests.support.screen import WIDTH, row_of, screen_lines, too_wide

LONG_VENDOR = "Creative Mobile Technologies, LLC (a vendor id of 64 characters).."
PARTS = [  # (vendor, window index, trips, distance_milli, duration_s, passengers, cents of
    # fare, tip and total amount)
    ("1", 0, 1_204, 3_456_789, 812_345, 1_830, 2_391_045, 512_330, 3_401_277),
    ("1", 1, 1_187, 3_398_001, 799_002, 1_702, 2_288_101, 498_021, 3_297_880),
    ("1", 1, 5, 12_500, 3_000, 9, -3_500, 0, -4_350),  # a second contribution: refunds
    ("2", 0, 1_311, 3_501_222, 845_678, 1_911, 2_600_010, 590_002, 3_702_449),
    (LONG_VENDOR, 1, 2, 7_300, 1_500, 3, 2_450, 300, 3_650),
]


def query_output(data_dir: Path, *args: str) -> str:
    """What `taxi-stream query --data-dir DATA ARGS` prints, at 80 columns."""
    result = CliRunner().invoke(query, ["--data-dir", str(data_dir), *args])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def windows_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data dir whose store holds PARTS as applied contributions (60 s windows)."""
    monkeypatch.setenv("COLUMNS", str(WIDTH))
    store = SQLiteStore(tmp_path / STORE_FILE, clock=Clock())
    contributions = [
        Contribution(f"c{i}", vendor, START_MS + w * 60_000, START_MS + (w + 1) * 60_000,
                     Totals(n, d, s, p, *money), "arrival")
        for i, (vendor, w, n, d, s, p, *money) in enumerate(PARTS)
    ]  # fmt: skip
    assert store.apply(contributions) == len(PARTS)
    store.close()
    return tmp_path


def test_the_windows_table_ends_with_the_total_of_its_rows(windows_dir: Path) -> None:
    """Each window a row, numbers whole at 80 columns (a long vendor id is cut instead), then
    a totals row: trips, miles, passengers and dollars summed, the averages over the total."""
    lines = query_output(windows_dir).splitlines()
    assert too_wide(lines) == []
    assert lines[0].strip() == "4 windows of 2024-11-01 (UTC)"  # one date: times of day below
    headers = ["vendor", "window", "trips", "miles", "avg mi", "avg min", "pax", "total $"]
    assert row_of(lines, "vendor") == headers
    assert row_of(lines, "1")[1:3] == ["00:00:00", "1,204"]
    assert row_of(lines, "1")[-1] == "34,013"  # $34,012.77
    long_row = next(line for line in lines if line.startswith(LONG_VENDOR[:5]))
    assert "…" in long_row
    assert long_row.split()[-6:] == ["2", "7.3", "3.65", "12.5", "3", "37"]  # $36.50 rounds up
    trips = sum(p[2] for p in PARTS)
    milli, seconds, passengers, amount = (sum(p[k] for p in PARTS) for k in (3, 4, 5, 8))
    assert row_of(lines, "total") == [
        "total",
        f"{trips:,}",
        f"{milli / 1000:,.1f}",
        f"{milli / 1000 / trips:.2f}",
        f"{seconds / trips / 60:.1f}",
        f"{passengers:,}",
        f"{round(amount / 100):,}",
    ]


def test_json_and_csv_have_the_windows_and_no_totals_row(windows_dir: Path) -> None:
    """The exports hold one record per window, never a totals row."""
    rows = json.loads(query_output(windows_dir, "--format", "json"))
    assert len(rows) == 4
    assert {r["vendorId"] for r in rows} == {"1", "2", LONG_VENDOR}
    records = list(csv.DictReader(io.StringIO(query_output(windows_dir, "--format", "csv"))))
    assert [r["vendorId"] for r in records] == [r["vendorId"] for r in rows]


def test_json_and_csv_give_fares_tips_and_amounts_in_exact_cents(windows_dir: Path) -> None:
    """totalFare, totalTip and totalAmount are whole cents per window, refunds subtracted."""
    money = ("totalFare", "totalTip", "totalAmount")
    expected: dict[tuple[str, str], list[int]] = {}
    for vendor, w, *_counts, fare, tip, amount in PARTS:
        start = f"2024-11-01T00:0{w}:00Z"
        cell = expected.setdefault((vendor, start), [0, 0, 0])
        for k, cents in enumerate((fare, tip, amount)):
            cell[k] += cents
    rows = json.loads(query_output(windows_dir, "--format", "json"))
    assert {(r["vendorId"], r["windowStart"]): [r[m] for m in money] for r in rows} == expected
    assert rows[1]["totalFare"] == 2_288_101 - 3_500  # the window with a refund
    records = list(csv.DictReader(io.StringIO(query_output(windows_dir, "--format", "csv"))))
    assert [[int(r[m]) for m in money] for r in records] == [[r[m] for m in money] for r in rows]


def test_a_million_trips_totals_fit_80_columns_whole() -> None:
    """A run of a million trips ($25 million) shows every total whole, nothing cut, at 80."""
    big = Totals(999_999, 2_900_000_000, 10**9, 1_600_000, 0, 0, 2_512_345_678)
    windows = [
        WindowTotals("1", START_MS, START_MS + 60_000, Totals(1, 2, 3, 1, 0, 0, 250), 1,
                     WindowClock.ARRIVAL, 0),
        WindowTotals("2", START_MS + 60_000, START_MS + 120_000, big, 1, WindowClock.ARRIVAL, 0),
    ]  # fmt: skip
    lines = screen_lines(windows_table(windows))
    assert too_wide(lines) == []
    assert "…" not in "\n".join(lines)
    assert row_of(lines, "total") == [
        "total", "1,000,000", "2,900,000.0", "2.90", "16.7", "1,600,001", "25,123,459"
    ]  # fmt: skip


def test_windows_over_several_dates_show_date_and_time() -> None:
    """When the windows start on different UTC dates, each row shows its date and time."""
    day_ms = 86_400_000
    windows = [
        WindowTotals("1", start, start + 60_000, Totals(2, 3_000, 600, 2, 900, 100, 1_250), 1,
                     WindowClock.EVENT, 0)
        for start in (START_MS, START_MS + day_ms)
    ]  # fmt: skip
    lines = screen_lines(windows_table(windows))
    assert lines[0].strip() == "2 windows (UTC)"
    assert row_of(lines, "vendor")[1] == "window (UTC)"
    assert row_of(lines, "1")[1] == "2024-11-01 00:00:00"
    assert "2024-11-02 00:00:00" in "\n".join(lines)
    assert row_of(lines, "total")[-1] == "25"  # $25.00


def test_dead_letters_fit_80_columns_with_56_digit_sequence_numbers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dead letters from Kinesis-like shards: reason and shard whole, the sequence number as its
    last 7 digits, the message in the rest of the line; --format json keeps all 56 digits."""
    monkeypatch.setenv("COLUMNS", str(WIDTH))
    stream = KinesisLikeStream()
    shard = stream.add_shard(1)
    bad = [b"not json at all, not even close " * 3, b"[1, 2, 3]", b'{"vendorId": 1}']
    sequences = stream.put(shard, bad, START_MS)
    clock = Clock()
    store = SQLiteStore(tmp_path / STORE_FILE, clock=clock)
    handler = in_process_handler(HandlerConfig(window_seconds=60))
    mapping = EventSourceMapping(
        stream, handler, store, MappingConfig(window_seconds=60), now_ms=clock
    )
    for _ in range(5):
        mapping.poll(drain=True)
        clock.advance(1_000)
    store.close()
    lines = query_output(tmp_path, "--dead-letters").splitlines()
    assert too_wide(lines) == []
    assert row_of(lines, "reason") == ["reason", "shard", "sequence", "message"]
    first = row_of(lines, "not_json")
    assert first[1:3] == ["shard-0001", "…" + sequences[0][-7:]]
    assert all(sequence not in "\n".join(lines) for sequence in sequences)
    header = next(line for line in lines if line.startswith("reason"))
    assert WIDTH - header.index("message") >= 40  # the message has half the screen or more
    letters = json.loads(query_output(tmp_path, "--dead-letters", "--format", "json"))
    assert [d["sequenceNumber"] for d in letters] == sequences
    assert all(len(d["sequenceNumber"]) == SEQUENCE_DIGITS for d in letters)
    assert letters[0]["shardId"] == shard


def test_a_single_window_is_counted_in_the_singular() -> None:
    """A table of one window says ``1 window`` in its title, and its totals row the sums."""
    window = WindowTotals("1", 0, 60_000, Totals(3, 4_500, 1_800, 3), 1, WindowClock.ARRIVAL, 0)
    lines = screen_lines(windows_table([window]))
    assert lines[0].strip() == "1 window of 1970-01-01 (UTC)"
    assert row_of(lines, "total")[:2] == ["total", "3"]


def test_late_trips_are_counted_under_the_table_within_80_columns() -> None:
    """The late trips of the rows shown, summed, in one line under a million trips' table."""
    late = (7, 654_321)
    big = Totals(999_999, 2_900_000_000, 10**9, 1_600_000, 0, 0, 2_512_345_678, late[1])
    windows = [
        WindowTotals("1", START_MS, START_MS + 60_000, Totals(9, 2, 3, 1, 0, 0, 250, late[0]), 1,
                     WindowClock.EVENT, 0),
        WindowTotals("2", START_MS + 60_000, START_MS + 120_000, big, 1, WindowClock.EVENT, 0),
    ]  # fmt: skip
    lines = screen_lines(windows_table(windows))
    assert too_wide(lines) == []
    assert "…" not in "\n".join(lines)
    assert lines[-1].strip() == f"late trips among these: {sum(late):,}"


def test_no_late_trips_no_late_line() -> None:
    """Windows without late trips end with their totals row: nothing about lateness."""
    window = WindowTotals("1", 0, 60_000, Totals(3, 4_500, 1_800, 3), 1, WindowClock.EVENT, 0)
    lines = screen_lines(windows_table([window]))
    assert row_of(lines, "total")[:2] == ["total", "3"]
    assert "late" not in "\n".join(lines)


def test_windows_without_any_fare_show_n_a_for_total_dollars_and_say_why() -> None:
    """Trips from a source without fares (every amount 0) show ``n/a``, not a $0 of data."""
    windows = [
        WindowTotals(vendor, START_MS, START_MS + 60_000, totals, 1, WindowClock.EVENT, 0)
        for vendor, totals in (
            ("1", Totals(472, 1_062_500, 410_000, 615)),
            ("2", Totals(5, 9, 9, 5)),
        )
    ]
    lines = screen_lines(windows_table(windows))
    assert too_wide(lines) == []
    assert [row_of(lines, name)[-1] for name in ("1", "2", "total")] == ["n/a"] * 3
    caption = " ".join(
        line.strip()
        for line in lines[
            lines.index(next(line for line in lines if line.startswith("total"))) + 1 :
        ]
    )
    assert caption.startswith("total $ n/a: no fare, tip or amount in these trips")


def test_one_window_with_money_shows_dollars_for_every_row() -> None:
    """A refund or a fare in any row shown: every row shows its dollars, 0 included."""
    windows = [
        WindowTotals("1", START_MS, START_MS + 60_000, Totals(4, 9, 9, 4), 1, WindowClock.EVENT, 0),
        WindowTotals("2", START_MS, START_MS + 60_000, Totals(2, 9, 9, 2, -350, 0, -420), 1,
                     WindowClock.EVENT, 0),
    ]  # fmt: skip
    lines = screen_lines(windows_table(windows))
    assert [row_of(lines, name)[-1] for name in ("1", "2", "total")] == ["0", "-4", "-4"]
    assert "n/a" not in "\n".join(lines)


def test_the_parquet_export_has_the_money_in_integer_cents(windows_dir: Path) -> None:
    """--format parquet carries totalFare, totalTip and totalAmount as int64 cents, as json."""
    out = windows_dir / "windows.parquet"
    query_output(windows_dir, "--format", "parquet", "--out", str(out))
    table = pq.read_table(out)
    money = ("totalFare", "totalTip", "totalAmount")
    assert all(str(table.schema.field(m).type) == "int64" for m in money)
    rows = json.loads(query_output(windows_dir, "--format", "json"))
    assert [[r[m] for m in money] for r in table.to_pylist()] == [
        [r[m] for m in money] for r in rows
    ]


def test_csv_with_no_matching_rows_is_its_header_alone(windows_dir: Path) -> None:
    """No window matches: CSV still prints its header, the columns JSON's rows carry, on stdout
    (the line naming the vendors there are goes to stderr)."""
    columns = list(json.loads(query_output(windows_dir, "--format", "json"))[0])
    args = ["--data-dir", str(windows_dir), "--format", "csv", "--vendor", "no-such-vendor"]
    result = CliRunner().invoke(query, args)
    assert result.exit_code == 0, result.output
    empty = result.stdout
    assert empty.splitlines() == [",".join(columns)]
    assert list(csv.DictReader(io.StringIO(empty))) == []


def test_the_parquet_file_gets_the_mode_the_umask_gives(windows_dir: Path) -> None:
    """--out FILE is written with the mode any new file gets (0644 under umask 022), not 0600."""
    out = windows_dir / "windows.parquet"
    previous = os.umask(0o022)
    try:
        query_output(windows_dir, "--format", "parquet", "--out", str(out))
    finally:
        os.umask(previous)
    assert stat.S_IMODE(out.stat().st_mode) == 0o644


def test_a_dead_letter_that_reads_like_markup_is_shown_as_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stored dead letter whose reason, shard and message hold ``[/x] [red]`` is no terminal
    markup: the table shows each as it is stored, and nothing fails."""
    monkeypatch.setenv("COLUMNS", str(WIDTH))
    store = SQLiteStore(tmp_path / STORE_FILE, clock=Clock())
    origin = Origin("s", "[/x] [red]", "12")
    letter = DeadLetter(origin, "[/x][red]", "boom [/x] [red]", b"boom [/x] [red]")
    assert store.put_dead_letters([letter]) == 1
    store.close()
    lines = query_output(tmp_path, "--dead-letters").splitlines()
    assert row_of(lines, "[/x][red]") == ["[/x][red]", "[/x] [red]", "12", "boom [/x] [red]"]
