"""The dashboard in a real browser: the store's totals, live updates, dead letters as text."""

from __future__ import annotations

import json
import subprocess
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page
from tests.support.dashboard import serving

from taxi_stream.core.records import DeadLetter, Origin
from taxi_stream.stores.sqlite import SQLiteStore

Cli = Callable[..., subprocess.CompletedProcess[str]]  # the `cli` fixture (e2e/conftest.py)
WAIT_MS = 60_000
MONEY = ("totalFare", "totalTip", "totalAmount", "lateTrips")  # cents, and the late trips
SEEDED_RUN = ("--window-seconds", "1", "--rate", "1500", "--malformed", "0.02", "--quiet")

SHOWN_TOTALS = """rows => rows.map(row => [row.dataset.vendor, Object.fromEntries(
  [...row.querySelectorAll("td[data-key]")]
    .map(td => [td.dataset.key, Number(td.dataset.value)]))])"""
SHOWN_REASONS = """rows => rows.map(row => [row.dataset.reason,
  Number(row.querySelector("td[data-key=count]").dataset.value)])"""


def expected_totals(windows: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Per vendor from `query --format json`: windows, trips, thousandths of a mile, s, pax,
    and the money in cents."""
    out: dict[str, dict[str, int]] = defaultdict(Counter)
    for w in windows:
        cell = out[w["vendorId"]]
        cell["windows"] += 1
        cell["tripCount"] += w["tripCount"]
        cell["distanceMilli"] += round(w["totalDistanceMiles"] * 1000)
        cell["totalDurationSeconds"] += w["totalDurationSeconds"]
        cell["passengerCount"] += w["passengerCount"]
        for cents in MONEY:
            cell[cents] += w[cents]
    return {vendor: dict(cell) for vendor, cell in out.items()}


def shown_totals(page: Page) -> dict[str, dict[str, int]]:
    """The per-vendor table as the page shows it, distance in thousandths of a mile."""
    rows = page.eval_on_selector_all("#vendors tbody tr", SHOWN_TOTALS)
    return {
        vendor: {
            "windows": int(cells["windows"]),
            "tripCount": int(cells["tripCount"]),
            "distanceMilli": round(cells["totalDistanceMiles"] * 1000),
            "totalDurationSeconds": int(cells["totalDurationSeconds"]),
            "passengerCount": int(cells["passengerCount"]),
            **{cents: int(cells[cents]) for cents in MONEY},
        }
        for vendor, cells in rows
    }


def test_the_page_shows_the_stores_totals_and_new_windows_without_reload(
    browser: Browser, cli: Cli, taxi_stream_exe: Path, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """Per-vendor totals equal query's, dead letters by reason show, a new window arrives live."""
    data = tmp_path / "data"
    cli("run", "--data-dir", data, "--trips", "3000", "--seed", "11", *SEEDED_RUN)
    windows = json.loads(cli("query", "--data-dir", data, "--format", "json").stdout)
    letters = json.loads(
        cli("query", "--data-dir", data, "--dead-letters", "--format", "json").stdout
    )
    expected = expected_totals(windows)
    argv = [taxi_stream_exe, "dashboard", "--data-dir", data, "--port", "0"]
    with serving(argv, cwd=tmp_path, env=cli_env) as served:
        page = browser.new_page(viewport={"width": 1280, "height": 1800})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(served.url)
        page.select_option("#latest", "")  # every window, not the latest 30
        total_windows = len(windows)
        page.wait_for_function(
            """n => [...document.querySelectorAll("#vendors td[data-key=windows]")]
                .reduce((sum, td) => sum + Number(td.dataset.value), 0) === n""",
            arg=total_windows,
            timeout=WAIT_MS,
        )
        assert shown_totals(page) == expected
        assert page.text_content("#vendors td[data-key=totalDistanceMiles]").endswith(" mi")
        assert page.text_content("#vendors td[data-key=totalDurationSeconds]").endswith(" h")
        assert page.text_content("#vendors td[data-key=totalFare]").startswith("$")
        shown_reasons = dict(page.eval_on_selector_all("#reasons tbody tr", SHOWN_REASONS))
        assert shown_reasons == Counter(letter["reason"] for letter in letters)
        assert sum(shown_reasons.values()) > 0

        newest = max(w["windowStart"] for w in windows)
        page.evaluate("window.sameDocument = true")  # a reload would lose it
        cli("run", "--data-dir", data, "--trips", "600", "--seed", "12", *SEEDED_RUN)
        page.wait_for_function(
            """newest => [...document.querySelectorAll("#windows tbody tr td:first-child")]
                .some(td => td.textContent.replace(" ", "T") + "Z" > newest)""",
            arg=newest,
            timeout=WAIT_MS,
        )
        assert page.evaluate("window.sameDocument") is True
        shot = tmp_path / "dashboard.png"
        page.screenshot(path=shot, full_page=True)
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert errors == []
    assert served.returncode == 0, served.lines


HOSTILE_RAW = (
    b'<script>window.pwned = "script"</script><img src=x onerror="window.pwned = 1"><b>x</b>'
)
HOSTILE_MESSAGE = '<img src=y onerror="window.pwned = 2">not JSON'


def test_a_dead_letter_of_markup_shows_as_text_and_runs_nothing(
    browser: Browser, taxi_stream_exe: Path, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """A dead letter whose bytes and message are markup shows them as text; no script runs."""
    data = tmp_path / "data"
    store = SQLiteStore(data / "store.db")
    origin = Origin("local-x", "shardId-000000000000", "1", None, 1_700_000_000_000)
    store.put_dead_letters([DeadLetter(origin, "not_json", HOSTILE_MESSAGE, HOSTILE_RAW)])
    store.close()
    argv = [taxi_stream_exe, "dashboard", "--data-dir", data, "--port", "0"]
    with serving(argv, cwd=tmp_path, env=cli_env) as served:
        page = browser.new_page()
        page.goto(served.url)
        page.wait_for_selector("#letters .letter pre", timeout=WAIT_MS)
        letter = page.locator("#letters .letter")
        assert letter.locator("pre").text_content() == HOSTILE_RAW.decode()
        assert HOSTILE_MESSAGE in letter.text_content()
        assert letter.locator("script, img, b").count() == 0
        assert page.evaluate("window.pwned") is None
        page.screenshot(path=tmp_path / "escaped.png")


def test_a_big_dead_letter_of_markup_shows_its_first_bytes_as_text(
    browser: Browser, taxi_stream_exe: Path, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """A 1 MiB letter of markup shows its first 4 KiB as text, says it is cut, runs nothing."""
    raw = (HOSTILE_RAW * (2**20 // len(HOSTILE_RAW) + 1))[: 2**20]
    data = tmp_path / "data"
    store = SQLiteStore(data / "store.db")
    origin = Origin("local-x", "shardId-000000000000", "1", None, 1_700_000_000_000)
    store.put_dead_letters([DeadLetter(origin, "not_json", HOSTILE_MESSAGE, raw)])
    store.close()
    argv = [taxi_stream_exe, "dashboard", "--data-dir", data, "--port", "0"]
    with serving(argv, cwd=tmp_path, env=cli_env) as served:
        page = browser.new_page()
        page.goto(served.url)
        page.wait_for_selector("#letters .letter pre", timeout=WAIT_MS)
        letter = page.locator("#letters .letter")
        assert letter.locator("pre").text_content() == raw[:4096].decode()
        assert "the first 4,096 of 1,048,576 bytes" in letter.locator(".cut").text_content()
        assert letter.locator("script, img, b").count() == 0
        assert page.evaluate("window.pwned") is None
