"""The page shows totals it was not written for: money, late trips, finality, any new count."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from taxi_stream.core.records import DeadLetter, WindowTotals
from taxi_stream.core.totals import Totals
from taxi_stream.core.windows import WindowClock
from taxi_stream.views.dashboard import DashboardServer, Reads, start_dashboard

T0_MS = 1_730_448_000_000  # 2024-11-01T08:00:00Z
WAIT_MS = 30_000


@dataclasses.dataclass(frozen=True, slots=True)
class MoneyTotals(Totals):
    """Totals as a later store may hold them: cents and late trips after the four counts."""

    fare_cents: int = 0
    tip_cents: int = 0
    amount_cents: int = 0
    late_trips: int = 0
    tolls_cents: int = 0  # a count no page knows the name of


@dataclasses.dataclass(frozen=True, slots=True)
class FinalWindow(WindowTotals):
    """A window as a read side that decides finality may give it."""

    final: bool = False


WINDOWS = [
    FinalWindow(
        "1", T0_MS, T0_MS + 60_000, MoneyTotals(4, 8_000, 2_400, 5, 5_432, 900, 7_001, 1, 55),
        4, WindowClock.EVENT, T0_MS, final=True,
    ),
    FinalWindow(
        "1", T0_MS + 60_000, T0_MS + 120_000, MoneyTotals(2, 3_000, 1_200, 2, 2_000, 0, 2_300),
        1, WindowClock.EVENT, T0_MS, final=False,
    ),
]  # fmt: skip


class LaterStore:
    """A read side holding WINDOWS and no dead letters."""

    def windows(self, *args: object) -> list[WindowTotals]:
        return list(WINDOWS)

    def dead_letters(
        self, limit: int | None = None, *, newest_first: bool = False
    ) -> list[DeadLetter]:
        return []

    def counts(self) -> tuple[int, int]:
        return 6, 0

    def dead_letter_reasons(self) -> dict[str, int]:
        return {}

    def watermarks(self) -> list[object]:
        return []

    def close(self) -> None:
        pass


@pytest.fixture
def served() -> Iterator[DashboardServer]:
    """The dashboard over LaterStore on a free port of 127.0.0.1."""
    server = start_dashboard(Reads(LaterStore, keep_open=True), port=0)
    yield server
    server.stop()


def test_new_totals_show_with_their_units_without_a_change_to_the_page(
    browser: Browser, served: DashboardServer
) -> None:
    """Fares in dollars, late trips, final or open, and an unknown count under its own name."""
    page = browser.new_page(viewport={"width": 1600, "height": 1200})
    page.goto(served.url)
    page.wait_for_selector("#windows tbody tr", timeout=WAIT_MS)
    headers = page.eval_on_selector_all(
        "#windows thead th", "cells => cells.map(c => c.textContent)"
    )
    assert {
        "fares",
        "tips",
        "total amount",
        "late trips",
        "tollsCents",
        "avg fare",
        "status",
    } <= set(headers)
    newest, oldest = page.eval_on_selector_all(
        "#windows tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))"
    )
    shown = dict(zip(headers, oldest, strict=True))
    assert shown["fares"] == "$54.32"
    assert shown["total amount"] == "$70.01"
    assert shown["late trips"] == "1"
    assert shown["tollsCents"] == "55"
    assert shown["avg fare"] == "$13.58"  # 5,432 cents over 4 trips
    assert shown["status"] == "final"
    assert dict(zip(headers, newest, strict=True))["status"] == "open"
    vendor = page.eval_on_selector_all(
        "#vendors tbody td[data-key]",
        "cells => Object.fromEntries(cells.map(c => [c.dataset.key, c.textContent]))",
    )
    assert vendor["totalFare"] == "$74.32"
    assert vendor["lateTrips"] == "1"


NO_FARES = [
    WindowTotals(vendor, T0_MS, T0_MS + 60_000, totals, 1, WindowClock.EVENT, T0_MS)
    for vendor, totals in (("1", Totals(4, 8_000, 2_400, 5)), ("2", Totals(3, 6_000, 1_800, 3)))
]


class NoFaresStore(LaterStore):
    """A read side whose trips came from a source without fares: every amount 0 cents."""

    def windows(self, *args: object) -> list[WindowTotals]:
        return list(NO_FARES)


def test_trips_without_fares_show_no_money_columns_rather_than_zero_dollars(
    browser: Browser,
) -> None:
    """Windows whose every fare, tip and amount is 0 show no money columns, and say why."""
    server = start_dashboard(Reads(NoFaresStore, keep_open=True), port=0)
    try:
        page = browser.new_page(viewport={"width": 1600, "height": 1200})
        page.goto(server.url)
        page.wait_for_selector("#windows tbody tr", timeout=WAIT_MS)
        for table in ("#windows", "#vendors"):
            headers = page.eval_on_selector_all(
                f"{table} thead th", "cells => cells.map(c => c.textContent)"
            )
            assert "trips" in headers
            assert not {"fares", "tips", "total amount", "avg fare"} & set(headers)
        assert "$" not in (page.text_content("main") or "")
        assert "no fare, tip or amount" in (page.text_content("#money-note") or "")
    finally:
        server.stop()
