"""A dead letter of a mebibyte: health and its events carry a bounded preview, the API all of it."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import httpx
import pytest
from tests.integration.test_dashboard_api import client_of, letter

from taxi_stream.core.records import DeadLetter
from taxi_stream.stores.sqlite import SQLiteStore
from taxi_stream.views.dashboard.data import Reads

MIB = 1 << 20
PREVIEW = 4096  # bytes of each latest letter in health, as docs/dashboard.md says
# 4,095 ASCII bytes, then "é" (2 bytes) split by the 4,096-byte cut, then an invalid byte.
BIG = b"<b>" + b"a" * 4092 + "é".encode() + b"\xff" * (MIB - 4097)
SMALL = b"{oops"
BOUND = 64 * 1024  # five previews of 4 KiB and their base64, with room: far below one MiB


@pytest.fixture
def client(tmp_path: Path) -> Iterator[httpx.Client]:
    """The dashboard over a store holding a small dead letter, then one of a mebibyte."""
    path = tmp_path / "store.db"
    store = SQLiteStore(path)
    store.put_dead_letters([letter(1, raw=SMALL), letter(2, raw=BIG)])
    store.close()
    with client_of(Reads(partial(SQLiteStore, path, read_only=True), keep_open=False)) as c:
        yield c


LONG_MESSAGE = "vendorId must be a number or a string: " + repr(list(range(100_000)))


@pytest.fixture
def quoting(tmp_path: Path) -> Iterator[httpx.Client]:
    """The dashboard over a store holding a letter whose message quotes a 689 kB field."""
    path = tmp_path / "store.db"
    store = SQLiteStore(path)
    origin = letter(1).origin
    store.put_dead_letters([DeadLetter(origin, "bad_vendor", LONG_MESSAGE, SMALL)])
    store.close()
    with client_of(Reads(partial(SQLiteStore, path, read_only=True), keep_open=False)) as c:
        yield c


def test_health_carries_a_preview_of_a_big_dead_letter(client: httpx.Client) -> None:
    """/api/health stays small: the big letter's first 4 KiB, its length and a cut flag."""
    answer = client.get("/api/health")
    assert len(answer.content) < BOUND
    big, small = answer.json()["latestDeadLetters"]
    assert base64.b64decode(big["rawBase64"]) == BIG[:PREVIEW]
    assert big["raw"] == "<b>" + "a" * 4092  # the split "é" left out, not replaced
    assert (big["rawBytes"], big["rawTruncated"], big["size"]) == (MIB, True, "1.0 MB")
    assert base64.b64decode(small["rawBase64"]) == SMALL
    assert (small["raw"], small["rawBytes"], small["rawTruncated"]) == ("{oops", 5, False)


def test_the_first_update_event_is_bounded_too(client: httpx.Client) -> None:
    """The first event of /api/updates carries the same preview, not the mebibyte."""
    with client.stream("GET", "/api/updates") as events:
        data = next(line for line in events.iter_lines() if line.startswith("data:"))
    assert len(data) < BOUND
    health = json.loads(data.removeprefix("data:"))["health"]
    assert [d["rawTruncated"] for d in health["latestDeadLetters"]] == [True, False]


def test_the_dead_letters_api_still_gives_every_byte(client: httpx.Client) -> None:
    """/api/dead-letters is where the whole letter is: exact bytes, nothing cut."""
    answer = client.get("/api/dead-letters").json()
    assert [base64.b64decode(d["rawBase64"]) for d in answer] == [SMALL, BIG]
    assert [(d["rawBytes"], d["rawTruncated"]) for d in answer] == [(5, False), (MIB, False)]
    assert answer[1]["raw"] == BIG.decode("utf-8", "replace")


def test_a_message_quoting_a_huge_field_is_cut_in_health_only(quoting: httpx.Client) -> None:
    """Health keeps the message's first 4,096 characters and says so; the API keeps it all."""
    answer = quoting.get("/api/health")
    assert len(answer.content) < BOUND
    (shown,) = answer.json()["latestDeadLetters"]
    assert (shown["message"], shown["messageTruncated"]) == (LONG_MESSAGE[:PREVIEW], True)
    (whole,) = quoting.get("/api/dead-letters").json()
    assert (whole["message"], whole["messageTruncated"]) == (LONG_MESSAGE, False)
