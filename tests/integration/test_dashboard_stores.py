"""The dashboard's API answers what the store holds, on SQLite and on DynamoDB (dynalite)."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from tests.servers.node import dynalite_server

from taxi_stream.app.wiring import Settings, existing_store, open_store
from taxi_stream.core.records import Contribution, DeadLetter, Origin
from taxi_stream.core.totals import Totals
from taxi_stream.stores.dynamodb import create_table
from taxi_stream.views.dashboard import Reads, start_dashboard

MINUTE_MS = 60_000
T0_MS = 1_730_448_000_000  # 2024-11-01T08:00:00Z
_tables = itertools.count()

# (vendor, minute after T0, shard, trips): two shards contribute to some windows.
PARTS = [
    ("1", 0, 0, 3), ("1", 0, 1, 2), ("1", 1, 0, 5), ("1", 3, 1, 1),
    ("2", 0, 0, 4), ("2", 2, 0, 6), ("2", 2, 1, 1), ("CMT", 1, 0, 9),
]  # fmt: skip


def contribution(vendor: str, minute: int, shard: int, trips: int) -> Contribution:
    """A shard's part of a minute window: each trip 2.25 mi, 420 s, 1 passenger."""
    start = T0_MS + minute * MINUTE_MS
    totals = Totals(trips, 2_250 * trips, 420 * trips, trips)
    part = f"s|shardId-00000000000{shard}|{start}|{vendor}"
    return Contribution(part, vendor, start, start + MINUTE_MS, totals, "arrival")


LETTERS = [
    DeadLetter(
        Origin("s", "shardId-000000000000", f"{n:056d}", None, T0_MS + n), reason, "bad", raw
    )
    for n, reason, raw in [(1, "not_json", b"{"), (2, "bad_vendor", b'{"vendorId":[]}')]
]


def expected(vendor: str | None, since: int | None, until: int | None) -> list[tuple[Any, ...]]:
    """(vendor, start, trips, miles, seconds, passengers) per window, summed here from PARTS."""
    sums: dict[tuple[str, int], int] = defaultdict(int)
    for v, minute, _, trips in PARTS:
        if vendor not in (None, v) or (since is not None and minute < since):
            continue
        if until is not None and minute >= until:
            continue
        sums[v, T0_MS + minute * MINUTE_MS] += trips
    return [
        (v, start, n, 2.25 * n, 420 * n, n)
        for (v, start), n in sorted(sums.items())  # vendor, then start: query's order
    ]


@pytest.fixture(scope="module")
def dynalite_url(aws_credentials: dict[str, str]) -> Iterator[str]:
    """dynalite on 127.0.0.1, once for this module."""
    with dynalite_server() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("dynamodb", marks=pytest.mark.aws)])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Where a store holding PARTS and LETTERS lives: the data dir's SQLite, or a table."""
    if request.param == "sqlite":
        found = Settings(tmp_path / "data")
    else:
        url = request.getfixturevalue("dynalite_url")
        table = f"dashboard-{next(_tables)}"
        client = boto3.client("dynamodb", endpoint_url=url, region_name="us-east-1")
        create_table(client, table)
        client.close()
        found = Settings(tmp_path / "data", store_url=f"dynamodb://{table}", endpoint_url=url)
    store = open_store(found)
    store.apply([contribution(*part) for part in PARTS])
    store.put_dead_letters(LETTERS)
    store.close()
    return found


@pytest.fixture
def http(settings: Settings) -> Iterator[httpx.Client]:
    """The dashboard over the store as the CLI reads it, on a free port of 127.0.0.1."""
    reads = Reads(partial(existing_store, settings), keep_open=settings.store_url != "local")
    server = start_dashboard(reads, port=0)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            yield client
    finally:
        server.stop()
        reads.close()


def iso(minute: int) -> str:
    """``minute`` minutes after T0, ISO-8601."""
    return f"2024-11-01T08:{minute:02d}:00Z"


@pytest.mark.parametrize(
    ("vendor", "since", "until"),
    [(None, None, None), ("1", None, None), (None, 1, None), (None, None, 2), ("2", 1, 3)],
)
def test_windows_equal_the_stores_for_the_same_filters(
    http: httpx.Client,
    settings: Settings,
    vendor: str | None,
    since: int | None,
    until: int | None,
) -> None:
    """/api/windows gives each window the store gives for query's filters, summed right."""
    params = {"vendor": vendor, "since": since, "until": until}
    query = {k: iso(v) if isinstance(v, int) else v for k, v in params.items() if v is not None}
    rows = http.get("/api/windows", params=query).json()["windows"]
    shown = [
        (r["vendorId"], r["windowStartMs"], r["tripCount"], r["totalDistanceMiles"],
         r["totalDurationSeconds"], r["passengerCount"])
        for r in rows
    ]  # fmt: skip
    assert shown == expected(vendor, since, until)
    store = existing_store(settings)
    try:
        held = store.windows(
            vendor,
            None if since is None else T0_MS + since * MINUTE_MS,
            None if until is None else T0_MS + until * MINUTE_MS,
        )
    finally:
        store.close()
    assert [(w.vendor_id, w.window_start_ms, w.totals.trip_count) for w in held] == [
        row[:3] for row in shown
    ]
    assert [w.contributions for w in held] == [r["contributions"] for r in rows]


def test_dead_letters_and_health_equal_the_stores(http: httpx.Client) -> None:
    """The dead letters and the counted trips are the store's."""
    letters = http.get("/api/dead-letters").json()
    assert [(d["reason"], d["raw"]) for d in letters] == [
        ("not_json", "{"),
        ("bad_vendor", '{"vendorId":[]}'),
    ]
    health = http.get("/api/health").json()
    assert health["counted"] == sum(part[3] for part in PARTS)
    assert health["deadLetters"]["byReason"] == {"bad_vendor": 1, "not_json": 1}


def test_latest_dead_letters_are_the_newest_beyond_ten_thousand(tmp_path: Path) -> None:
    """/api/health's latest dead letters are the store's newest five, however many it holds."""
    settings = Settings(tmp_path / "data")
    store = open_store(settings)
    many = [
        DeadLetter(Origin("s", "shardId-000000000000", f"{n:056d}", None, T0_MS + n), "x", "", b"")
        for n in range(1, 10_008)
    ]
    store.put_dead_letters(many)
    store.close()
    reads = Reads(partial(existing_store, settings), keep_open=False)
    server = start_dashboard(reads, port=0)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            latest = client.get("/api/health").json()["latestDeadLetters"]
    finally:
        server.stop()
        reads.close()
    assert [int(d["sequenceNumber"]) for d in latest] == [10_007, 10_006, 10_005, 10_004, 10_003]
