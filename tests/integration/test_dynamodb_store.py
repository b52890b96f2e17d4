"""DynamoDB-only behaviour of DynamoDBStore: item layout, races, size bounds, errors."""

from __future__ import annotations

import hashlib
import itertools
import socket
import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError
from tests.servers.moto import fake_aws_credentials, moto_server
from tests.servers.node import dynalite_server

from taxi_stream.core.errors import ConfigError, StoreError
from taxi_stream.core.records import Contribution, DeadLetter, Origin
from taxi_stream.core.totals import Totals
from taxi_stream.stores.dynamodb import (
    DEAD_LETTER_KEY,
    DynamoDBStore,
    cents,
    create_table,
    dollars,
    miles,
    milli,
)

pytestmark = pytest.mark.aws

NOW_MS = 1_700_000_000_123
WINDOW_MS = 1_730_448_900_000  # 2024-11-01T08:15:00Z
_tables = itertools.count()


@pytest.fixture(scope="module")
def aws_env() -> Iterator[dict[str, str]]:
    """Fake credentials and region while this module runs (never real ones)."""
    with fake_aws_credentials() as env:
        yield env


@pytest.fixture(scope="module", params=["moto", "dynalite"])
def endpoint_url(request: pytest.FixtureRequest, aws_env: dict[str, str]) -> Iterator[str]:
    """A local DynamoDB on 127.0.0.1: moto's server, then dynalite."""
    with moto_server() if request.param == "moto" else dynalite_server() as url:
        yield url


@pytest.fixture
def client(endpoint_url: str) -> Iterator[Any]:
    """A low-level DynamoDB client of the local endpoint."""
    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint_url, region_name="us-east-1")
    yield dynamodb
    dynamodb.close()


@pytest.fixture
def table(client: Any) -> Iterator[str]:
    """A fresh table with the design's keys, deleted afterwards."""
    name = f"store-it-{next(_tables)}"
    create_table(client, name)
    yield name
    client.delete_table(TableName=name)


@pytest.fixture
def store(client: Any, table: str) -> DynamoDBStore:
    """A store on the fresh table with a fixed clock."""
    return DynamoDBStore(table, client, clock=lambda: NOW_MS)


def contribution(**overrides: Any) -> Contribution:
    """A contribution of vendor 2 to the window 2024-11-01T08:15:00Z; keywords override fields."""
    fields: dict[str, Any] = {
        "contribution_id": "input-stream|shardId-000000000000|1730448900000|4959",
        "vendor_id": "2",
        "window_start_ms": WINDOW_MS,
        "window_end_ms": WINDOW_MS + 60_000,
        "totals": Totals(3, 4_567, 1_800, 5, fare_cents=4_830, tip_cents=905, amount_cents=6_735),
        "clock": "event",
    }
    return Contribution(**(fields | overrides))


def test_table_has_the_designed_keys_and_on_demand_billing(client: Any, table: str) -> None:
    """Partition key vendorId (S), sort key windowStart (S), pay per request."""
    described = client.describe_table(TableName=table)["Table"]
    assert described["KeySchema"] == [
        {"AttributeName": "vendorId", "KeyType": "HASH"},
        {"AttributeName": "windowStart", "KeyType": "RANGE"},
    ]
    assert {a["AttributeName"]: a["AttributeType"] for a in described["AttributeDefinitions"]} == {
        "vendorId": "S",
        "windowStart": "S",
    }
    assert described["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"


def test_create_table_is_idempotent(client: Any, table: str) -> None:
    """Creating a table that exists reports False and leaves it ACTIVE."""
    assert create_table(client, table) is False
    assert client.describe_table(TableName=table)["Table"]["TableStatus"] == "ACTIVE"


def test_window_item_layout_follows_the_design(client: Any, store: DynamoDBStore) -> None:
    """A window item holds ISO-8601 keys, exact numbers, the id set, updatedAt and the clock."""
    store.apply([contribution(), contribution(contribution_id="second")])
    key = {"vendorId": {"S": "2"}, "windowStart": {"S": "2024-11-01T08:15:00Z"}}
    item = client.get_item(TableName=store.table_name, Key=key)["Item"]
    assert item.pop("windowEnd") == {"S": "2024-11-01T08:16:00Z"}
    assert item.pop("updatedAt") == {"S": "2023-11-14T22:13:20.123Z"}
    assert item.pop("clock") == {"S": "event"}
    assert set(item.pop("contributions")["SS"]) == {contribution().contribution_id, "second"}
    numbers = {name: Decimal(value["N"]) for name, value in item.items() if "N" in value}
    assert numbers == {
        "tripCount": 6,
        "totalDistance": Decimal("9.134"),  # miles, exactly 2 x 4.567
        "totalDuration": 3_600,
        "passengerCount": 10,
        "totalFare": Decimal("96.60"),  # US dollars, exactly 2 x 48.30
        "totalTip": Decimal("18.10"),
        "totalAmount": Decimal("134.70"),
        "lateTrips": 0,
        "contributionCount": 2,
    }
    assert set(item) == {"vendorId", "windowStart", *numbers}


def test_a_window_item_written_before_the_money_totals_reads_and_adds_from_zero(
    client: Any, store: DynamoDBStore
) -> None:
    """An item without totalFare, totalTip and totalAmount reads as 0 cents of each, and the
    next contribution's ADD starts them from 0, its counts added to the item's."""
    old = {"tripCount": "4", "totalDistance": "1.5", "totalDuration": "700", "passengerCount": "4",
           "contributionCount": "1"}  # fmt: skip
    client.put_item(
        TableName=store.table_name,
        Item={
            "vendorId": {"S": "2"},
            "windowStart": {"S": "2024-11-01T08:15:00Z"},
            "windowEnd": {"S": "2024-11-01T08:16:00Z"},
            "updatedAt": {"S": "2023-11-14T22:13:20.123Z"},
            "clock": {"S": "event"},
            "contributions": {"SS": ["an-old-one"]},
            **{name: {"N": value} for name, value in old.items()},
        },
    )
    [window] = store.windows()
    assert window.totals == Totals(4, 1_500, 700, 4)
    store.apply([contribution(totals=Totals(1, 1, 1, 1, -250, 0, -325))])
    [window] = store.windows()
    assert window.totals == Totals(5, 1_501, 701, 5, -250, 0, -325)


@pytest.mark.parametrize("amount", [0, 1, -1, 99, 100, -4_830, 10**18 + 7, -(10**35)])
def test_money_is_exact_cents_in_decimal_dollars(amount: int) -> None:
    """Cents convert to decimal dollars and back without any rounding, signed."""
    item = {"totalTip": {"N": str(dollars(amount))}}
    assert cents(item, "totalTip") == amount


def test_money_finer_than_cents_is_refused() -> None:
    """A stored amount that is not whole cents is a StoreError, never rounded."""
    with pytest.raises(StoreError, match="cents"):
        cents({"totalFare": {"N": "1.005"}}, "totalFare")


# Only on dynalite: moto's server checks a ConditionExpression and applies the update without
# isolation from a concurrent request (double applies seen); DynamoDB and dynalite serialize
# the writes to an item.
@pytest.mark.parametrize("endpoint_url", ["dynalite"], indirect=True)
def test_concurrent_apply_of_one_contribution_applies_it_once(
    endpoint_url: str, store: DynamoDBStore
) -> None:
    """Two writers racing with the same contributions (two Lambdas on a retry) add each once."""
    contributions = [contribution(contribution_id=f"race-{i}") for i in range(15)]
    barrier = threading.Barrier(2)
    applied: list[int] = []

    def writer() -> None:
        dynamodb = boto3.client("dynamodb", endpoint_url=endpoint_url, region_name="us-east-1")
        barrier.wait(timeout=10)
        for c in contributions:
            applied.append(DynamoDBStore(store.table_name, dynamodb).apply([c]))
        dynamodb.close()

    threads = [threading.Thread(target=writer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(applied) == [0] * 15 + [1] * 15
    [window] = store.windows()
    assert (window.totals, window.contributions) == (
        Totals(45, 68_505, 27_000, 75, 72_450, 13_575, 101_025),
        15,
    )


def test_dead_letter_item_is_inspectable(client: Any, store: DynamoDBStore) -> None:
    """A dead letter sits in the reserved partition, sorted by arrival, with its raw bytes."""
    origin = Origin("input-stream", "shardId-000000000003", "4959", 2, WINDOW_MS + 1)
    letter = DeadLetter(origin, "not_json", "Expecting value", b"\x00{oops")
    store.put_dead_letters([letter])
    [item] = client.scan(TableName=store.table_name)["Items"]
    assert item["vendorId"] == {"S": DEAD_LETTER_KEY}
    assert item["windowStart"] == {"S": "2024-11-01T08:15:00.001Z|" + letter.letter_id}
    assert item["raw"] == {"B": b"\x00{oops"}
    assert item["rawSize"] == {"N": "6"}
    assert item["rawSha256"] == {"S": hashlib.sha256(b"\x00{oops").hexdigest()}
    assert (item["reason"], item["shardId"], item["subSequence"]) == (
        {"S": "not_json"},
        {"S": "shardId-000000000003"},
        {"N": "2"},
    )


def test_dead_letter_raw_bytes_are_bounded(client: Any, store: DynamoDBStore) -> None:
    """A 1 MiB record is stored cut to its first 256 KiB, with its original size and digest."""
    raw = bytes(range(256)) * 4096 + b"!"
    letter = DeadLetter(
        Origin("input-stream", "shardId-0", "7", None, 5), "too_large", "x" * 9000, raw
    )
    assert store.put_dead_letters([letter]) == 1
    [stored] = store.dead_letters()
    assert stored.raw == raw[: 256 * 1024]
    assert len(stored.message) < 9000
    [item] = client.scan(TableName=store.table_name)["Items"]
    assert (item["rawSize"], item["rawSha256"]) == (
        {"N": str(len(raw))},
        {"S": hashlib.sha256(raw).hexdigest()},
    )


def test_a_vendor_named_like_a_reserved_key_is_escaped(client: Any, store: DynamoDBStore) -> None:
    """Vendor '#dead-letter' is stored under '##dead-letter', apart from the dead letters."""
    store.apply([contribution(vendor_id=DEAD_LETTER_KEY)])
    [item] = client.scan(TableName=store.table_name)["Items"]
    assert item["vendorId"] == {"S": "##dead-letter"}
    assert store.dead_letters() == []
    assert [w.vendor_id for w in store.windows(DEAD_LETTER_KEY)] == [DEAD_LETTER_KEY]


def test_reads_follow_every_page(client: Any, store: DynamoDBStore) -> None:
    """Query and Scan results spread over many pages are read to the end."""
    store.apply(
        [
            contribution(contribution_id=str(i), window_start_ms=WINDOW_MS + i * 60_000)
            for i in range(5)
        ]
    )
    store.put_dead_letters(
        [DeadLetter(Origin("s", "sh", str(i), None, i), "r", "m", b"") for i in range(5)]
    )

    def two_per_page(params: dict[str, Any], **_: Any) -> None:
        params["Limit"] = 2

    client.meta.events.register("provide-client-params.dynamodb.Query", two_per_page)
    client.meta.events.register("provide-client-params.dynamodb.Scan", two_per_page)
    assert len(store.windows()) == 5
    assert len(store.windows("2")) == 5
    assert len(store.dead_letters()) == 5
    assert store.counts() == (15, 5)


def test_windows_of_one_vendor_query_its_partition_only(client: Any, store: DynamoDBStore) -> None:
    """windows(vendor) is one Query (no Scan); windows() is a Scan."""
    calls: list[str] = []
    client.meta.events.register(
        "before-call.dynamodb.*", lambda model, **_: calls.append(model.name)
    )
    store.windows("2", start_ms=0, end_ms=WINDOW_MS)
    store.windows()
    assert calls == ["Query", "Scan"]


def test_aws_errors_become_store_errors(client: Any) -> None:
    """A missing table is a StoreError whose cause is the botocore error, on every operation."""
    store = DynamoDBStore("no-such-table", client)
    letter = DeadLetter(Origin("s", "sh", "1"), "r", "m", b"")
    for operation in (
        lambda: store.apply([contribution()]),
        lambda: store.put_dead_letters([letter]),
        store.windows,
        store.dead_letters,
    ):
        with pytest.raises(StoreError, match="no-such-table") as caught:
            operation()
        assert isinstance(caught.value.__cause__, ClientError)


def test_an_unreachable_endpoint_is_a_store_error(aws_env: dict[str, str]) -> None:
    """Connection refused surfaces as StoreError, not as a botocore exception."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=1)
    dynamodb = boto3.client(
        "dynamodb", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1", config=config
    )
    with pytest.raises(StoreError) as caught:
        DynamoDBStore("t-1", dynamodb).apply([contribution()])
    assert isinstance(caught.value.__cause__, EndpointConnectionError)
    dynamodb.close()


def test_default_client_is_built_lazily_from_endpoint_and_region(
    endpoint_url: str, table: str
) -> None:
    """Without an injected client the store builds one on first use, for the given endpoint."""
    store = DynamoDBStore(table, region="us-east-1", endpoint_url=endpoint_url)
    assert store.apply([contribution()]) == 1
    assert store.client is store.client
    assert store.client.meta.endpoint_url == endpoint_url
    store.client.close()


def test_a_missing_region_is_a_config_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """No region anywhere (arguments, environment, config file) is a ConfigError."""
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "absent"))
    with pytest.raises(ConfigError, match="region"):
        _ = DynamoDBStore().client


@pytest.mark.parametrize("distance_milli", [0, 1, 999, 1_000, 4_567, 10**18 + 7, 10**37])
def test_miles_are_exact_thousandths(distance_milli: int) -> None:
    """Thousandths of a mile convert to decimal miles and back without any rounding."""
    assert milli(str(miles(distance_milli))) == distance_milli


def test_a_distance_finer_than_thousandths_is_refused() -> None:
    """A stored distance that is not whole thousandths of a mile is a StoreError, never rounded."""
    with pytest.raises(StoreError, match="thousandths"):
        milli("1.2345")
