"""The `run` view: every window of the run per vendor, a totals row, readable at 80 columns."""

from __future__ import annotations

import json
from pathlib import Path

from taxi_stream.app.wiring import in_process_handler
from taxi_stream.core.records import WindowTotals
from taxi_stream.function.handler import HandlerConfig
from taxi_stream.runner.mapping import EventSourceMapping
from taxi_stream.sources.simulator import Simulator, SimulatorConfig
from taxi_stream.views.run import FINAL_WINDOWS, RunView
from tests.support.harness import START_MS, Harness
from tests.support.screen import row_of, screen_lines, split_units, too_wide

HEADERS = ["window", "vendor", "trips", "miles", "avg mi", "avg min", "pax", "status"]
HINT = "taxi-stream query --data-dir data"
TRIPS_PER_WINDOW = 40


def run_through(harness: Harness, windows: int) -> tuple[EventSourceMapping, list[list[dict]]]:
    """Put TRIPS_PER_WINDOW simulated trips in each of ``windows`` 1 s windows, over 2 shards.

    Returns the mapping (our handler, writing to the harness's store) and the trips per window.
    """
    simulator = Simulator(SimulatorConfig(seed=11, start_ms=START_MS))
    trips = []
    for _ in range(windows):
        entries = simulator.batch(TRIPS_PER_WINDOW).entries
        assert harness.stream.put_records(entries).sent == len(entries)
        trips.append([json.loads(data) for _, data in entries])
        harness.clock.advance(1_000)
    handler = in_process_handler(HandlerConfig(window_seconds=1))
    return harness.mapping(handler, window_seconds=1, batch_size=25), trips


def expected_total(trips: list[dict], stored: list[WindowTotals]) -> list[str]:
    """The totals row, from the trips put (counts) and the stored rows' exact sums (distance)."""
    count = len(trips)
    milli = sum(w.totals.distance_milli for w in stored)
    seconds = sum(w.totals.duration_s for w in stored)
    passengers = sum(int(trip["passengerCount"]) for trip in trips)
    return [
        "total",
        f"{count:,}",
        f"{milli / 1000:,.1f}",
        f"{milli / 1000 / count:.2f}",
        f"{seconds / count / 60:.1f}",
        f"{passengers:,}",
    ]


def test_the_final_table_shows_every_window_of_the_run_and_its_total(tmp_path: Path) -> None:
    """After a drained 5-window run: a row per vendor and window, headed columns, and a totals
    row whose trips and passengers are those put in and whose miles are the rows' sum."""
    harness = Harness(tmp_path, shards=2)
    mapping, trips = run_through(harness, 5)
    harness.settle(mapping, drain=True)
    stored = harness.store.windows()
    view = RunView(harness.store, mapping, START_MS, HINT)
    lines = screen_lines(view.render(200, 200, windows=FINAL_WINDOWS))
    assert too_wide(lines) == []
    assert row_of(lines, "window") == HEADERS
    assert split_units(lines, ["ms", "records/s"]) == []
    assert "| processed 200 records |" in lines[0]  # dead letters are records, not trips
    rows = [line for line in lines if line[:2].isdigit()]
    assert len(rows) == len(stored) == 10  # 5 windows, 2 vendors
    assert all(line.rstrip().endswith("closed") for line in rows)
    assert row_of(lines, "total") == expected_total([t for w in trips for t in w], stored)
    assert not any("the total includes" in line for line in lines)
    harness.close()


def test_a_long_run_shows_its_latest_windows_and_says_how_many_more(tmp_path: Path) -> None:
    """Of 15 windows, 2 before the run began: the latest 12 are shown, a line says the total
    includes 1 more window (the earlier one) and names the command that lists it."""
    harness = Harness(tmp_path, shards=2)
    mapping, trips = run_through(harness, 15)
    harness.settle(mapping, drain=True)
    since = START_MS + 2_000
    view = RunView(harness.store, mapping, since, HINT)
    lines = screen_lines(view.render(600, 600, windows=FINAL_WINDOWS))
    assert too_wide(lines) == []
    shown = sorted({line[:9] for line in lines if line[:2].isdigit()})
    assert shown == [f"00:00:{s:02d}Z" for s in range(3, 15)]
    assert len(shown) == 12
    assert f"the total includes 1 more window: {HINT}" in lines
    stored = harness.store.windows(start_ms=since)
    assert row_of(lines, "total") == expected_total([t for w in trips[2:] for t in w], stored)
    harness.close()


def test_while_the_run_goes_on_open_windows_count_in_the_total(tmp_path: Path) -> None:
    """Mid-run the live screen shows the latest 3 windows, the open ones marked, and its total
    counts every trip the shards have processed, stored or still in their state."""
    harness = Harness(tmp_path, shards=2)
    mapping, _ = run_through(harness, 6)
    for _ in range(3):
        mapping.poll()
    processed = sum(s.stats.records for s in mapping.snapshot())
    assert any(s.checkpoint.window_start_ms is not None for s in mapping.snapshot())
    assert 0 < processed < 6 * TRIPS_PER_WINDOW
    lines = screen_lines(RunView(harness.store, mapping, START_MS, HINT).render(processed))
    assert too_wide(lines) == []
    assert len({line[:9] for line in lines if line[:2].isdigit()}) <= 3
    assert any(line.rstrip().endswith("open") for line in lines if line[:2].isdigit())
    assert row_of(lines, "total")[1] == f"{processed:,}"
    harness.close()


def test_a_vendor_id_that_reads_like_markup_is_shown_as_it_is(tmp_path: Path) -> None:
    """A record's vendorId ``[/x] [red]`` (a short printable id, so a vendor) is no terminal
    markup: the view renders, and its window's row names the vendor whole."""
    harness = Harness(tmp_path)
    vendor = "[/x] [red]"
    trips = [json.loads(data) for _, data in Simulator(SimulatorConfig(seed=3)).batch(5).entries]
    entries = [("k", json.dumps(trip | {"vendorId": vendor}).encode()) for trip in trips]
    assert harness.stream.put_records(entries).sent == 5
    handler = in_process_handler(HandlerConfig(window_seconds=60))
    mapping = harness.mapping(handler, window_seconds=60)
    harness.settle(mapping, drain=True)
    view = RunView(harness.store, mapping, 0, HINT)
    lines = screen_lines(view.render(5, windows=None), width=100)  # room for the vendor whole
    (row,) = [row_of(lines, line[:9]) for line in lines if line[:2].isdigit()]
    assert (row[1], row[2], row[-1]) == (vendor, "5", "closed")
    harness.close()
