"""The timestamp cache is a handler's own: no process-wide state in the codec."""

from __future__ import annotations

import json
from datetime import UTC, tzinfo
from zoneinfo import ZoneInfo

import pytest

from taxi_stream.core.records import StreamRecord
from taxi_stream.core.timefmt import parse_iso_ms
from taxi_stream.function import codec
from taxi_stream.function.handler import HandlerConfig, TumblingWindowHandler
from taxi_stream.runner.events import kinesis_records, stream_arn
from taxi_stream.stores.memory import MemoryStore

NAIVE_PICKUP = "2024-11-25T08:00:00"  # no offset: read in the handler's naive zone
TRIP = {"vendorId": 1, "pickupDate": NAIVE_PICKUP, "googleDistance": 1.5, "tripDuration": 60,
        "passengerCount": 2}  # fmt: skip


def one_window(handler: TumblingWindowHandler) -> None:
    """Two records with the same pickup text, in one invocation without windows."""
    data = json.dumps(TRIP).encode()
    records = [StreamRecord(str(n), 1_732_521_600_000, "k", data) for n in (1, 2)]
    handler({"Records": kinesis_records(records, "shardId-0", stream_arn("s"))})


def test_each_handler_reads_a_timestamp_text_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    """Handlers in UTC, New York and UTC again each parse the pickup text once: none shares."""
    parsed: list[tzinfo] = []
    real = codec.timestamp_ms

    def counting(text: str, name: str, naive_tz: tzinfo) -> int:
        parsed.append(naive_tz)
        return real(text, name, naive_tz)

    monkeypatch.setattr(codec, "timestamp_ms", counting)
    zones = ["UTC", "America/New_York", "UTC"]
    stores = [MemoryStore() for _ in zones]
    for store, zone in zip(stores, zones, strict=True):
        config = HandlerConfig(clock="event", window_seconds=60, naive_timezone=zone)
        one_window(TumblingWindowHandler(store, config))
    assert parsed == [UTC, ZoneInfo("America/New_York"), UTC]
    starts = [{w.window_start_ms for w in store.windows()} for store in stores]
    utc, eastern = parse_iso_ms("2024-11-25T08:00:00Z"), parse_iso_ms("2024-11-25T13:00:00Z")
    assert starts == [{utc}, {eastern}, {utc}]  # 08:00 in New York (EST) is 13:00 UTC


def test_decoding_without_a_cache_leaves_nothing_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    """decode_values without ``stamps`` parses every time: nothing is remembered between calls."""
    calls: list[str] = []
    real = codec.timestamp_ms

    def counting(text: str, name: str, naive_tz: tzinfo) -> int:
        calls.append(text)
        return real(text, name, naive_tz)

    monkeypatch.setattr(codec, "timestamp_ms", counting)
    data = json.dumps(TRIP).encode()
    assert codec.decode_values(data) == codec.decode_values(data)
    assert calls == [NAIVE_PICKUP, NAIVE_PICKUP]
