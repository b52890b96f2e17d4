"""The runner's record view: the same AWS records, and the same verdicts, without base64."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from taxi_stream.core.records import StreamRecord
from taxi_stream.core.timefmt import iso_utc
from taxi_stream.function import handler as handler_module
from taxi_stream.function.contract import KinesisEvent, KinesisRecords
from taxi_stream.function.handler import HandlerConfig, TumblingWindowHandler
from taxi_stream.runner.events import kinesis_records, record_view, stream_arn
from taxi_stream.runner.mapping import InProcess
from taxi_stream.stores.memory import MemoryStore
from tests.support import hostile
from tests.support.harness import START_MS, Harness

SHARD = "shardId-000000000000"
ARN = stream_arn("input-stream")
WINDOW = {"start": iso_utc(START_MS), "end": iso_utc(START_MS + 60_000)}


def stream_records(count: int, seed: int = 3) -> list[StreamRecord]:
    """Hostile and good payloads (KPL aggregates among them) as the embedded stream holds them."""
    rng = random.Random(seed)
    makers = [hostile.deep, hostile.numbers, hostile.long_strings, hostile.many_keys,
              hostile.duplicate_keys, hostile.types, hostile.control, hostile.bad_utf8,
              hostile.truncated, hostile.boms, hostile.garbage, hostile.stamps,
              hostile.kpl_corrupt]  # fmt: skip
    records = []
    for n in range(count):
        if n % 3 == 0:
            data = json.dumps(hostile.good_trip(rng, n)).encode()
        else:
            item = rng.choice(makers)(rng, n)
            assert item.data is not None
            data = item.data
        records.append(StreamRecord(str(1_000 + n), START_MS + n, f"k{n}", data))
    return records


def outcome(records: Any, clock: str) -> tuple[Any, ...]:
    """Response, windows and dead letters (every field) of one final invoke over ``records``."""
    store = MemoryStore(clock=lambda: START_MS)
    handler = TumblingWindowHandler(store, HandlerConfig(clock=clock, window_seconds=60))
    event: KinesisEvent = {"Records": records, "window": WINDOW, "state": {}, "shardId": SHARD,
                           "eventSourceARN": ARN, "isFinalInvokeForWindow": False,
                           "isWindowTerminatedEarly": False}  # fmt: skip
    response = handler(event)
    closed = handler({**event, "Records": [], "state": response["state"],
                      "isFinalInvokeForWindow": True})  # fmt: skip
    letters = sorted(
        (d.letter_id, d.reason, d.message, d.raw, d.origin) for d in store.dead_letters()
    )
    return response, closed, store.windows(), letters


def test_the_view_holds_exactly_the_records_of_the_plain_list() -> None:
    """Read one by one, by index, by slice or backwards, the view gives the list's records."""
    records = stream_records(40)
    plain = kinesis_records(records, SHARD, ARN)
    view = record_view(records, SHARD, ARN)
    assert isinstance(view, KinesisRecords)
    assert not isinstance(view, list)
    assert len(view) == len(plain) == 40
    assert list(view) == plain
    assert [view[i] for i in range(40)] == plain
    assert view[5:9] == plain[5:9]
    assert view[-1] == plain[-1]
    assert list(reversed(view)) == plain[::-1]
    assert view.stream_records is records


@pytest.mark.parametrize("clock", ["arrival", "event"])
def test_the_handler_reads_a_view_as_it_reads_the_list(clock: str) -> None:
    """Over hostile records and KPL aggregates, same state, totals and dead letters, field by
    field (each letter names its own record), whether the records come as a view or a list."""
    records = stream_records(600)
    plain = outcome(kinesis_records(records, SHARD, ARN), clock)
    viewed = outcome(record_view(records, SHARD, ARN), clock)
    assert viewed == plain
    response, _, windows, letters = plain
    assert windows
    assert len(letters) > 300
    assert response["state"]


def test_a_view_skips_the_base64_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a view the handler never decodes base64: the trips count with the decoder broken."""

    def broken(text: Any) -> bytes:
        raise ValueError("base64 decoded")

    monkeypatch.setattr(handler_module, "_strict_b64decode", broken)
    rng = random.Random(1)
    data = [json.dumps(hostile.good_trip(rng, n)).encode() for n in range(5)]
    records = [StreamRecord(str(n + 1), START_MS, "k", d) for n, d in enumerate(data)]
    _, _, windows, letters = outcome(record_view(records, SHARD, ARN), "arrival")
    assert letters == []
    assert sum(w.totals.trip_count for w in windows) == 5
    _, _, _, list_letters = outcome(kinesis_records(records, SHARD, ARN), "arrival")
    assert [reason for _, reason, *_ in list_letters] == ["not_base64"] * 5


def test_only_an_in_process_handler_that_asks_for_it_gets_a_view(tmp_path: Path) -> None:
    """Any other handler gets a plain JSON-ready list; an InProcess one with record_view a view
    of the same records."""
    harness = Harness(tmp_path)
    harness.put(3)
    seen: dict[str, Any] = {}

    def plain(event: KinesisEvent, context: object) -> dict[str, Any]:
        if event["Records"]:  # not the final invoke
            seen["plain"] = event["Records"]
        return {"state": {}}

    def viewed(event: KinesisEvent, context: object) -> dict[str, Any]:
        if event["Records"]:
            seen["view"] = event["Records"]
        return {"state": {}}

    for handler in (plain, InProcess(lambda work: viewed, record_view=True)):
        harness.settle(harness.mapping(handler, consumer=f"c{len(seen)}", window_seconds=60))
    harness.close()
    assert type(seen["plain"]) is list
    assert json.loads(json.dumps(seen["plain"])) == seen["plain"]
    assert isinstance(seen["view"], KinesisRecords)
    assert len(seen["plain"]) == 3
    assert list(seen["view"]) == seen["plain"]
