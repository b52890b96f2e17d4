"""The batch path's memos, vendor split and KPL check against the record-by-record path."""

from __future__ import annotations

import json
import random

import pytest

from taxi_stream.core.records import StreamRecord
from taxi_stream.core.timefmt import iso_utc
from taxi_stream.function import columns
from taxi_stream.function.handler import HandlerConfig
from taxi_stream.runner.events import kinesis_records, record_view
from taxi_stream.streams import kpl
from tests.unit.test_batch_path import ARN, CONFIGS, SHARD, START_MS, clean_event, outcome, split

DROPOFF_TEXTS = [
    *(iso_utc(START_MS + 600_000 + 7_000 * k) for k in range(12)),
    " 2024-11-25T08:20:00+00:00",  # blanks around it are allowed
    "2024-11-25T08:21:00\t",
    "2024-11-25T03:22:00",  # naive
    "2024-11-25 08:23:00+01:00",
]
BAD_DROPOFFS = ["2024-13-25T08:00:00Z", "yesterday", "2024-11-25T08:00:00+25:00", "25/11/2024"]


def repeated_dropoffs(count: int, seed: int) -> list[StreamRecord]:
    """Clean trips whose dropoff texts come from a small pool, so each text (a bad one too)
    comes back in later chunks and later invocations."""
    rng = random.Random(seed)
    out = []
    for record in clean_event(count, seed=seed):
        trip = json.loads(record.data)
        trip["dropoffDate"] = rng.choice(DROPOFF_TEXTS if rng.random() < 0.97 else BAD_DROPOFFS)
        out.append(record._replace(data=json.dumps(trip).encode()))
    return out


@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("form", ["plain", "view"])
def test_dropoff_texts_seen_again_get_the_same_verdict(config: str, form: str) -> None:
    """Dropoff texts that repeat across chunks and invocations of one handler, bad ones among
    them: the same dead letters and totals as record by record."""
    records = repeated_dropoffs(1300, seed=3)
    build = kinesis_records if form == "plain" else record_view
    parts = [build(part, SHARD, ARN) for part in split(records, 3)]
    fast = outcome(False, CONFIGS[config], parts, window=True)
    assert fast == outcome(True, CONFIGS[config], parts, window=True)
    dead = [letter for call in fast[1] if call[0] == "dead" for letter in call[1]]
    assert len(dead) > 20


def test_the_dropoff_memo_keeps_the_texts_the_core_takes_and_no_other() -> None:
    """After one chunk the memo holds every ISO-8601 dropoff text met (not the bad ones), and
    the same chunk read again with it gives the same records to the core rules."""
    payloads = [record.data for record in repeated_dropoffs(256, seed=4)]
    checked: set[str] = set()
    tz = HandlerConfig().tz()
    first = columns.decode_batch(payloads, tz, {}, dropoff=False, checked=checked)
    met = {json.loads(data)["dropoffDate"] for data in payloads}
    assert checked == met & set(DROPOFF_TEXTS)
    assert met & set(BAD_DROPOFFS)
    again = columns.decode_batch(payloads, tz, {}, dropoff=False, checked=checked)
    assert (
        again[1]
        == first[1]
        == sorted(
            k for k, data in enumerate(payloads) if json.loads(data)["dropoffDate"] in BAD_DROPOFFS
        )
    )


@pytest.mark.parametrize(
    "vendor_ids",
    [[7], [0, 255], [1, 2, 6, 7], list(range(0, 256, 17)), [256, 1], [-1, 3], [2**40, 5, 5]],
)
@pytest.mark.parametrize("config", ["arrival", "event"])
def test_any_vendor_ids_split_as_record_by_record(config: str, vendor_ids: list[int]) -> None:
    """Vendor ids of one byte (the edges 0 and 255, one id, many ids) and beyond it (256,
    negative, huge), mixed in a window's invocations: the same totals per vendor either way."""
    rng = random.Random(len(vendor_ids))
    records = []
    for record in clean_event(900, seed=7):
        trip = {**json.loads(record.data), "vendorId": rng.choice(vendor_ids)}
        records.append(record._replace(data=json.dumps(trip).encode()))
    parts = [kinesis_records(records[:600], SHARD, ARN), record_view(records[600:], SHARD, ARN)]
    fast = outcome(False, CONFIGS[config], parts, window=True)
    assert fast == outcome(True, CONFIGS[config], parts, window=True)
    assert {int(w.vendor_id) for w in fast[2]} == set(vendor_ids)


@pytest.mark.parametrize("odd", ["aggregate", "f3 byte", "empty"])
@pytest.mark.parametrize("form", ["plain", "view"])
def test_a_kpl_aggregate_or_its_first_byte_alone_among_clean_trips_matches(
    form: str, odd: str
) -> None:
    """Clean trips with one KPL aggregate, or one payload whose first byte alone is the KPL
    magic's, or one empty payload (and an aggregate after it): the same outcome as record by
    record."""
    records = clean_event(400)
    inner = [(f"m{k}", records[k].data) for k in range(3)]
    data = {
        "aggregate": kpl.aggregate(inner),
        "f3 byte": b"\xf3" + records[5].data,
        "empty": b"",
    }[odd]
    records[200] = records[200]._replace(data=data)
    if odd == "empty":
        records[300] = records[300]._replace(data=kpl.aggregate(inner))
    build = kinesis_records if form == "plain" else record_view
    fast = outcome(False, CONFIGS["arrival"], [build(records, SHARD, ARN)], window=True)
    assert fast == outcome(True, CONFIGS["arrival"], [build(records, SHARD, ARN)], window=True)
    expected_trips = 400 - (odd != "aggregate") + 2 * (odd != "f3 byte")
    assert sum(w.totals.trip_count for w in fast[2]) == expected_trips
