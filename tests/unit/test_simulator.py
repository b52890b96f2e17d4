"""The trip simulator: deterministic, realistic, clean by default, faulty on request, paced."""

from __future__ import annotations

import hashlib
import json
import statistics
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taxi_stream.core.errors import ConfigError, Reason, RecordError
from taxi_stream.core.trip import parse_trip
from taxi_stream.sources import simulator
from taxi_stream.sources.simulator import (
    NOMINAL_TRIPS_PER_SECOND,
    NYC_BOUNDS,
    SimBatch,
    Simulator,
    SimulatorConfig,
)

WIRE_KEYS = [
    "id",
    "vendorId",
    "pickupDate",
    "dropoffDate",
    "passengerCount",
    "pickupLongitude",
    "pickupLatitude",
    "dropoffLongitude",
    "dropoffLatitude",
    "storeAndFwdFlag",
    "gcDistance",
    "tripDuration",
    "googleDistance",
    "googleDuration",
    "fareAmount",
    "tipAmount",
    "totalAmount",
]
NOON_NEW_YORK_MS = 1_730_480_400_000  # 2024-11-01T17:00:00Z
FOUR_AM_NEW_YORK_MS = 1_730_451_600_000  # 2024-11-01T09:00:00Z


def config(**overrides: Any) -> SimulatorConfig:
    """A simulator config with keyword overrides."""
    return SimulatorConfig(**overrides)


def simulate(n: int, **overrides: Any) -> SimBatch:
    """The first n records of a simulator built from config(**overrides)."""
    return Simulator(config(**overrides)).batch(n)


def rejection(data: bytes) -> str | None:
    """The reason a consumer rejects a record (decode, then parse_trip), or None if it accepts."""
    try:
        fields = msgspec.json.decode(data.decode("utf-8"))
    except UnicodeDecodeError:
        return Reason.NOT_UTF8
    except msgspec.DecodeError:
        return Reason.NOT_JSON
    if not isinstance(fields, dict):
        return Reason.NOT_OBJECT
    try:
        parse_trip(fields)
    except RecordError as exc:
        return exc.reason
    return None


def seconds(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp())


@pytest.fixture(scope="module")
def clean() -> list[dict[str, Any]]:
    """20,000 decoded records of the default (clean) stream."""
    return [msgspec.json.decode(data) for _, data in simulate(20_000).entries]


class FakeClock:
    """A clock that moves only when slept on, or by ``step`` on every reading."""

    def __init__(self, step: float = 0.0) -> None:
        self.now = 0.0
        self.step = step
        self.slept: list[float] = []

    def clock(self) -> float:
        self.now += self.step
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.slept.append(seconds)
        self.now += seconds


# Determinism


@settings(max_examples=20, deadline=None)
@given(sizes=st.lists(st.integers(min_value=0, max_value=3000), min_size=1, max_size=6))
def test_same_config_gives_the_same_bytes_whatever_the_batch_sizes(sizes: list[int]) -> None:
    """Pulling the stream in any batch sizes gives the records of one big batch, faults included."""
    faulty = config(seed=7, malformed_fraction=0.05, late_fraction=0.05, out_of_order_fraction=0.1)
    simulator = Simulator(faulty)
    entries: list[tuple[str, bytes]] = []
    malformed: dict[int, str] = {}
    late: list[int] = []
    for size in sizes:
        part = simulator.batch(size)
        malformed.update((len(entries) + i, r) for i, r in part.malformed.items())
        late.extend(len(entries) + i for i in part.late)
        entries.extend(part.entries)
    whole = Simulator(faulty).batch(sum(sizes))
    assert (entries, malformed, late) == (whole.entries, whole.malformed, whole.late)


# sha256 of seeded runs, computed with the simulator of an earlier release (bab2dc9): a change
# to the simulator's code must not change a single byte of what a seed gives.
SEEDED_DIGESTS = {
    "default": "c2c441922e713ff6855419577a789ad00604df075a9fbf7f5d2a0154ad3576fc",
    "faulty": "5611b8010520a0b085dfecb6a55ae8108d7d0a9742c66c212213b7a520f9b3dc",
}
SEEDED_CONFIGS = {
    "default": {},
    "faulty": {
        "seed": 7,
        "vendors": ("1", "2", "CMT"),
        "vendor_weights": (1, 3, 6),
        "trips_per_second": 250.0,
        "malformed_fraction": 0.2,
        "out_of_order_fraction": 0.1,
        "late_fraction": 0.05,
        "max_out_of_order_s": 20,
        "late_by_s": 300,
    },
}


@pytest.mark.parametrize("name", sorted(SEEDED_CONFIGS))
def test_a_seed_gives_the_bytes_it_gave_in_an_earlier_release(name: str) -> None:
    """A seeded run's keys, records, faults and late trips hash as they did in release bab2dc9."""
    simulator = Simulator(config(**SEEDED_CONFIGS[name]))
    digest = hashlib.sha256()
    for size in (1, 7, 2048, 3000, 944):
        part = simulator.batch(size)
        for key, record in part.entries:
            digest.update(key.encode() + b"\0" + record + b"\n")
        digest.update(json.dumps([sorted(part.malformed.items()), part.late]).encode())
    assert digest.hexdigest() == SEEDED_DIGESTS[name]


def test_batches_iterator_yields_the_same_records_as_batch() -> None:
    """The unpaced iterator yields the same stream, in batches of the requested size."""
    parts = list(Simulator(config(seed=3)).batches(333, count=1000))
    assert [len(p.entries) for p in parts] == [333, 333, 333, 1]
    assert [e for p in parts for e in p.entries] == simulate(1000, seed=3).entries


def test_different_seeds_give_different_trips() -> None:
    """Two seeds give two different streams with distinct ids."""
    one, two = simulate(100, seed=1), simulate(100, seed=2)
    assert {k for k, _ in one.entries}.isdisjoint(k for k, _ in two.entries)
    assert [d[20:] for _, d in one.entries] != [d[20:] for _, d in two.entries]


# The clean record


def test_every_clean_record_is_accepted_by_the_consumer_rules() -> None:
    """Decoding and parse_trip accept every record of a clean stream."""
    batch = simulate(5000)
    assert batch.malformed == {}
    assert [rejection(data) for _, data in batch.entries] == [None] * 5000


def test_records_have_the_wire_keys_in_order(clean: list[dict[str, Any]]) -> None:
    """Each record carries exactly the 14 camelCase wire fields, then the 3 money fields."""
    assert all(list(record) == WIRE_KEYS for record in clean)


def test_each_record_is_the_compact_json_msgspec_writes_for_its_values() -> None:
    """A clean record re-encodes to itself: no newline, no blank, every number at its shortest."""
    batch = simulate(5000, seed=5, malformed_fraction=0.05, vendors=("1", "CMT", "v\u00e9"))
    assert len(batch.malformed) > 100
    for index, (_, data) in enumerate(batch.entries):
        if index not in batch.malformed:
            assert msgspec.json.encode(msgspec.json.decode(data)) == data


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(st.lists(json_values, max_size=20))
def test_the_lines_of_encoded_values_are_those_split_at_each_newline(values: list[Any]) -> None:
    """Any JSON values, blanks at the ends of their strings too: the lines are split's pieces."""
    encoded = msgspec.json.Encoder().encode_lines(values)
    assert simulator._lines(encoded) == encoded.split(b"\n")[:-1]


LAST_SECOND_OF_9999 = 253_402_300_799
# Seconds bunched the way a block's pickups and dropoffs are (a few minutes, many repeats),
# next to days, minutes and years turning over, and spread over the whole calendar.
epoch_seconds = st.lists(
    st.one_of(
        st.integers(1_730_419_200 - 120, 1_730_419_200 + 120),
        st.sampled_from([0, 59, 60, 86_399, 86_400, 951_782_399, 951_868_800, LAST_SECOND_OF_9999]),
        st.integers(0, LAST_SECOND_OF_9999),
    ),
    max_size=60,
)


@given(epoch_seconds, st.booleans())
def test_timestamps_are_the_iso_text_of_each_second_in_utc(
    seconds: list[int], shared: bool
) -> None:
    """Any epoch seconds, repeated or not, read as their UTC time written by datetime.isoformat."""
    texts = simulator._iso(np.array(seconds, np.int64), shared=shared)
    expected = [datetime.fromtimestamp(s, UTC).isoformat() for s in seconds]
    assert list(texts) == expected


@given(
    st.lists(st.floats(0, 1e6) | st.just(0.0), min_size=1, max_size=12).filter(any),
    st.integers(0, 2**32),
    st.integers(0, 3000),
)
def test_draws_from_a_cdf_are_those_of_generator_choice(
    weights: list[float], seed: int, n: int
) -> None:
    """Any weights (zeros too), seed and size: the indices and the generator's state after
    them are those rng.choice gives for the same probabilities."""
    p = np.asarray(weights) / sum(weights)
    ours, numpy_own = (np.random.Generator(np.random.PCG64(seed)) for _ in range(2))
    drawn = simulator._choice(ours, simulator._cdf(p), n)
    assert drawn.tolist() == numpy_own.choice(len(p), size=n, p=p).tolist()
    assert ours.random() == numpy_own.random()


def test_partition_key_is_the_unique_trip_id() -> None:
    """The partition key is the record's id, and ids never repeat."""
    entries = simulate(5000).entries
    assert all(msgspec.json.decode(data)["id"] == key for key, data in entries)
    assert len({key for key, _ in entries}) == 5000


def test_ids_are_the_seed_and_a_ten_digit_counter_past_every_block_and_ten_thousand() -> None:
    """Trip k of seed s has id "s<s>-<k in 10 digits>", across blocks and 10,000 boundaries."""
    entries = simulate(20_500, seed=4).entries
    assert [key for key, _ in entries] == [f"s4-{k:010d}" for k in range(20_500)]


def test_trip_duration_is_dropoff_minus_pickup(clean: list[dict[str, Any]]) -> None:
    """tripDuration equals dropoffDate minus pickupDate, both whole seconds with a UTC offset."""
    for r in clean:
        assert r["pickupDate"].endswith("+00:00")
        assert r["dropoffDate"].endswith("+00:00")
        assert seconds(r["dropoffDate"]) - seconds(r["pickupDate"]) == r["tripDuration"]


def test_route_estimate_is_close_to_but_not_the_metered_duration(
    clean: list[dict[str, Any]],
) -> None:
    """googleDuration is within 20% of tripDuration and never equal to it."""
    for r in clean:
        assert r["googleDuration"] != r["tripDuration"]
        assert abs(r["googleDuration"] - r["tripDuration"]) <= 0.2 * r["tripDuration"] + 1


def test_distances_are_exact_thousandths_and_crow_flies_is_shorter(
    clean: list[dict[str, Any]],
) -> None:
    """gcDistance <= googleDistance, both positive miles with at most 3 decimals."""
    for r in clean:
        assert 0 <= r["gcDistance"] <= r["googleDistance"] <= 40
        assert round(r["gcDistance"], 3) == r["gcDistance"]
        assert round(r["googleDistance"], 3) == r["googleDistance"]
    assert 1.2 < statistics.median(r["googleDistance"] for r in clean) < 2.5


def test_coordinates_are_inside_new_york_city(clean: list[dict[str, Any]]) -> None:
    """Pickups and dropoffs lie inside the bounding box of the five boroughs."""
    west, south, east, north = NYC_BOUNDS
    for r in clean:
        assert west <= r["pickupLongitude"] <= east
        assert south <= r["pickupLatitude"] <= north
        assert west <= r["dropoffLongitude"] <= east
        assert south <= r["dropoffLatitude"] <= north


def test_pickups_are_concentrated_in_manhattan(clean: list[dict[str, Any]]) -> None:
    """Most pickups fall in a box around Manhattan, as in TLC data."""
    in_manhattan = [
        -74.03 <= r["pickupLongitude"] <= -73.91 and 40.70 <= r["pickupLatitude"] <= 40.88
        for r in clean
    ]
    assert sum(in_manhattan) / len(clean) > 0.7


def test_passenger_counts_are_weighted_like_tlc_data(clean: list[dict[str, Any]]) -> None:
    """1 passenger is most common (about 73%), then 2, 3 ... up to 6."""
    counts = Counter(r["passengerCount"] for r in clean)
    assert set(counts) <= set(range(1, 7))
    assert [counts[p] for p in range(1, 5)] == sorted(
        (counts[p] for p in range(1, 5)), reverse=True
    )
    assert counts[1] / len(clean) == pytest.approx(7298 / 9937, abs=0.015)


def test_store_and_forward_flag_is_mostly_n(clean: list[dict[str, Any]]) -> None:
    """storeAndFwdFlag is "Y" or "N", and "N" for nearly every trip."""
    flags = Counter(r["storeAndFwdFlag"] for r in clean)
    assert set(flags) <= {"Y", "N"}
    assert flags["Y"] < 0.01 * len(clean)


def test_speeds_are_plausible_for_new_york(clean: list[dict[str, Any]]) -> None:
    """Road distance over trip duration gives 2 to 45 mph."""
    for r in clean:
        assert 2 <= r["googleDistance"] / r["tripDuration"] * 3600 <= 45


def test_traffic_is_slower_at_noon_than_at_night() -> None:
    """The median speed is about 8-12 mph at noon and 15-20 mph at 4 a.m. in New York."""

    def median_mph(start_ms: int) -> float:
        records = [msgspec.json.decode(d) for _, d in simulate(5000, start_ms=start_ms).entries]
        return statistics.median(r["googleDistance"] / r["tripDuration"] * 3600 for r in records)

    assert 7.5 <= median_mph(NOON_NEW_YORK_MS) <= 12
    assert 15 <= median_mph(FOUR_AM_NEW_YORK_MS) <= 20


def test_vendor_mix_follows_the_configured_weights() -> None:
    """Vendors appear in the configured proportions; numeric ids are JSON numbers."""
    batch = simulate(30_000, vendors=("1", "2", "CMT"), vendor_weights=(1, 3, 6))
    vendors = Counter(msgspec.json.decode(data)["vendorId"] for _, data in batch.entries)
    assert set(vendors) == {1, 2, "CMT"}
    for vendor, share in ((1, 0.1), (2, 0.3), ("CMT", 0.6)):
        assert vendors[vendor] / 30_000 == pytest.approx(share, abs=0.015)


def test_default_vendors_are_1_and_2_equally_often(clean: list[dict[str, Any]]) -> None:
    """Without weights, the default vendors 1 and 2 each take about half the trips."""
    vendors = Counter(r["vendorId"] for r in clean)
    assert set(vendors) == {1, 2}
    assert vendors[1] / len(clean) == pytest.approx(0.5, abs=0.02)


# Simulated time


@pytest.mark.parametrize("rate", [None, 10.0, 2500.0])
def test_pickups_advance_from_the_start_at_the_rate(rate: float | None) -> None:
    """Trip k is picked up at start + k / rate (whole seconds), the nominal rate when unpaced."""
    start_ms = 1_730_500_000_000
    batch = simulate(3000, start_ms=start_ms, trips_per_second=rate)
    per_second = rate or NOMINAL_TRIPS_PER_SECOND
    for k, (_, data) in enumerate(batch.entries):
        pickup = seconds(msgspec.json.decode(data)["pickupDate"])
        assert pickup == (start_ms + int(k * 1000 / per_second)) // 1000


def shifts(batch: SimBatch, start_ms: int) -> list[int]:
    """How many seconds each trip was moved back from its place in an unpaced stream."""
    nominal = [(start_ms + k * 10) // 1000 for k in range(len(batch.entries))]
    pickups = [seconds(msgspec.json.decode(data)["pickupDate"]) for _, data in batch.entries]
    return [n - p for n, p in zip(nominal, pickups, strict=True)]


def test_out_of_order_trips_move_back_within_the_bound() -> None:
    """About the configured fraction of trips is picked up 1..max_out_of_order_s seconds early."""
    start_ms = SimulatorConfig().start_ms
    batch = simulate(20_000, out_of_order_fraction=0.2, max_out_of_order_s=30)
    moved = [s for s in shifts(batch, start_ms) if s]
    assert all(1 <= s <= 30 for s in moved)
    assert len(moved) / 20_000 == pytest.approx(0.2, abs=0.015)
    assert batch.late == []


def test_late_trips_move_back_by_the_lateness_and_are_reported() -> None:
    """Late trips are picked up exactly late_by_s seconds early; the batch lists them."""
    start_ms = SimulatorConfig().start_ms
    batch = simulate(20_000, late_fraction=0.05, late_by_s=900)
    moved = {i: s for i, s in enumerate(shifts(batch, start_ms)) if s}
    assert sorted(moved) == batch.late
    assert set(moved.values()) == {900}
    assert len(batch.late) / 20_000 == pytest.approx(0.05, abs=0.01)


# Malformed records


def test_malformed_fraction_is_respected() -> None:
    """About the configured fraction of records is malformed, and the batch says which."""
    batch = simulate(20_000, malformed_fraction=0.1)
    assert len(batch.malformed) / 20_000 == pytest.approx(0.1, abs=0.01)


def test_every_malformed_record_is_rejected_for_its_stated_reason() -> None:
    """Each malformed record is rejected for the reason the batch gives; the rest are accepted."""
    batch = simulate(10_000, malformed_fraction=0.2)
    reasons = {i: rejection(data) for i, (_, data) in enumerate(batch.entries)}
    assert {i: r for i, r in reasons.items() if r is not None} == batch.malformed
    assert set(batch.malformed.values()) == {
        Reason.NOT_UTF8,
        Reason.NOT_JSON,
        Reason.NOT_OBJECT,
        Reason.MISSING_VENDOR,
        Reason.BAD_VENDOR,
        Reason.BAD_TIMESTAMP,
        Reason.BAD_COORDINATE,
        Reason.BAD_FLAG,
        Reason.BAD_DISTANCE,
        Reason.BAD_DURATION,
        Reason.BAD_NUMBER,
        Reason.BAD_PASSENGERS,
    }


def test_faults_leave_the_other_records_unchanged() -> None:
    """Turning on malformed records changes only those records, byte for byte."""
    faulty, clean_batch = simulate(5000, malformed_fraction=0.1), simulate(5000)
    for i, (entry, clean_entry) in enumerate(zip(faulty.entries, clean_batch.entries, strict=True)):
        assert entry[0] == clean_entry[0]
        assert (entry[1] == clean_entry[1]) == (i not in faulty.malformed)


# Rate control


def test_paced_stream_releases_each_trip_when_it_is_due() -> None:
    """At 10 trips/s with an idle consumer, trips come one at a time, 0.1 s apart."""
    fake = FakeClock()
    simulator = Simulator(config(trips_per_second=10))
    released = []
    for batch in simulator.batches(100, count=50, clock=fake.clock, sleep=fake.sleep):
        released.append((round(fake.now, 6), len(batch.entries)))
    assert released == [(round(k / 10, 6), 1) for k in range(50)]


def test_paced_stream_catches_up_in_full_batches_when_behind() -> None:
    """A consumer slower than the rate gets full batches and is never made to sleep."""
    fake = FakeClock(step=1.0)
    simulator = Simulator(config(trips_per_second=100))
    sizes = [len(b.entries) for b in simulator.batches(50, count=400, clock=fake.clock)]
    assert sizes == [50] * 8
    assert fake.slept == []


def test_duration_bounds_a_paced_stream_to_the_trips_due_within_it() -> None:
    """At 20 trips/s for 3 s, exactly 60 trips are sent, and the last at 2.95 s."""
    fake = FakeClock()
    simulator = Simulator(config(trips_per_second=20))
    batches = list(simulator.batches(8, duration_s=3, clock=fake.clock, sleep=fake.sleep))
    assert sum(len(b.entries) for b in batches) == 60
    assert fake.now == pytest.approx(2.95)


def test_duration_bounds_an_unpaced_stream_by_clock_time() -> None:
    """Unpaced, full batches are sent until the duration has passed on the clock."""
    fake = FakeClock(step=0.25)
    batches = list(Simulator().batches(10, duration_s=1, clock=fake.clock, sleep=fake.sleep))
    assert [len(b.entries) for b in batches] == [10, 10, 10]
    assert fake.slept == []


def test_count_bounds_an_unpaced_stream() -> None:
    """The last batch is cut to reach exactly the requested count."""
    sizes = [len(b.entries) for b in Simulator().batches(10, count=25)]
    assert sizes == [10, 10, 5]


# Configuration


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"seed": -1}, "seed"),
        ({"seed": True}, "seed"),
        ({"vendors": ()}, "vendors"),
        ({"vendors": "12"}, "vendors"),
        ({"vendors": ("1", "1")}, "unique"),
        ({"vendors": (" 1",)}, "vendor id"),
        ({"vendors": ("",)}, "vendor id"),
        ({"vendor_weights": (1.0,)}, "vendor_weights"),
        ({"vendor_weights": (0, 0)}, "vendor_weights"),
        ({"vendor_weights": (1, float("nan"))}, "vendor_weights"),
        ({"start_ms": 1.5}, "start_ms"),
        ({"trips_per_second": 0}, "trips_per_second"),
        ({"trips_per_second": float("inf")}, "trips_per_second"),
        ({"malformed_fraction": 1.5}, "malformed_fraction"),
        ({"late_fraction": -0.1}, "late_fraction"),
        ({"out_of_order_fraction": 0.7, "late_fraction": 0.4}, "must not exceed 1"),
        ({"max_out_of_order_s": 0}, "max_out_of_order_s"),
        ({"late_fraction": 0.1, "late_by_s": 30, "max_out_of_order_s": 30}, "late_by_s"),
    ],
)
def test_config_rejects_bad_values_with_a_clear_message(
    overrides: dict[str, Any], message: str
) -> None:
    """A bad setting raises ConfigError naming it."""
    with pytest.raises(ConfigError, match=message):
        config(**overrides)


def test_config_takes_vendor_lists_and_stores_tuples() -> None:
    """Lists are accepted for vendors and weights and kept as tuples (the config is hashable)."""
    settings_ = config(vendors=["1", "2"], vendor_weights=[1, 2])
    assert settings_.vendors == ("1", "2")
    assert settings_.vendor_weights == (1.0, 2.0)
    assert hash(settings_) == hash(config(vendors=("1", "2"), vendor_weights=(1.0, 2.0)))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: s.batch(-1), "batch size"),
        (lambda s: next(s.batches(0)), "batch_size"),
        (lambda s: next(s.batches(10, count=-1)), "count"),
        (lambda s: next(s.batches(10, duration_s=-1)), "duration_s"),
    ],
)
def test_bad_pull_arguments_raise_config_error(call: Any, message: str) -> None:
    """A negative size, count or duration raises ConfigError naming it."""
    with pytest.raises(ConfigError, match=message):
        call(Simulator())


def test_a_paced_stream_that_cannot_keep_its_rate_stops_soon_after_its_duration(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """At 1,000 trips/s for 2 s, each clock reading 1 s on: batches at 1 s and 2 s, then at 3 s
    (1 s past the duration) it stops with those 20 trips, not 2,000, and says it fell behind."""
    fake = FakeClock(step=1.0)
    simulator = Simulator(config(trips_per_second=1_000))
    with caplog.at_level("WARNING", logger="taxi_stream.sources.simulator"):
        batches = list(simulator.batches(10, duration_s=2, clock=fake.clock, sleep=fake.sleep))
    assert sum(len(b.entries) for b in batches) == 20
    assert fake.now <= 2 + 1 + 1
    assert "could not keep 1,000 trips/s: sent 20 of 2000 trips" in caplog.text
