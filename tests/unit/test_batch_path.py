"""The handler's batch path against its record-by-record path: the same outcome for any batch."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from typing import Any

import pytest

from taxi_stream.core.records import Contribution, DeadLetter, StreamRecord
from taxi_stream.core.timefmt import iso_ms, iso_utc
from taxi_stream.core.watermarks import Watermark
from taxi_stream.function import cents, columns
from taxi_stream.function.handler import HandlerConfig, TumblingWindowHandler
from taxi_stream.runner.events import kinesis_records, record_view, stream_arn
from taxi_stream.stores.memory import MemoryStore
from taxi_stream.streams import kpl
from tests.support import hostile

SHARD = "shardId-000000000000"
ARN = stream_arn("input-stream")
START_MS = 1_732_521_600_000  # 2024-11-25T08:00:00Z
WINDOW = {"start": iso_utc(START_MS), "end": iso_utc(START_MS + 60_000)}
STAMP_POOL = [START_MS + 1000 * k for k in range(-7200, 7200, 37)]  # shared seconds: memo hits
CONFIGS = {
    "arrival": {"clock": "arrival"},
    "event": {"clock": "event"},
    "event-dropoff-dead": {"clock": "event", "event_time": "dropoff", "late": "dead-letter",
                           "allowed_lateness_s": 30, "naive_timezone": "America/New_York"},
}  # fmt: skip


class Recording(MemoryStore):
    """A memory store that also keeps every call, in order, as the handler made it."""

    def __init__(self) -> None:
        super().__init__(clock=lambda: START_MS)
        self.calls: list[Any] = []

    def apply(
        self, contributions: Sequence[Contribution], watermark: Watermark | None = None
    ) -> int:
        """Keep the call, then apply."""
        self.calls.append(("apply", list(contributions), watermark))
        return super().apply(contributions, watermark)

    def put_dead_letters(self, letters: Sequence[DeadLetter]) -> int:
        """Keep the letters in the order given, then store them."""
        self.calls.append(("dead", [(d.origin, d.reason, d.message, d.raw) for d in letters]))
        return super().put_dead_letters(letters)


def stamp(rng: random.Random, ms: int) -> str:
    """``ms`` as ISO-8601 in one of the forms producers write (some naive, some with a fraction)."""
    text = iso_ms(ms) if rng.random() < 0.1 else iso_utc(ms - ms % 1000)
    form = rng.random()
    if form < 0.5:
        return text.replace("Z", "+00:00")
    if form < 0.65:
        return text
    if form < 0.8:
        return text[:-1]  # naive
    return iso_utc(ms - ms % 1000 + 5 * 3_600_000)[:-1] + "+05:00"


def amount(rng: random.Random) -> Any:
    """A dollar amount: whole cents mostly, half cents, negatives, ints, text, sometimes none."""
    pick = rng.random()
    if pick < 0.6:
        return round(rng.uniform(-5, 120), 2)
    if pick < 0.7:
        return rng.choice([12.345, 0.125, 1.005, -2.675, 0.005, 99.995, 1e-7])
    if pick < 0.8:
        return rng.randint(-3, 90)
    return rng.choice([None, "7.50", " 3", "x", 1e6])


def miles(rng: random.Random) -> float:
    """A distance: thousandths mostly, sometimes finer (half thousandths round to even)."""
    pick = rng.random()
    if pick < 0.7:
        return round(rng.uniform(0, 30), 3)
    if pick < 0.85:
        return rng.randint(0, 60_000) * 0.0005
    return rng.uniform(0, 30)


def quirky(rng: random.Random, n: int) -> dict[str, Any]:
    """A trip, mostly clean, with the quirks of real producers and some bad fields."""
    pickup = (
        rng.choice(STAMP_POOL)
        if rng.random() < 0.7
        else START_MS + rng.randint(-9_000_000, 9_000_000)
    )
    trip: dict[str, Any] = {
        "id": rng.choice([f"q{n}", n]),
        "vendorId": rng.choice([1, 2, 2, 3, "2", " 1", 2.0, 4]),
        "pickupDate": stamp(rng, pickup),
        "dropoffDate": stamp(rng, pickup + rng.randint(0, 3_600_000)),
        "passengerCount": rng.choice([1, 2, 0, 9, None, 10]),
        "googleDistance": miles(rng),
        "gcDistance": miles(rng),
        "tripDuration": rng.randint(0, 5000),
        "googleDuration": rng.randint(0, 5000),
        "pickupLongitude": -73.98,
        "storeAndFwdFlag": rng.choice(["N", "Y"]),
        "fareAmount": amount(rng),
        "tipAmount": amount(rng),
        "totalAmount": amount(rng),
    }
    for name in rng.sample(list(trip), rng.choice([0, 0, 0, 1, 2, 3])):
        trip[name] = rng.choice([None, "", "bad", 1e9, " 5"]) if rng.random() < 0.4 else None
        if rng.random() < 0.5:
            del trip[name]
    if rng.random() < 0.03:
        trip["pickupDate"] = rng.choice(["2008-12-31T23:00:00Z", "2030-01-01T00:00:00Z"])
    if rng.random() < 0.02:
        trip["extra"] = 1
    return trip


def payload(rng: random.Random, n: int) -> bytes:
    """Mostly quirky trips; hostile records and KPL aggregates now and then."""
    pick = rng.random()
    if pick < 0.85:
        trip = quirky(rng, n)
        spacing = (",", ":") if rng.random() < 0.9 else (", ", ": ")
        return json.dumps(trip, separators=spacing).encode()
    if pick < 0.9:
        entries = [(f"m{i}", json.dumps(quirky(rng, n * 10 + i)).encode()) for i in range(3)]
        return kpl.aggregate(entries)
    make = rng.choice([*hostile.KINDS, hostile.kpl_corrupt])
    item = make(rng, n)
    return item.data if item.data is not None else b"{}"


def batch(seed: int, count: int) -> list[StreamRecord]:
    """``count`` stream records, arrivals around the window and sometimes out of order."""
    rng = random.Random(seed)
    return [
        StreamRecord(str(10_000 + n), START_MS + rng.randint(-300_000, 300_000), f"k{n}",
                     payload(rng, n))
        for n in range(count)
    ]  # fmt: skip


def spoil(records: list[Any], seed: int) -> list[Any]:
    """The plain records with a few that are no Kinesis record, not base64, or odd arrivals."""
    rng = random.Random(seed)
    out = list(records)
    for at in rng.sample(range(len(out)), 6):
        pick = rng.randrange(3)
        if pick == 0:
            out[at] = hostile.foreign(rng, at).record
        elif pick == 1:
            out[at] = {**out[at], "kinesis": {**out[at]["kinesis"], "data": "e30"}}
        else:
            odd = rng.choice([float("nan"), "x", None, True, -1e300])
            kinesis = {**out[at]["kinesis"], "approximateArrivalTimestamp": odd}
            out[at] = {**out[at], "kinesis": kinesis}
    return out


def outcome(exact: bool, config: dict[str, Any], parts: list[Any], window: bool) -> Any:
    """Every response and every store call of a window fed ``parts`` in turn, then closed."""
    store = Recording()
    handler = TumblingWindowHandler(store, HandlerConfig(**config), exact=exact)
    state: dict[str, Any] = {}
    responses = []
    for records in [*parts, []]:
        event: dict[str, Any] = {"Records": records, "state": state, "shardId": SHARD,
                                 "eventSourceARN": ARN, "isWindowTerminatedEarly": False,
                                 "isFinalInvokeForWindow": not records}  # fmt: skip
        if window:
            event["window"] = WINDOW
        response = handler(event)  # type: ignore[arg-type]
        responses.append(response)
        state = response["state"]
    return responses, store.calls, store.windows(), store.watermarks()


def split(records: list[Any], seed: int) -> list[list[Any]]:
    """The records as the invocations of one window part: two or three slices."""
    cut = sorted(random.Random(seed).sample(range(1, len(records)), 2))
    return [records[: cut[0]], records[cut[0] : cut[1]], records[cut[1] :]]


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("form", ["plain", "view"])
def test_the_batch_path_gives_what_the_record_path_gives(seed: int, config: str, form: str) -> None:
    """Over quirky, hostile and KPL records, on both clocks and either form of the records:
    the same responses, totals, watermarks and dead letters, in the same order."""
    records = batch(seed, 700)
    if form == "plain":
        parts = [spoil(kinesis_records(part, SHARD, ARN), seed) for part in split(records, seed)]
    else:
        parts = [record_view(part, SHARD, ARN) for part in split(records, seed)]
    fast = outcome(False, CONFIGS[config], parts, window=True)
    assert fast == outcome(True, CONFIGS[config], parts, window=True)
    _, calls, windows, _ = fast
    assert windows
    assert any(call[0] == "dead" and len(call[1]) > 20 for call in calls)


@pytest.mark.parametrize("config", list(CONFIGS))
def test_without_windows_each_invocation_matches_too(config: str) -> None:
    """Tumbling windows off (arrival windows per record): the same contributions either way."""
    records = kinesis_records(batch(9, 600), SHARD, ARN)
    fast = outcome(False, CONFIGS[config], [records], window=False)
    assert fast == outcome(True, CONFIGS[config], [records], window=False)
    assert len({w.window_start_ms for w in fast[2]}) > 3


def clean_event(
    count: int, *, seed: int = 5, late: bool = False, step_ms: int = 500, vendors: int = 3
) -> list[StreamRecord]:
    """Clean trips only, as our producer writes them (``late``: event times far out of order,
    on whole half minutes, so some watermark lands exactly on a window's end; else ``step_ms``
    apart, in order), of vendors 1 to ``vendors``."""
    rng = random.Random(seed)
    out = []
    for n in range(count):
        pickup = START_MS + (rng.randint(-120, 0) * 30_000 if late else n * step_ms)
        trip = {"id": f"c{n}", "vendorId": rng.randint(1, vendors), "pickupDate": iso_utc(pickup),
                "dropoffDate": iso_utc(pickup + 600_000), "passengerCount": rng.randint(0, 6),
                "googleDistance": round(rng.uniform(0, 30), 3), "tripDuration": 600,
                "fareAmount": round(rng.uniform(3, 90), 2), "tipAmount": 1.25,
                "totalAmount": round(rng.uniform(3, 99), 2)}  # fmt: skip
        out.append(StreamRecord(str(n + 1), START_MS + n * 500, f"k{n}", json.dumps(trip).encode()))
    return out


@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("late", [False, True])
def test_clean_batches_take_the_columns_and_still_match(config: str, late: bool) -> None:
    """Clean records, in order or far out of order (late trips), the later arrivals first: the
    columns decide them all, with the same totals, late counts and watermark as record by
    record."""
    records = clean_event(1500, late=late)
    parts = [record_view(records[900:], SHARD, ARN), record_view(records[:900], SHARD, ARN)]
    (found,), slow = columns.decode_batch(
        [r.data for r in records], HandlerConfig().tz(), {}, dropoff=False
    )
    assert (len(found.index), slow) == (1500, [])
    by_vendor, slow = columns.decode_batch(
        [r.data for r in records], HandlerConfig().tz(), {}, dropoff=False, by_vendor=True
    )
    assert sorted(len(set(part.vendor)) for part in by_vendor) == [1, 1, 1]
    assert sorted(k for part in by_vendor for k in part.index) == list(range(1500))
    fast = outcome(False, CONFIGS[config], parts, window=True)
    assert fast == outcome(True, CONFIGS[config], parts, window=True)
    assert fast[2]


@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize(("step_ms", "vendors"), [(0, 1), (0, 3), (40, 2), (230, 3), (900, 3)])
def test_chunks_of_one_key_a_few_keys_or_many_match(
    config: str, step_ms: int, vendors: int
) -> None:
    """Clean trips in order, a chunk holding one (vendor, window), a few or many, with no trip
    late, or windows closing inside the chunk: the same totals and watermark as record by
    record."""
    records = clean_event(1100, step_ms=step_ms, vendors=vendors)
    parts = [record_view(records[:700], SHARD, ARN), kinesis_records(records[700:], SHARD, ARN)]
    fast = outcome(False, CONFIGS[config], parts, window=True)
    assert fast == outcome(True, CONFIGS[config], parts, window=True)
    assert sum(w.totals.trip_count for w in fast[2]) == len(records)


def test_the_comparison_catches_a_broken_fast_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check can fail: cents by plain round(), without the half-cent rule, differ somewhere."""
    records = [kinesis_records(batch(2, 700), SHARD, ARN)]
    exact = outcome(True, CONFIGS["arrival"], records, window=True)
    monkeypatch.setattr(cents, "NEAR_HALF", 1.0)  # no product is a half cent away: round()
    assert outcome(False, CONFIGS["arrival"], records, window=True) != exact


@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("stray", ["2008-12-31T23:59:59Z", "2024-11-27T08:00:00Z"])
def test_a_clean_trip_out_of_range_sends_the_batch_record_by_record(
    config: str, stray: str
) -> None:
    """A clean trip before TLC's records or days after it arrived (one of them the batch's
    newest arrival): the same dead letters, totals and newest arrival as record by record."""
    records = clean_event(600)
    trip = {**json.loads(records[300].data), "pickupDate": stray}
    records[300] = StreamRecord("301", START_MS, "k", json.dumps(trip).encode())
    late_arrival = START_MS + 3_600_000  # the batch's newest arrival, on a trip out of range
    records[-1] = StreamRecord("600", late_arrival, "k", json.dumps(trip).encode())
    parts = [record_view(records, SHARD, ARN)]
    fast = outcome(False, CONFIGS[config], parts, window=True)
    assert fast == outcome(True, CONFIGS[config], parts, window=True)


def quirks(clean: bytes) -> list[bytes]:
    """Payloads whose bytes could fool a batch-wide reading: braces and brackets in strings,
    nested objects, arrays, a record that is two objects, and whitespace around a record."""
    body = clean[1:-1]
    return [
        b'{"id":"a},{b",' + body + b"}",
        b'{"id":"[{}]",' + body + b"}",
        b'{"id":{"a":1},' + body + b"}",
        b'{"id":[1,{}],' + body + b"}",
        b"[" + clean + b"]",
        clean + clean,
        clean + b"," + clean,
        b" " + clean,
        clean + b"\n",
        b"\t" + clean + b" ",
        b'{"vendorId":"}{"' + body[body.index(b",") :] + b"}",
        b"{" + body,
        body + b"}",
        b"{}",
        b"",
    ]


@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("form", ["plain", "view"])
def test_payloads_that_could_fool_a_batch_reading_match_the_record_path(
    config: str, form: str
) -> None:
    """Clean trips with quirky payloads among them (and, in Lambda's form, base64 with
    whitespace or without its padding): the same outcome as record by record."""
    records = clean_event(300)
    kinds = quirks(records[0].data)
    for at, data in zip(range(7, 300, 13), kinds * 2, strict=False):
        records[at] = records[at]._replace(data=data)
    if form == "view":
        parts = [record_view(records, SHARD, ARN)]
    else:
        plain = kinesis_records(records, SHARD, ARN)
        for at, text in ((3, " e30="), (5, "e30"), (9, "e3\n0="), (11, "e30=\n"), (12, "=e30")):
            plain[at] = {**plain[at], "kinesis": {**plain[at]["kinesis"], "data": text}}
        parts = [plain]
    fast = outcome(False, CONFIGS[config], parts, window=True)
    assert fast == outcome(True, CONFIGS[config], parts, window=True)
    _, calls, windows, _ = fast
    assert windows
    assert sum(len(call[1]) for call in calls if call[0] == "dead") >= 6  # not one object each
