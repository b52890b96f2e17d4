"""The page as a newcomer sees it at 1280 px: sane time axes, distinct tick labels, every column."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page
from tests.browser.test_dashboard_fields import FinalWindow

from taxi_stream.core.records import DeadLetter, WindowTotals
from taxi_stream.core.totals import Totals
from taxi_stream.core.windows import WindowClock
from taxi_stream.views.dashboard import DashboardServer, Reads, start_dashboard

T0_MS = 1_730_448_000_000  # 2024-11-01T08:00:00Z
WINDOW_S = 60
WAIT_MS = 30_000

# One window of one trip: 0.3 mi, 720 s (0.2 h), 1 passenger, no money.
ONE = [WindowTotals("1", T0_MS, T0_MS + WINDOW_S * 1000, Totals(1, 300, 720, 1), 1,
                    WindowClock.EVENT, T0_MS)]  # fmt: skip

# 30 windows of two vendors, with money, late trips and finality, at the sums of a long run.
BIG = [
    FinalWindow(
        vendor, T0_MS + i * WINDOW_S * 1000, T0_MS + (i + 1) * WINDOW_S * 1000,
        Totals(123_456, 456_789_123, 44_444_444, 234_567, 123_456_789, 23_456_789,
                    198_765_432, 12_345),
        4, WindowClock.EVENT, T0_MS, final=i < 20,
    )
    for i in range(30)
    for vendor in ("1", "2")
]  # fmt: skip


class HeldStore:
    """A read side holding ``held`` windows and no dead letters."""

    held: list[WindowTotals] = ONE

    def windows(self, *args: object) -> list[WindowTotals]:
        return list(self.held)

    def dead_letters(
        self, limit: int | None = None, *, newest_first: bool = False
    ) -> list[DeadLetter]:
        return []

    def counts(self) -> tuple[int, int]:
        return sum(w.totals.trip_count for w in self.held), 0

    def dead_letter_reasons(self) -> dict[str, int]:
        return {}

    def watermarks(self) -> list[object]:
        return []

    def close(self) -> None:
        pass


class BigStore(HeldStore):
    """A read side holding BIG."""

    held = BIG


def serve(store: type[HeldStore]) -> Iterator[DashboardServer]:
    """The dashboard over ``store`` on a free port of 127.0.0.1."""
    server = start_dashboard(Reads(store, keep_open=True), port=0)
    yield server
    server.stop()


@pytest.fixture
def one_window() -> Iterator[DashboardServer]:
    """The dashboard over a store of one window."""
    yield from serve(HeldStore)


@pytest.fixture
def big_windows() -> Iterator[DashboardServer]:
    """The dashboard over a store of BIG."""
    yield from serve(BigStore)


def opened(browser: Browser, url: str, width: int) -> Page:
    """The page at ``url`` in a viewport ``width`` px wide, once its charts are drawn."""
    page = browser.new_page(viewport={"width": width, "height": 1000})
    page.goto(url)
    page.wait_for_selector("#windows tbody tr", timeout=WAIT_MS)
    page.wait_for_function("state.charts.size > 0", timeout=WAIT_MS)
    return page


AXES = """() => [...state.charts.values()].map(u => ({
  title: u.root.parentElement.querySelector('h3').textContent,
  x: [u.scales.x.min, u.scales.x.max],
  labels: u.axes.map(a => a._values),
}))"""


def test_one_window_gets_a_time_axis_of_a_window_either_side(
    browser: Browser, one_window: DashboardServer
) -> None:
    """A single window's charts span one window before to one after its start, not years."""
    charts = opened(browser, one_window.url, 1280).evaluate(AXES)
    start_s = T0_MS // 1000
    assert {"trips per window", "duration per window (h)"} <= {c["title"] for c in charts}
    for chart in charts:
        assert chart["x"] == [start_s - WINDOW_S, start_s + WINDOW_S], chart["title"]


def test_no_axis_repeats_a_label_and_0_2_h_reads_0_2(
    browser: Browser, one_window: DashboardServer, big_windows: DashboardServer
) -> None:
    """Every axis of every chart labels each tick differently; 0.2 h shows as 0.2, not 0."""
    for url in (one_window.url, big_windows.url):
        for chart in opened(browser, url, 1280).evaluate(AXES):
            for labels in chart["labels"]:
                assert len(set(labels)) == len(labels), (chart["title"], labels)
    duration = next(
        c
        for c in opened(browser, one_window.url, 1280).evaluate(AXES)
        if c["title"].startswith("duration")
    )
    assert "0.2" in duration["labels"][1]


@pytest.mark.parametrize(
    ("ticks", "labels"),
    [
        ([0, 0.1, 0.2, 0.30000000000000004], ["0.0", "0.1", "0.2", "0.3"]),
        ([0, 0.25, 0.5, 0.75], ["0.00", "0.25", "0.50", "0.75"]),
        ([0, 5_000, 10_000], ["0", "5,000", "10,000"]),
        ([-0.002, 0, 0.002], ["-0.002", "0.000", "0.002"]),
        ([7], ["7"]),
        ([0.2], ["0.2"]),
    ],
)
def test_tick_labels_are_as_precise_as_the_ticks(
    browser: Browser, one_window: DashboardServer, ticks: list[float], labels: list[str]
) -> None:
    """Value ticks get the fewest decimals that write each exactly (a table of quirky steps)."""
    page = opened(browser, one_window.url, 1280)
    assert page.evaluate("(ticks) => tickLabels(ticks)", ticks) == labels


@pytest.mark.parametrize(
    ("ticks", "labels"),
    [
        ([0, 30, 60], ["00:00:00\n1970-01-01", "00:00:30", "00:01:00"]),
        ([0, 300, 600], ["00:00\n1970-01-01", "00:05", "00:10"]),
        ([0, 0.5, 1], ["00:00:00.000\n1970-01-01", "00:00:00.500", "00:00:01.000"]),
        ([43_200, 86_400, 129_600], ["12:00\n1970-01-01", "00:00\n1970-01-02", "12:00"]),
        ([0, 86_400, 172_800], ["1970-01-01", "1970-01-02", "1970-01-03"]),
    ],
)
def test_time_labels_are_utc_and_as_precise_as_the_ticks(
    browser: Browser, one_window: DashboardServer, ticks: list[float], labels: list[str]
) -> None:
    """Time ticks read in UTC to the second (or ms) only when needed, the date where it turns."""
    page = opened(browser, one_window.url, 1280)
    assert page.evaluate("(ticks) => timeLabels(ticks)", ticks) == labels


FIT = """(id) => {
  const table = document.getElementById(id), box = table.parentElement;
  const right = box.getBoundingClientRect().right;
  const cells = [...table.querySelectorAll('th, td')];
  return { table: table.scrollWidth, box: box.clientWidth, boxScroll: box.scrollWidth,
           overflow: getComputedStyle(box).overflowX, columns: table.rows[0].cells.length,
           beyond: cells.filter(c => c.getBoundingClientRect().right > right + 0.5).length,
           page: document.documentElement.clientWidth, boxRight: right };
}"""


@pytest.mark.parametrize("table", ["windows", "vendors"])
def test_every_column_shows_at_1280_px(
    browser: Browser, big_windows: DashboardServer, table: str
) -> None:
    """At 1280 px the widest tables (money, late trips, status, long-run sums) fit their panel."""
    fit = opened(browser, big_windows.url, 1280).evaluate(FIT, table)
    assert fit["columns"] == (14 if table == "windows" else 13)
    assert fit["table"] <= fit["box"], fit
    assert fit["boxScroll"] <= fit["box"], fit
    assert fit["beyond"] == 0, fit


@pytest.mark.parametrize("table", ["windows", "vendors"])
def test_a_narrow_page_scrolls_each_table_inside_its_panel(
    browser: Browser, big_windows: DashboardServer, table: str
) -> None:
    """At 700 px a table wider than its panel scrolls inside it; the panel stays on the page."""
    fit = opened(browser, big_windows.url, 700).evaluate(FIT, table)
    assert fit["boxScroll"] > fit["box"], fit
    assert fit["overflow"] == "auto"
    assert fit["boxRight"] <= fit["page"], fit
