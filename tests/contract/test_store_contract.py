"""The store contract: every store (DynamoDB on moto and dynalite, SQLite, memory) behaves the
same."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.servers.node import dynalite_server

from taxi_stream.core.errors import ConfigError
from taxi_stream.core.records import Contribution, DeadLetter, Origin
from taxi_stream.core.totals import Totals, merge
from taxi_stream.core.watermarks import Watermark
from taxi_stream.ports import Store, VendorIndex
from taxi_stream.stores.dynamodb import DynamoDBStore, create_table
from taxi_stream.stores.dynamodb_items import letter_item
from taxi_stream.stores.memory import MemoryStore
from taxi_stream.stores.sqlite import SQLiteStore

NOW_MS = 1_700_000_000_123  # every store's injected clock: updated_ms is predictable
MINUTE_MS = 60_000


ContractStore = Store  # both sides of one store, and close: what the contract suite exercises

_tables = itertools.count()
_examples = itertools.count()  # each hypothesis example writes under its own vendor ids


@pytest.fixture(scope="module")
def dynalite_url(aws_credentials: dict[str, str]) -> Iterator[str]:
    """dynalite on 127.0.0.1, once per module."""
    with dynalite_server() as url:
        yield url


def _dynamodb(endpoint_url: str) -> Iterator[DynamoDBStore]:
    client = boto3.client("dynamodb", endpoint_url=endpoint_url, region_name="us-east-1")
    name = f"store-contract-{next(_tables)}"
    create_table(client, name)
    store = DynamoDBStore(name, client, clock=lambda: NOW_MS)
    yield store
    store.close()  # the client is the test's: it stays open
    client.delete_table(TableName=name)
    client.close()


@pytest.fixture(
    params=[
        pytest.param("moto", marks=pytest.mark.aws),
        pytest.param("dynalite", marks=pytest.mark.aws),
        "sqlite",
        "memory",
    ]
)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ContractStore]:
    """A fresh, empty store on each implementation."""
    if request.param == "sqlite":
        sqlite = SQLiteStore(tmp_path / "store.db", clock=lambda: NOW_MS)
        yield sqlite
        sqlite.close()
    elif request.param == "memory":
        memory = MemoryStore(clock=lambda: NOW_MS)
        yield memory
        memory.close()
    else:
        yield from _dynamodb(request.getfixturevalue(f"{request.param}_url"))


def contribution(**overrides: Any) -> Contribution:
    """A contribution of vendor 1 to the window [60 s, 120 s); keywords override fields."""
    fields: dict[str, Any] = {
        "contribution_id": "input-stream|shardId-000000000000|60000|1",
        "vendor_id": "1",
        "window_start_ms": MINUTE_MS,
        "window_end_ms": 2 * MINUTE_MS,
        "totals": Totals(
            trip_count=2,
            distance_milli=3_141,
            duration_s=900,
            passenger_count=3,
            fare_cents=2_470,
            tip_cents=512,
            amount_cents=3_582,
        ),
        "clock": "arrival",
    }
    return Contribution(**(fields | overrides))


def dead_letter(sequence: int, **overrides: Any) -> DeadLetter:
    """A dead letter from shard 0 at the given sequence number, arrived sequence ms after 1000."""
    origin = Origin(
        "input-stream", "shardId-000000000000", f"{sequence:056d}", None, 1000 + sequence
    )
    fields: dict[str, Any] = {
        "origin": origin,
        "reason": "not_json",
        "message": f"record {sequence} is not JSON",
        "raw": b"\xf3\x89\x9a\xc2\x00\xff not json " + str(sequence).encode(),
    }
    return DeadLetter(**(fields | overrides))


def test_apply_adds_totals_exactly(store: ContractStore) -> None:
    """Two contributions to one window add up field by field; the window keeps its metadata."""
    first = contribution(contribution_id="a")
    second = contribution(contribution_id="b", totals=Totals(1, 1, 60, 1, -700, 1, -749))
    assert store.apply([first, second]) == 2
    [window] = store.windows()
    assert window.totals == Totals(3, 3_142, 960, 4, 1_770, 513, 2_833)  # a refund lowers money
    assert (window.vendor_id, window.window_start_ms, window.window_end_ms) == (
        "1",
        60_000,
        120_000,
    )
    assert (window.contributions, window.clock, window.updated_ms) == (2, "arrival", NOW_MS)


def test_reapplying_a_contribution_changes_nothing(store: ContractStore) -> None:
    """A contribution id applied before is a no-op that returns 0, alone or within a batch."""
    assert store.apply([contribution()]) == 1
    assert store.apply([contribution()]) == 0
    assert store.apply([contribution(), contribution(contribution_id="new"), contribution()]) == 1
    [window] = store.windows()
    assert (window.totals, window.contributions) == (
        Totals(4, 6_282, 1_800, 6, 4_940, 1_024, 7_164),
        2,
    )


def test_an_empty_batch_applies_nothing(store: ContractStore) -> None:
    """Applying no contributions returns 0 and creates no window."""
    assert store.apply([]) == 0
    assert store.windows() == []


_totals = st.builds(
    Totals,
    trip_count=st.integers(1, 500),
    distance_milli=st.integers(0, 10**12),
    duration_s=st.integers(0, 86_400 * 500),
    passenger_count=st.integers(0, 9 * 500),
    fare_cents=st.integers(-(10**9), 10**9),
    tip_cents=st.integers(-(10**7), 10**9),
    amount_cents=st.integers(-(10**9), 10**9),
)
_parts = st.lists(
    st.tuples(st.sampled_from(["1", "2"]), st.sampled_from([0, MINUTE_MS]), _totals),
    min_size=1,
    max_size=6,
)


@settings(
    max_examples=12,
    deadline=None,  # each example makes HTTP calls to a local server
    # One store serves every example: each example writes under vendor ids of its own.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(parts=_parts, data=st.data())
def test_any_order_and_grouping_gives_identical_totals(
    store: ContractStore, parts: list[tuple[str, int, Totals]], data: st.DataObject
) -> None:
    """Contributions applied in any order, in any batches, redelivered, give the exact sums."""
    n = next(_examples)
    contributions = [
        contribution(
            contribution_id=f"example-{n}|{i}",
            vendor_id=f"{vendor}-{n}",
            window_start_ms=start,
            window_end_ms=start + MINUTE_MS,
            totals=totals,
        )
        for i, (vendor, start, totals) in enumerate(parts)
    ]
    redelivered = data.draw(st.lists(st.sampled_from(contributions), max_size=3))
    delivered = data.draw(st.permutations(contributions + redelivered))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(delivered)), max_size=3)))
    batches = [delivered[a:b] for a, b in itertools.pairwise([0, *cuts, len(delivered)])]

    assert sum(store.apply(batch) for batch in batches) == len(contributions)

    expected = merge({(c.vendor_id, c.window_start_ms): c.totals} for c in contributions)
    vendors = sorted({c.vendor_id for c in contributions})
    stored = [w for vendor in vendors for w in store.windows(vendor)]
    assert {(w.vendor_id, w.window_start_ms): w.totals for w in stored} == expected


def test_windows_filter_by_vendor_and_time_range(store: ContractStore) -> None:
    """windows() selects by vendor and by start in [start_ms, end_ms), ordered by vendor, start."""
    starts = [-MINUTE_MS, 0, MINUTE_MS, 2 * MINUTE_MS]  # one window before 1970
    store.apply(
        [
            contribution(
                contribution_id=f"{vendor}|{start}",
                vendor_id=vendor,
                window_start_ms=start,
                window_end_ms=start + MINUTE_MS,
            )
            for vendor in ("2", "1")
            for start in starts
        ]
    )

    def keys(**query: Any) -> list[tuple[str, int]]:
        return [(w.vendor_id, w.window_start_ms) for w in store.windows(**query)]

    assert keys() == [(v, s) for v in ("1", "2") for s in starts]
    assert keys(vendor_id="2") == [("2", s) for s in starts]
    assert keys(start_ms=0, end_ms=2 * MINUTE_MS) == [
        ("1", 0),
        ("1", MINUTE_MS),
        ("2", 0),
        ("2", MINUTE_MS),
    ]
    assert keys(vendor_id="1", start_ms=1) == [("1", MINUTE_MS), ("1", 2 * MINUTE_MS)]
    assert keys(vendor_id="1", end_ms=0) == [("1", -MINUTE_MS)]
    assert keys(vendor_id="1", start_ms=MINUTE_MS, end_ms=MINUTE_MS + 1) == [("1", MINUTE_MS)]
    assert keys(start_ms=MINUTE_MS, end_ms=MINUTE_MS) == []
    assert keys(vendor_id="3") == []


def test_vendor_ids_are_opaque_and_never_mix_with_dead_letters(store: ContractStore) -> None:
    """Any printable vendor id round-trips, and windows and dead letters stay apart."""
    vendors = ["#dead-letter", "##2", "CMT", "Vendor Ä 7"]
    store.apply([contribution(contribution_id=v, vendor_id=v) for v in vendors])
    store.put_dead_letters([dead_letter(1)])
    assert [w.vendor_id for w in store.windows()] == sorted(vendors)
    assert [w.vendor_id for w in store.windows("#dead-letter")] == ["#dead-letter"]
    assert store.dead_letters() == [dead_letter(1)]


def test_exact_values_round_trip(store: ContractStore) -> None:
    """Thousandths of a mile and cents (signed) add without rounding and come back as the same
    integers."""
    one = Totals(1, 1, 1, 1, 1, 1, -1)
    store.apply([contribution(contribution_id=str(i), totals=one) for i in range(3)])
    big = Totals(10**9, 10**18 + 7, 10**15 + 3, 9 * 10**9, 10**16 + 1, 10**14 + 9, -(10**16) - 3)
    store.apply([contribution(contribution_id="big", vendor_id="2", totals=big)])
    small, large = store.windows()
    assert small.totals == Totals(3, 3, 3, 3, 3, 3, -3)  # 0.001 mile, $0.01: exactly, thrice
    assert large.totals == big
    assert all(type(v) is int for v in (*small.totals.as_list(), *large.totals.as_list()))


def test_dead_letters_are_stored_once_by_id(store: ContractStore) -> None:
    """A dead letter keeps its reason, message, raw bytes and origin; a repeat is not stored."""
    first = dead_letter(1)
    second = dead_letter(2, origin=Origin("input-stream", "shardId-000000000001", "9", 4, 1002))
    assert store.put_dead_letters([first, second, first]) == 2
    assert store.put_dead_letters([first]) == 0
    assert store.dead_letters() == [first, second]


def test_dead_letters_come_oldest_first_up_to_a_limit(store: ContractStore) -> None:
    """dead_letters(limit) returns the oldest ones first, at most limit of them."""
    letters = [dead_letter(i) for i in range(1, 6)]
    store.put_dead_letters(letters)
    assert store.dead_letters(2) == letters[:2]
    assert store.dead_letters(10) == letters
    assert store.dead_letters(0) == []


def test_dead_letters_newest_first_keep_the_newest_up_to_a_limit(store: ContractStore) -> None:
    """dead_letters(limit, newest_first=True) returns the newest ones first, at most limit."""
    letters = [dead_letter(i) for i in (1, 2, 9, 10, 11)]
    store.put_dead_letters(letters)
    assert store.dead_letters(2, newest_first=True) == [letters[4], letters[3]]
    assert store.dead_letters(10, newest_first=True) == letters[::-1]
    assert store.dead_letters(newest_first=True) == store.dead_letters()[::-1]
    assert store.dead_letters(0, newest_first=True) == []


def test_dead_letters_are_counted_by_reason(store: ContractStore) -> None:
    """dead_letter_reasons() counts each stored dead letter once under its reason."""
    assert store.dead_letter_reasons() == {}
    reasons = ["not_json", "late", "bad_vendor", "late", "not_json", "late", "too_large"]
    letters = [dead_letter(i, reason=r) for i, r in enumerate(reasons, start=1)]
    store.put_dead_letters([*letters, letters[0]])  # a repeat is one letter, counted once
    assert store.dead_letter_reasons() == {
        "late": 3,
        "not_json": 2,
        "bad_vendor": 1,
        "too_large": 1,
    }


@pytest.mark.aws
def test_dynamodb_counts_every_dead_letter_by_reason_beyond_ten_thousand(
    dynalite_url: str,
) -> None:
    """DynamoDB counts the reasons of all 10,250 dead letters, over every page of its Query."""
    reasons = ["not_json"] * 9_000 + ["bad_vendor"] * 1_000 + ["late"] * 250  # late: newest
    letters = [dead_letter(i, reason=r) for i, r in enumerate(reasons, start=1)]
    for store in _dynamodb(dynalite_url):
        items = [{"PutRequest": {"Item": letter_item(d, NOW_MS)}} for d in letters]
        for at in range(0, len(items), 25):  # BatchWriteItem takes 25 items a call
            left = {store.table_name: items[at : at + 25]}
            while left:
                left = store.client.batch_write_item(RequestItems=left)["UnprocessedItems"]
        assert store.counts() == (0, 10_250)
        assert store.dead_letter_reasons() == {"not_json": 9_000, "bad_vendor": 1_000, "late": 250}


def test_empty_raw_bytes_and_message_round_trip(store: ContractStore) -> None:
    """An empty record and an empty message are kept as they are."""
    empty = dead_letter(1, raw=b"", message="")
    store.put_dead_letters([empty])
    assert store.dead_letters() == [empty]


def test_a_store_holds_one_kind_of_window(store: ContractStore) -> None:
    """The windows first claimed stay; another size or clock is refused (rows would mix)."""
    store.claim_windows(60, "arrival")
    store.claim_windows(60, "arrival")
    with pytest.raises(ConfigError, match="60 s"):
        store.claim_windows(30, "arrival")
    with pytest.raises(ConfigError, match="arrival-clock"):
        store.claim_windows(60, "event")
    assert store.windows() == []
    assert store.dead_letters() == []
    assert store.counts() == (0, 0)


def test_a_stream_is_fed_by_one_checkpoint_store(store: ContractStore) -> None:
    """The first checkpoint store to claim a stream keeps it; another id is refused in one line
    naming the stream, the store and the data dir that holds the claim; other streams are free."""
    store.claim_stream("input-stream", "id-a", "data/first")
    store.claim_stream("input-stream", "id-a", "data/first")  # the same checkpoints resume
    with pytest.raises(ConfigError) as refused:
        store.claim_stream("input-stream", "id-b", "data/second")
    message = str(refused.value)
    assert "\n" not in message
    assert "input-stream" in message
    assert "--data-dir data/first" in message
    assert "another data dir" in message
    store.claim_stream("other-stream", "id-b", "data/second")
    assert store.counts() == (0, 0)
    assert store.windows() == []


HOUR_MS = 3_600_000


def mark(**overrides: Any) -> Watermark:
    """Shard 0's watermark at one hour, written by part '5' from none; keywords override."""
    fields: dict[str, Any] = {
        "stream": "input-stream",
        "shard_id": "shardId-000000000000",
        "watermark_ms": HOUR_MS,
        "part": "5",
        "previous_ms": None,
        "last_arrival_ms": HOUR_MS + 2_000,
        **overrides,
    }
    return Watermark(**fields)


def test_a_watermark_is_stored_with_its_contributions(store: ContractStore) -> None:
    """apply(contributions, watermark) keeps both; the shard reads its watermark back."""
    assert store.watermark("input-stream", "shardId-000000000000") is None
    assert store.apply([contribution()], mark()) == 1
    assert store.watermark("input-stream", "shardId-000000000000") == mark()
    assert store.watermarks() == [mark()]


def test_a_watermark_never_moves_back(store: ContractStore) -> None:
    """A lower watermark changes nothing; a higher one replaces it, with its part and previous."""
    store.apply([], mark())
    store.apply([], mark(watermark_ms=HOUR_MS - 1, part="9"))
    assert store.watermarks() == [mark()]
    higher = mark(watermark_ms=HOUR_MS + 60_000, part="9", previous_ms=HOUR_MS)
    store.apply([], higher)
    assert store.watermarks() == [higher]


def test_watermarks_are_kept_per_stream_and_shard(store: ContractStore) -> None:
    """Each (stream, shard) has its own item; watermarks() lists them by stream then shard."""
    b = mark(shard_id="shardId-000000000001", watermark_ms=5)
    c = mark(stream="other-stream", watermark_ms=7, previous_ms=3)
    for item in (c, b, mark()):
        store.apply([], item)
    assert store.watermarks() == [mark(), b, c]
    assert store.watermark("other-stream", "shardId-000000000000") == c


def test_late_trips_are_added_like_the_other_totals(store: ContractStore) -> None:
    """lateTrips of two contributions to one window add up; windows read them back."""
    late = Totals(3, 300, 30, 3, late_trips=2)
    store.apply([contribution(totals=late), contribution(contribution_id="x", totals=late)])
    (window,) = store.windows()
    assert window.totals.late_trips == 4


def test_a_vendor_index_names_each_vendor_once_in_order_up_to_the_limit(
    store: ContractStore,
) -> None:
    """vendors(limit): the distinct vendor ids of the windows, sorted, at most ``limit``."""
    if not isinstance(store, VendorIndex):
        assert isinstance(store, DynamoDBStore)  # listing partitions is a Scan: not offered
        return
    vendors = ["2", "1", "CMT", "1", "v\u00e9", "2"]
    store.apply(
        [
            contribution(
                contribution_id=f"c{i}",
                vendor_id=v,
                window_start_ms=(i + 1) * MINUTE_MS,
                window_end_ms=(i + 2) * MINUTE_MS,
            )
            for i, v in enumerate(vendors)
        ]
    )
    assert store.vendors(10) == sorted(set(vendors))
    assert store.vendors(2) == ["1", "2"]
