"""The tumbling-window handler on real event shapes, with an in-memory store."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import pytest

from taxi_stream.core.errors import ConfigError, HandlerContractError, Reason
from taxi_stream.core.timefmt import parse_iso_ms
from taxi_stream.function.handler import HandlerConfig, TumblingWindowHandler
from taxi_stream.stores.memory import MemoryStore
from tests.conftest import event_trips, reference_totals


def totals_by_vendor(store: MemoryStore) -> dict[str, tuple[int, ...]]:
    """Stored totals summed per vendor, as plain tuples (counts, distance, duration, passengers,
    cents of fare, tip and total amount)."""
    out: dict[str, tuple[int, ...]] = {}
    for w in store.windows():
        old = out.get(w.vendor_id, (0,) * 7)
        sums = w.totals.as_list()[:7]  # late trips: the event clock's (unit/test_event_time.py)
        out[w.vendor_id] = tuple(a + b for a, b in zip(old, sums, strict=True))
    return out


def final_of(event: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    """The final invoke that follows ``event`` in the same window."""
    return {**event, "Records": [], "state": state, "isFinalInvokeForWindow": True}


def test_window_batch_then_final_invoke_writes_totals(load_event: Any) -> None:
    """Records are aggregated into state; the final invoke writes exactly their totals."""
    store = MemoryStore()
    handler = TumblingWindowHandler(store)
    event = load_event("taxi_window_batch.json")
    response = handler(event)
    assert response["batchItemFailures"] == []
    assert store.windows() == []  # nothing is written before the window closes
    final = handler(final_of(event, response["state"]))
    assert final == {"state": {}, "batchItemFailures": []}
    assert totals_by_vendor(store) == reference_totals(event_trips(event))
    start = parse_iso_ms(event["window"]["start"])
    assert {w.window_start_ms for w in store.windows()} == {start}
    assert {w.window_end_ms for w in store.windows()} == {parse_iso_ms(event["window"]["end"])}


def test_state_round_trips_through_json(load_event: Any) -> None:
    """The returned state is plain JSON, as Lambda carries it between invocations."""
    response = TumblingWindowHandler(MemoryStore())(load_event("taxi_window_batch.json"))
    assert json.loads(json.dumps(response["state"])) == response["state"]


def test_final_invoke_delivered_twice_writes_once(load_event: Any) -> None:
    """A redelivered final invoke carries the same contribution ids: totals are written once."""
    store = MemoryStore()
    handler = TumblingWindowHandler(store)
    final = load_event("taxi_final_invoke.json")
    handler(copy.deepcopy(final))
    handler(copy.deepcopy(final))
    # The event's state is version 1 (no money): it counts, with 0 cents.
    assert totals_by_vendor(store) == {
        "1": (2, 2250, 1050, 3, 0, 0, 0),
        "2": (1, 17250, 1200, 3, 0, 0, 0),
    }
    assert all(w.contributions == 1 for w in store.windows())


def test_early_terminated_window_writes_its_part(load_event: Any) -> None:
    """isWindowTerminatedEarly: the part so far is written and the state starts afresh."""
    store = MemoryStore()
    response = TumblingWindowHandler(store)(load_event("taxi_window_terminated_early.json"))
    assert response["state"] == {}
    assert totals_by_vendor(store)["2"] == (1, 17250, 1200, 3, 0, 0, 0)  # version-1 state


def test_poison_batch_dead_letters_every_bad_record(load_event: Any) -> None:
    """Bad records become dead letters with reason and origin; the good ones still count."""
    store = MemoryStore()
    handler = TumblingWindowHandler(store)
    event = load_event("taxi_poison_batch.json")
    response = handler(event)
    assert response["batchItemFailures"] == []
    handler(final_of(event, response["state"]))
    letters = store.dead_letters()
    reasons = sorted(d.reason for d in letters)
    assert reasons == sorted(
        [
            Reason.NOT_JSON,
            Reason.NOT_OBJECT,
            Reason.MISSING_VENDOR,
            Reason.BAD_DISTANCE,
            Reason.BAD_TIMESTAMP,
            Reason.NOT_UTF8,
            Reason.NOT_BASE64,
        ]
    )
    sequence_numbers = {r["kinesis"]["sequenceNumber"] for r in event["Records"]}
    assert {d.origin.sequence_number for d in letters} <= sequence_numbers
    assert {d.origin.shard_id for d in letters} == {"shardId-000000000000"}
    assert {d.origin.stream for d in letters} == {"input-stream"}
    counted, dead = store.counts()
    assert counted + dead == len(event["Records"])
    assert counted == 2


def test_poison_raw_bytes_are_kept(load_event: Any) -> None:
    """A dead letter keeps the exact bytes that could not be understood."""
    store = MemoryStore()
    event = load_event("taxi_poison_batch.json")
    TumblingWindowHandler(store)(event)
    raws = {d.raw for d in store.dead_letters() if d.reason == Reason.NOT_JSON}
    assert raws == {b"this is not json"}


def test_aws_documentation_example_event(load_event: Any) -> None:
    """The AWS docs' example: its 'Hello' record is a dead letter, its foreign state is replaced."""
    store = MemoryStore()
    event = load_event("aws_docs_tumbling_window.json")
    response = TumblingWindowHandler(store)(event)
    assert set(response) == {"state", "batchItemFailures"}
    assert response["state"]["records"] == 1
    (letter,) = store.dead_letters()
    assert letter.reason == Reason.NOT_JSON
    assert letter.raw == base64.b64decode(event["Records"][0]["kinesis"]["data"])
    assert letter.origin.shard_id == "shardId-000000000006"
    assert letter.origin.stream == "lambda-stream"


def test_kpl_aggregated_record_is_deaggregated(load_event: Any) -> None:
    """A KPL aggregate carrying three trips counts three trips, none lost."""
    store = MemoryStore()
    handler = TumblingWindowHandler(store)
    event = load_event("kpl_aggregated_batch.json")
    response = handler(event)
    handler(final_of(event, response["state"]))
    expected = reference_totals(event_trips(load_event("taxi_window_batch.json")))
    assert totals_by_vendor(store) == expected


def test_corrupt_kpl_aggregate_is_a_dead_letter(load_event: Any) -> None:
    """An aggregate whose checksum fails is dead-lettered whole, with its bytes."""
    store = MemoryStore()
    event = load_event("kpl_aggregated_batch.json")
    raw = bytearray(base64.b64decode(event["Records"][0]["kinesis"]["data"]))
    raw[-1] ^= 0xFF
    event["Records"][0]["kinesis"]["data"] = base64.b64encode(bytes(raw)).decode()
    TumblingWindowHandler(store)(event)
    (letter,) = store.dead_letters()
    assert letter.reason == Reason.BAD_AGGREGATE
    assert letter.raw == bytes(raw)


def test_without_window_each_invocation_writes(load_event: Any) -> None:
    """Tumbling windows off: a plain Kinesis event is written at once, by arrival window."""
    store = MemoryStore()
    event = load_event("taxi_window_batch.json")
    plain = {"Records": event["Records"]}
    response = TumblingWindowHandler(store, HandlerConfig(window_seconds=60))(plain)
    assert response["state"] == {}
    assert totals_by_vendor(store) == reference_totals(event_trips(event))


def test_event_clock_windows_by_pickup(load_event: Any) -> None:
    """With the event clock a trip counts in the window of its pickup time."""
    store = MemoryStore()
    handler = TumblingWindowHandler(store, HandlerConfig(clock="event", window_seconds=600))
    event = load_event("taxi_window_batch.json")
    handler(final_of(event, handler(event)["state"]))
    starts = {w.window_start_ms for w in store.windows()}
    pickups = {parse_iso_ms(t["pickupDate"]) // 600_000 * 600_000 for t in event_trips(event)}
    assert starts == pickups


@pytest.mark.parametrize(
    "config",
    [
        {"clock": "wall"},
        {"window_seconds": 0},
        {"window_seconds": 901},
        {"naive_timezone": "Mars/Olympus"},
    ],
)
def test_bad_configuration_is_refused(config: dict[str, Any]) -> None:
    """Settings out of range fail at construction with a clear message."""
    with pytest.raises(ConfigError):
        HandlerConfig(**config)


def test_a_record_that_is_not_kinesis_is_a_dead_letter() -> None:
    """A DynamoDB-stream record routed here by mistake is kept as a dead letter, not raised on."""
    store = MemoryStore()
    record = {"eventID": "1", "eventName": "INSERT", "dynamodb": {"Keys": {"Id": {"N": "101"}}}}
    response = TumblingWindowHandler(store)({"Records": [record]})
    assert response["batchItemFailures"] == []
    (letter,) = store.dead_letters()
    assert letter.reason == Reason.NOT_KINESIS
    assert json.loads(letter.raw) == record


def test_damaged_own_state_stops_with_a_clear_error(load_event: Any) -> None:
    """Our state with broken totals cannot be recovered: a clear error, never a silent reset."""
    event = load_event("taxi_final_invoke.json")
    event["state"]["totals"] = ["not", "a", "mapping"]
    with pytest.raises(HandlerContractError, match="damaged"):
        TumblingWindowHandler(MemoryStore())(event)


@pytest.mark.parametrize("state", [None, 5, "text", [1, 2]])
def test_state_that_is_not_ours_starts_afresh(load_event: Any, state: Any) -> None:
    """null, a number, a string or a list as state: a fresh part, no exception."""
    event = {**load_event("taxi_window_batch.json"), "state": state}
    assert TumblingWindowHandler(MemoryStore())(event)["state"]["records"] == 3


def test_malformed_event_parts_become_dead_letters(load_event: Any) -> None:
    """Records that are not objects, or lack data, are dead letters; the rest still count."""
    store = MemoryStore()
    event = load_event("taxi_window_batch.json")
    no_data = copy.deepcopy(event["Records"][0])
    del no_data["kinesis"]["data"]
    event["Records"] += ["hello", 5, no_data]
    TumblingWindowHandler(store)(event)
    reasons = sorted(d.reason for d in store.dead_letters())
    assert reasons == [Reason.NOT_BASE64, Reason.NOT_KINESIS, Reason.NOT_KINESIS]


def test_a_window_that_is_not_iso_is_a_clear_error(load_event: Any) -> None:
    """A window whose start is not a timestamp breaks the contract: one clear error."""
    event = load_event("taxi_window_batch.json")
    event["window"]["start"] = "soon"
    with pytest.raises(HandlerContractError, match="window start"):
        TumblingWindowHandler(MemoryStore())(event)


def test_without_windows_a_longer_retry_is_not_skipped(load_event: Any) -> None:
    """Windows off: the same batch twice counts once; a retry carrying more records is a new
    part (at least once), never skipped as if already applied."""
    store = MemoryStore()
    handler = TumblingWindowHandler(store, HandlerConfig(window_seconds=60))
    records = load_event("taxi_window_batch.json")["Records"]
    handler({"Records": records[:2]})
    handler({"Records": records[:2]})
    assert store.counts()[0] == 2
    handler({"Records": records})
    assert store.counts()[0] == 5
