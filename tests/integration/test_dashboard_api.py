"""The dashboard's JSON API served on 127.0.0.1: the store's answers, bounded, errors in a line."""

from __future__ import annotations

import base64
import dataclasses
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from taxi_stream.app.wiring import Settings
from taxi_stream.cli.dashboard import store_reads
from taxi_stream.core.errors import StoreUnavailableError
from taxi_stream.core.records import Contribution, DeadLetter, Origin, WindowTotals
from taxi_stream.core.totals import Totals
from taxi_stream.core.watermarks import Watermark
from taxi_stream.core.windows import WindowClock
from taxi_stream.runner.checkpoint import Checkpoint
from taxi_stream.runner.cursor import ShardSnapshot, ShardStats
from taxi_stream.stores.sqlite import SQLiteStore
from taxi_stream.views.dashboard import start_dashboard
from taxi_stream.views.dashboard.data import DEFAULT_LATENESS, Lateness, Reads
from taxi_stream.views.dashboard.health import LiveFeed, PipelineSample, Rates
from taxi_stream.views.dashboard.rows import window_row

MINUTE_MS = 60_000
T0_MS = 1_730_448_000_000  # 2024-11-01T08:00:00Z
NOW_MS = 1_730_449_000_123


def contribution(vendor: str, minute: int, trips: int, part: str = "a") -> Contribution:
    """``trips`` trips of ``vendor`` in the minute window ``minute`` after T0, 1.5 mi each."""
    start = T0_MS + minute * MINUTE_MS
    totals = Totals(trips, 1_500 * trips, 600 * trips, 2 * trips)
    return Contribution(
        f"s|0|{start}|{vendor}{part}", vendor, start, start + MINUTE_MS, totals, "arrival"
    )


def letter(sequence: int, reason: str = "not_json", raw: bytes = b"{oops") -> DeadLetter:
    """A dead letter of shard 0 at ``sequence``."""
    origin = Origin("s", "shardId-000000000000", f"{sequence:056d}", None, NOW_MS)
    return DeadLetter(origin, reason, f"record {sequence}: {reason}", raw)


CONTRIBUTIONS = [
    contribution(vendor, minute, trips)
    for vendor, minute, trips in [("1", 0, 3), ("1", 1, 5), ("1", 2, 7), ("2", 0, 2), ("2", 2, 4)]
]
LETTERS = [letter(1), letter(2, "bad_vendor"), letter(3), letter(4, "not_utf8", b"\xff\xfe<b>")]


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    """A SQLite store holding the contributions and dead letters above."""
    path = tmp_path / "store.db"
    store = SQLiteStore(path, clock=lambda: NOW_MS)
    store.apply(CONTRIBUTIONS)
    store.put_dead_letters(LETTERS)
    store.close()
    return path


@contextmanager
def client_of(
    reads: Reads, feed: LiveFeed | None = None, lateness: Lateness = DEFAULT_LATENESS
) -> Iterator[httpx.Client]:
    """A client of the dashboard over ``reads``, served on a free port of 127.0.0.1."""
    server = start_dashboard(reads, port=0, feed=feed, lateness=lateness)
    try:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            yield http
    finally:
        server.stop()


@pytest.fixture
def client(store_path: Path) -> Iterator[httpx.Client]:
    """The dashboard over the store, opened read-only for each read as the CLI opens it."""
    with client_of(Reads(partial(SQLiteStore, store_path, read_only=True), keep_open=False)) as c:
        yield c


def trips_by_window(rows: list[dict[str, Any]]) -> list[tuple[str, int, int]]:
    """(vendor, minute after T0, trips) of each row."""
    return [
        (r["vendorId"], (r["windowStartMs"] - T0_MS) // MINUTE_MS, r["tripCount"]) for r in rows
    ]


def iso(minute: int) -> str:
    """The ISO-8601 time ``minute`` minutes after T0."""
    return f"2024-11-01T08:{minute:02d}:00Z"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, [("1", 0, 3), ("1", 1, 5), ("1", 2, 7), ("2", 0, 2), ("2", 2, 4)]),
        ({"vendor": "2"}, [("2", 0, 2), ("2", 2, 4)]),
        ({"since": iso(1)}, [("1", 1, 5), ("1", 2, 7), ("2", 2, 4)]),
        ({"until": iso(1)}, [("1", 0, 3), ("2", 0, 2)]),
        ({"vendor": "1", "since": iso(1), "until": iso(2)}, [("1", 1, 5)]),
        ({"limit": "2"}, [("1", 0, 3), ("1", 1, 5)]),
        ({"latest": "1"}, [("1", 2, 7), ("2", 2, 4)]),
    ],
)
def test_windows_answer_the_filters_of_query(
    client: httpx.Client, params: dict[str, str], expected: list[tuple[str, int, int]]
) -> None:
    """/api/windows takes query's --vendor, --since, --until and --limit, and the latest N."""
    answer = client.get("/api/windows", params=params).json()
    assert trips_by_window(answer["windows"]) == expected
    assert answer["truncated"] == ("limit" in params)


def test_a_window_row_has_the_keys_query_prints(client: httpx.Client) -> None:
    """A row carries the totals with their units in the key names, and the averages per trip."""
    [row] = client.get("/api/windows", params={"vendor": "1", "until": iso(1)}).json()["windows"]
    assert row["windowStart"] == iso(0)
    assert row["windowEnd"] == iso(1)
    assert row["totalDistanceMiles"] == 4.5  # 3 trips of 1.5 miles
    assert row["totalDurationSeconds"] == 1_800
    assert row["passengerCount"] == 6
    assert row["avgDistanceMiles"] == 1.5
    assert row["avgDurationSeconds"] == 600.0


def test_a_total_added_later_appears_under_its_camel_case_name() -> None:
    """A field the Totals gain later reaches the API without a change to the row code."""

    @dataclasses.dataclass(frozen=True, slots=True)
    class MoreTotals(Totals):
        late_trips: int = 0
        night_surcharge_cents: int = 0

    window = WindowTotals(
        "1",
        T0_MS,
        T0_MS + MINUTE_MS,
        MoreTotals(4, 1, 2, 3, late_trips=1, night_surcharge_cents=250),
        1,
        WindowClock.EVENT,
        NOW_MS,
    )
    row = window_row(window)
    assert (row["lateTrips"], row["nightSurchargeCents"]) == (1, 250)
    assert row["clock"] == "event"


@pytest.mark.parametrize(
    ("params", "wrong"),
    [
        ({"since": "yesterday"}, "since: not an ISO-8601 time"),
        ({"limit": "0"}, "limit: expected a whole number from 1 to 5000"),
        ({"limit": "99999"}, "limit: expected a whole number from 1 to 5000"),
        ({"latest": "-3"}, "latest: expected a whole number"),
        ({"latest": "\u00b2"}, "latest: expected a whole number"),  # a digit int() refuses
        ({"limit": "\u0663"}, "limit: expected a whole number"),  # Arabic-Indic three
        ({"limit": "9" * 5000}, "limit: expected a whole number"),  # past int()'s 4,300 digits
        ({"vendor": "x" * 65}, "vendor: not a vendor id"),
        ({"vendor": "1\x00"}, "vendor: not a vendor id"),
        ({"vendor": "   "}, "vendor: not a vendor id"),
        ({"since": iso(2), "until": iso(1)}, "until: must be later than since"),
        ({"since": iso(1), "until": iso(1)}, "until: must be later than since"),
        ({"vendr": "1"}, "'vendr': unknown parameter (this route takes vendor, since, until,"),
        ({"vendor": ["1", "2"]}, "vendor: given 2 times; give it once"),
    ],
)
def test_a_bad_filter_is_a_400_with_one_line(
    client: httpx.Client, params: dict[str, str], wrong: str
) -> None:
    """A filter that cannot be used is refused in one line, never a trace."""
    answer = client.get("/api/windows", params=params)
    assert answer.status_code == 400
    assert answer.json()["error"].startswith(wrong)
    assert "\n" not in answer.json()["error"]


@pytest.mark.parametrize(
    ("path", "params", "wrong"),
    [
        ("/api/dead-letters", {"limit": "\u00b2"}, "limit: expected a whole number"),
        ("/api/dead-letters", {"limit": "0"}, "limit: expected a whole number from 1 to 5000"),
        ("/api/dead-letters", {"reason": "late"}, "'reason': unknown parameter"),
        ("/api/dead-letters", {"limit": ["1", "2"]}, "limit: given 2 times"),
        ("/api/health", {"vendor": "1"}, "'vendor': unknown parameter (this route takes no"),
        ("/api/updates", {"vendor": "x" * 65}, "vendor: not a vendor id"),
        ("/api/updates", {"latest": "0"}, "latest: expected a whole number"),
        ("/api/updates", {"latest": "1" * 5000}, "latest: expected a whole number"),
        ("/api/updates", {"since": "soon"}, "since: not an ISO-8601 time"),
        ("/api/updates", {"limits": "5"}, "'limits': unknown parameter"),
    ],
)
def test_every_route_refuses_a_bad_parameter_with_a_400_naming_it(
    client: httpx.Client, path: str, params: dict[str, str | list[str]], wrong: str
) -> None:
    """Every /api route checks each of its query parameters: a 400 whose one line names it."""
    answer = client.get(path, params=params)
    assert answer.status_code == 400
    assert answer.json()["error"].startswith(wrong)
    assert "\n" not in answer.json()["error"]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"vendor": "abc"}, []),  # a vendor id the store has no window of: an empty answer
        ({"vendor": " 2 "}, [("2", 0, 2), ("2", 2, 4)]),  # blanks around, as a record's
        ({"vendor": ""}, [("1", 0, 3), ("1", 1, 5), ("1", 2, 7), ("2", 0, 2), ("2", 2, 4)]),
    ],
)
def test_a_vendor_a_record_could_carry_is_a_filter_not_an_error(
    client: httpx.Client, params: dict[str, str], expected: list[tuple[str, int, int]]
) -> None:
    """Any vendor id a record may carry filters (none found is an empty list); empty: no filter."""
    answer = client.get("/api/windows", params=params)
    assert answer.status_code == 200
    assert trips_by_window(answer.json()["windows"]) == expected


def test_dead_letters_are_the_stores_with_their_bytes(client: httpx.Client) -> None:
    """/api/dead-letters gives the oldest first, with the exact bytes in base64 and as text."""
    answer = client.get("/api/dead-letters", params={"limit": "10"}).json()
    assert [d["reason"] for d in answer] == ["not_json", "bad_vendor", "not_json", "not_utf8"]
    assert [base64.b64decode(d["rawBase64"]) for d in answer] == [d.raw for d in LETTERS]
    assert answer[3]["raw"] == "\ufffd\ufffd<b>"
    assert len(client.get("/api/dead-letters", params={"limit": "2"}).json()) == 2


def test_health_counts_dead_letters_by_reason(client: httpx.Client) -> None:
    """/api/health says how many trips are counted and the dead letters by reason, newest few."""
    health = client.get("/api/health").json()
    assert health["counted"] == 3 + 5 + 7 + 2 + 4
    assert health["deadLetters"] == {
        "total": 4,
        "scanned": 4,
        "byReason": {"not_json": 2, "bad_vendor": 1, "not_utf8": 1},
    }
    assert [d["sequenceNumber"][-1] for d in health["latestDeadLetters"]] == ["4", "3", "2", "1"]
    assert health["source"] == "stores"
    assert health["retries"] is None  # the stores cannot know the retries in flight


def test_health_counts_every_dead_letter_by_reason_beyond_ten_thousand(tmp_path: Path) -> None:
    """With 12,500 dead letters in SQLite, byReason covers all of them, the newest too."""
    path = tmp_path / "store.db"
    SQLiteStore(path, clock=lambda: NOW_MS).close()
    reasons = ["not_json"] * 9_000 + ["bad_vendor"] * 1_500 + ["late"] * 2_000  # late: newest
    with closing(sqlite3.connect(path)) as db, db:
        db.executemany(
            "INSERT INTO dead_letters VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (f"l{n}", "s", "shardId-0", f"{n:056d}", None, n, reason, "m", b"x", n)
                for n, reason in enumerate(reasons)
            ),
        )
    reads = Reads(partial(SQLiteStore, path, read_only=True), keep_open=False)
    with client_of(reads) as http:
        letters = http.get("/api/health").json()["deadLetters"]
    assert letters == {
        "total": 12_500,
        "scanned": 12_500,
        "byReason": {"not_json": 9_000, "late": 2_000, "bad_vendor": 1_500},
    }


@pytest.mark.parametrize("path", ["/api/nope", "/api/", "/api", "/api/windows/2", "/api/a%0Ab"])
def test_an_unknown_api_path_is_a_json_404_with_one_line(client: httpx.Client, path: str) -> None:
    """A path under /api that names no endpoint is a 404 whose JSON error line names the path."""
    answer = client.get(path, follow_redirects=True)
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/json"
    error = answer.json()["error"]
    assert error.startswith("no such endpoint: /api")
    assert "\n" not in error


def test_a_method_an_api_endpoint_does_not_take_is_a_json_405(client: httpx.Client) -> None:
    """POST to a read-only endpoint is a 405 naming the methods it takes, as one JSON line."""
    answer = client.post("/api/health")
    assert answer.status_code == 405
    assert set(answer.headers["allow"].split(", ")) == {"GET", "HEAD"}
    assert answer.json() == {"error": "/api/health takes GET, HEAD, not POST"}


@pytest.mark.parametrize("path", ["/nope", "/static/nope.js", "/apix"])
def test_an_unknown_page_keeps_its_plain_404(client: httpx.Client, path: str) -> None:
    """Outside /api an unknown path stays the plain-text 404 it was."""
    answer = client.get(path)
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/plain")
    assert answer.text == "Not Found"


def test_every_answer_forbids_inline_script(client: httpx.Client) -> None:
    """The page and the API carry a policy under which no injected markup can run script."""
    for path in ("/", "/api/windows", "/static/dashboard.js"):
        policy = client.get(path).headers["content-security-policy"]
        assert "script-src 'self'" in policy
        assert "unsafe-inline" not in policy


def test_the_page_and_its_chart_library_come_from_the_package(client: httpx.Client) -> None:
    """No asset is fetched from elsewhere: the page names only its own paths."""
    for path in ("/", "/static/dashboard.js", "/static/dashboard.css"):
        text = client.get(path).text
        assert "http://" not in text
        assert "https://" not in text
    assert client.get("/static/vendor/uPlot.iife.min.js").status_code == 200
    assert "MIT License" in client.get("/static/vendor/uPlot.LICENSE").text


class FailingStore:
    """A store that is locked whatever is asked."""

    def windows(self, *args: object) -> list[WindowTotals]:
        raise StoreUnavailableError("store query failed, the database is locked:\nbusy")

    dead_letters = counts = watermarks = windows

    def close(self) -> None:
        pass


def test_a_store_that_cannot_be_read_is_a_503_with_one_line() -> None:
    """A locked store is reported as unavailable in one line; the server goes on serving."""
    with client_of(Reads(FailingStore, keep_open=False)) as failing:
        for path in ("/api/windows", "/api/dead-letters", "/api/health"):
            answer = failing.get(path)
            assert answer.status_code == 503
            assert answer.json()["error"] == ("store query failed, the database is locked: busy")


def snapshot(shard: str, **overrides: Any) -> ShardSnapshot:
    """A shard of the runner at position 7; keywords override fields."""
    fields: dict[str, Any] = {
        "shard_id": shard,
        "checkpoint": Checkpoint(position="7"),
        "stats": ShardStats(invocations=3, records=40, iterator_age_ms=1_500),
        "ready": True,
        "reading": True,
        "busy": True,
        "stuck": False,
        "consecutive_failures": 0,
        "retries": None,
        "retry_at_ms": 0,
    }
    return ShardSnapshot(**(fields | overrides))


def test_health_beside_a_pipeline_shows_the_runners_shards(store_path: Path) -> None:
    """Beside a run: each shard's position and iterator age, retries, and stuck shards' errors."""
    feed = LiveFeed()
    failing = ShardStats(failures=4, last_error="StoreError: table is gone")
    feed.publish(
        PipelineSample(
            (
                snapshot("shardId-000000000000"),
                snapshot("shardId-000000000001", stats=failing, stuck=True, retries=2,
                         consecutive_failures=4),
            ),
            produced=120,
            delivered=100,
            discarded=0,
        )
    )  # fmt: skip
    reads = Reads(partial(SQLiteStore, store_path, read_only=True), keep_open=False)
    with client_of(reads, feed) as live:
        health = live.get("/api/health").json()
    assert health["source"] == "pipeline"
    assert health["produced"] == 120
    assert [(s["shard"], s["iteratorAge"]) for s in health["shards"]] == [
        ("shard-0000", "1.5 s"),
        ("shard-0001", "0 ms"),
    ]
    assert health["retries"] == 2
    assert health["stuck"] == [
        {
            "shardId": "shardId-000000000001",
            "shard": "shard-0001",
            "lastError": "StoreError: table is gone",
        }
    ]


def test_rates_are_per_second_over_the_monotonic_clock() -> None:
    """Rates are the counters' growth over the time between samples at least 1 s apart."""
    now = [100.0]
    rates = Rates(lambda: now[0])
    assert rates.update({"in": 0, "out": 0}) == {"in": None, "out": None}
    now[0] = 102.0
    assert rates.update({"in": 500, "out": 300}) == {"in": 250.0, "out": 150.0}
    now[0] = 102.5  # too soon to measure again: the last rates stand
    assert rates.update({"in": 10_000, "out": 300}) == {"in": 250.0, "out": 150.0}
    now[0] = 104.0
    assert rates.update({"in": 10_000, "out": None}) == {"in": 4_750.0, "out": None}


@pytest.mark.parametrize("store_url", ["local", "sqlite:///{path}"])  # sqlite:////tmp/...
def test_a_sqlite_store_is_read_afresh_so_new_windows_show(tmp_path: Path, store_url: str) -> None:
    """Over the data dir's store or sqlite:///PATH, a window written after the start shows."""
    path = tmp_path / "store.db"
    first = SQLiteStore(path, clock=lambda: NOW_MS)
    first.apply(CONTRIBUTIONS[:1])
    first.close()  # no write-ahead log left: a reader that kept it open would never see more
    settings = Settings(tmp_path, store_url=store_url.format(path=path))
    with client_of(store_reads(settings)) as http:
        assert len(http.get("/api/windows").json()["windows"]) == 1
        later = SQLiteStore(path, clock=lambda: NOW_MS)
        later.apply(CONTRIBUTIONS[1:])
        later.close()
        assert len(http.get("/api/windows").json()["windows"]) == len(CONTRIBUTIONS)


@pytest.mark.parametrize(("lateness_s", "final_minutes"), [(0, {0}), (40, set())])
def test_an_event_time_window_is_final_once_the_watermark_passes_it(
    tmp_path: Path, lateness_s: int, final_minutes: set[int]
) -> None:
    """final per window as query decides it: the stream's watermark past end plus lateness."""
    path = tmp_path / "store.db"
    store = SQLiteStore(path, clock=lambda: NOW_MS)
    event = [dataclasses.replace(c, clock="event") for c in CONTRIBUTIONS]
    mark = Watermark("s", "shardId-000000000000", T0_MS + 90_000, "1", None, NOW_MS)
    store.apply(event, watermark=mark)  # 90 s: past minute 0's end (60 s), not minute 1's
    store.close()
    reads = Reads(partial(SQLiteStore, path, read_only=True), keep_open=False)
    with client_of(reads, lateness=Lateness(lateness_s, 300)) as http:
        rows = http.get("/api/windows").json()["windows"]
    shown = {((r["windowStartMs"] - T0_MS) // MINUTE_MS, r["final"]) for r in rows}
    assert shown == {(minute, minute in final_minutes) for minute in (0, 1, 2)}
