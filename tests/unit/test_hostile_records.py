"""No record stalls a shard: over 10,000 hostile records through the real handler, none raises."""

from __future__ import annotations

import base64
import itertools
import json
import random
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taxi_stream.core.timefmt import iso_utc
from taxi_stream.function.handler import HandlerConfig, TumblingWindowHandler
from taxi_stream.stores.memory import MemoryStore
from tests.conftest import reference_totals
from tests.support import hostile
from tests.support.hostile import COUNTED, Hostile

SEED = 7
HOSTILE_UNITS = 10_500  # records and user records that are not good trips
GOOD_SHARE = 0.12
WINDOW_RECORDS = 1_500
BATCH = 500
WINDOW_MS = 1_730_448_000_000  # 2024-11-01T08:00:00Z
SHARD = "shardId-000000000000"
STREAM = "input-stream"
ARN = f"arn:aws:kinesis:us-east-1:123456789012:stream/{STREAM}"
FIRST_SEQUENCE = 49_657_400_912_457_890_412_331_000_000_000_000_000_000_000_000
DOCS = Path(__file__).parents[2] / "docs" / "records.md"


def generate(seed: int) -> list[Hostile]:
    """The issue's two records first, then hostile records of every kind with good trips among
    them, until the hostile units reach HOSTILE_UNITS."""
    rng = random.Random(seed)
    counter = itertools.count()

    def make() -> Hostile:
        return rng.choice(hostile.KINDS)(rng, next(counter))

    items = [
        Hostile("issue", hostile.DEEP_ARRAYS, expect=["too_deep"]),
        Hostile("issue", hostile.DEEP_OBJECTS, expect=["too_deep"]),
    ]
    units = 2
    while units < HOSTILE_UNITS:
        pick, n = rng.random(), next(counter)
        if pick < GOOD_SHARE:
            trip = hostile.good_trip(rng, n)
            items.append(Hostile("good", json.dumps(trip).encode(), expect=[COUNTED], trips=[trip]))
        elif pick < GOOD_SHARE + 0.05:
            items.append(hostile.kpl_members(rng, n, make))
        elif pick < GOOD_SHARE + 0.08:
            items.append(hostile.foreign(rng, n))
        elif pick < GOOD_SHARE + 0.10:
            items.append(hostile.not_base64(rng, n))
        elif pick < GOOD_SHARE + 0.12:
            items.append(hostile.odd_arrival(rng, n, make))
        else:
            items.append(make())
        units += sum(want != COUNTED for want in items[-1].expect)
    return items


def event_record(item: Hostile, index: int) -> tuple[dict[str, Any] | Any, str]:
    """The event record of an item, in the shape Lambda sends, and its dead-letter id prefix."""
    if item.record is not None:
        event_id = item.record.get("eventID") if isinstance(item.record, dict) else None
        return item.record, f"{STREAM}|{SHARD}|{event_id}" if isinstance(event_id, str) else ""
    sequence = str(FIRST_SEQUENCE + index)
    data = item.sent_data[0] if item.sent_data else base64.b64encode(item.data or b"").decode()
    arrival = item.arrival[0] if item.arrival else WINDOW_MS / 1000 + 1.5
    record = {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": f"p{index}",
            "sequenceNumber": sequence,
            "data": data,
            "approximateArrivalTimestamp": arrival,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{SHARD}:{sequence}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": "arn:aws:iam::123456789012:role/taxi-stream-function",
        "awsRegion": "us-east-1",
        "eventSourceARN": ARN,
    }
    return record, f"{STREAM}|{SHARD}|{sequence}"


def events(records: list[Any]) -> Iterator[dict[str, Any]]:
    """Windows of WINDOW_RECORDS records, in batches of BATCH; the state is filled in by run()."""
    for window, start in enumerate(range(0, len(records), WINDOW_RECORDS)):
        begin = WINDOW_MS + window * 60_000
        frame = {"start": iso_utc(begin), "end": iso_utc(begin + 60_000)}
        part = records[start : start + WINDOW_RECORDS]
        for at in range(0, len(part), BATCH):
            yield _event(part[at : at + BATCH], frame, final=False)
        yield _event([], frame, final=True)


def _event(records: list[Any], window: dict[str, str], *, final: bool) -> dict[str, Any]:
    return {"Records": records, "window": window, "state": None, "shardId": SHARD,
            "eventSourceARN": ARN, "isFinalInvokeForWindow": final,
            "isWindowTerminatedEarly": False}  # fmt: skip


def run(handler: TumblingWindowHandler, records: list[Any]) -> int:
    """Every event through the handler, carrying the state; returns the invocations made."""
    state: Any = None
    calls = 0
    for event in events(records):
        response = handler({**event, "state": state})
        calls += 1
        assert set(response) == {"state", "batchItemFailures"}
        assert response["batchItemFailures"] == []
        state = response["state"]
    return calls


def documented_reasons() -> set[str]:
    """The reason codes in the table of docs/records.md."""
    table = DOCS.read_text().split("| reason | the record |", 1)[1]
    return {code for row in re.findall(r"^\| ([^|]+)\|", table, re.M) for code in
            re.findall(r"`([a-z_0-9]+)`", row)}  # fmt: skip


def good_totals(store: MemoryStore) -> dict[str, tuple[int, ...]]:
    """Stored totals of the good vendors, summed over windows (money in cents included)."""
    out: dict[str, list[int]] = {}
    for w in store.windows():
        if w.vendor_id in {str(v) for v in hostile.GOOD_VENDORS}:
            cell = out.setdefault(w.vendor_id, [0] * 7)
            for i, value in enumerate(w.totals.as_list()[:7]):  # late trips left out
                cell[i] += value
    return {vendor: tuple(c) for vendor, c in out.items()}


@pytest.fixture(scope="module")
def corpus() -> tuple[list[Hostile], list[Any], dict[str, str | None]]:
    """The generated items, their event records, and the expected outcome per dead-letter id."""
    items = generate(SEED)
    records, expected = [], {}
    for index, item in enumerate(items):
        record, letter = event_record(item, index)
        records.append(record)
        for sub, want in enumerate(item.expect):
            if letter and want is not None:
                whole = len(item.expect) == 1 and not item.kind.startswith("kpl-members")
                expected[letter if whole else f"{letter}#{sub}"] = want
    return items, records, expected


@pytest.mark.parametrize("clock", ["arrival", "event"])
def test_every_hostile_record_ends_as_a_trip_or_a_dead_letter(
    corpus: tuple[list[Hostile], list[Any], dict[str, str | None]], clock: str
) -> None:
    """Over 10,000 hostile records (and the issue's two) among good trips: no invocation raises or
    fails, every unit is one counted trip or one dead letter with a documented reason, the good
    trips' totals are exact, and the codec's own rules (not the last-resort guard) decide."""
    items, records, expected = corpus
    units = sum(len(item.expect) for item in items)
    assert sum(want != COUNTED for item in items for want in item.expect) >= 10_000
    store = MemoryStore()
    run(TumblingWindowHandler(store, HandlerConfig(clock=clock, window_seconds=60)), records)
    counted, dead = store.counts()
    assert counted + dead == units
    letters = {letter.letter_id: letter for letter in store.dead_letters()}
    for letter_id, want in expected.items():
        if want == COUNTED:
            assert letter_id not in letters, letters[letter_id].message
        else:
            assert letters[letter_id].reason == want, (letter_id, letters[letter_id].message)
    trips = [trip for item in items for trip in item.trips]
    assert good_totals(store) == reference_totals(trips)
    reasons = {letter.reason for letter in letters.values()}
    assert reasons <= documented_reasons()
    assert "undecodable" not in reasons
    assert reasons >= {"too_deep", "too_large", "not_utf8", "not_json", "not_object",
                       "bad_kpl_aggregate", "not_kinesis_record", "not_base64", "bad_timestamp",
                       "bad_number", "bad_vendor", "missing_field"}  # fmt: skip
    assert all(letter.message for letter in letters.values())


def test_the_issue_records_are_too_deep_with_a_message_that_says_so(
    corpus: tuple[list[Hostile], list[Any], dict[str, str | None]],
) -> None:
    """'['*2000 + ']'*2000 and a 1,000-deep {"a":...}: dead letters too_deep, naming the depth."""
    _, records, _ = corpus
    store = MemoryStore()
    handler = TumblingWindowHandler(store)
    window = {"start": iso_utc(WINDOW_MS), "end": iso_utc(WINDOW_MS + 60_000)}
    response = handler(_event(records[:2], window, final=False))
    assert response["batchItemFailures"] == []
    messages = sorted(letter.message for letter in store.dead_letters())
    assert [letter.reason for letter in store.dead_letters()] == ["too_deep", "too_deep"]
    assert messages == [
        "arrays and objects nested 1000 deep, over 64 levels",
        "arrays and objects nested 2000 deep, over 64 levels",
    ]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(hostile.FIELDS), json_values, st.binary(max_size=64))
def test_any_json_value_in_any_field_or_any_bytes_end_as_one_outcome(
    name: str, value: Any, junk: bytes
) -> None:
    """Any JSON value at any field, and any bytes: one counted trip or one dead letter each."""
    trip = {**hostile.base(0), name: value}
    payloads = [json.dumps(trip).encode(), junk, json.dumps(value).encode()]
    items = [Hostile("prop", data) for data in payloads]
    store = MemoryStore()
    run(TumblingWindowHandler(store), [event_record(item, i)[0] for i, item in enumerate(items)])
    counted, dead = store.counts()
    assert counted + dead == len(payloads)
