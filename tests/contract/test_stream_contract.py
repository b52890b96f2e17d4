"""The stream contract: every stream (kinesalite, moto server, embedded log) behaves the same."""

from __future__ import annotations

import hashlib
import itertools
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import boto3
import pytest
from tests.support.reading import read_shard

from taxi_stream.core.records import StreamRecord
from taxi_stream.ports import StreamReader, StreamWriter
from taxi_stream.streams.kinesis import KinesisStream, create_stream
from taxi_stream.streams.local import LocalStream

SHARDS = 4
LOCAL_START_MS = 1_730_419_200_000  # 2024-11-01T00:00:00Z: the embedded stream clock starts here
TAXI = "\U0001f695"  # outside the Basic Multilingual Plane: two UTF-16 units


class ContractStream(StreamWriter, StreamReader, Protocol):
    """Both sides of one stream: what the contract suite exercises."""


_names = itertools.count()


def _kinesis(endpoint_url: str) -> Iterator[KinesisStream]:
    client = boto3.client("kinesis", endpoint_url=endpoint_url, region_name="us-east-1")
    name = f"contract-{next(_names)}"
    create_stream(client, name, SHARDS)
    yield KinesisStream(name, client, base_delay_s=0.001, max_delay_s=0.01)
    client.delete_stream(StreamName=name)
    client.close()


@pytest.fixture(
    params=[
        pytest.param("kinesalite", marks=pytest.mark.aws),
        pytest.param("moto", marks=pytest.mark.aws),
        "local",
    ]
)
def stream(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ContractStream]:
    """A fresh, empty stream of SHARDS shards on each implementation."""
    yield from _open(request, tmp_path)


@pytest.fixture(params=[pytest.param("kinesalite", marks=pytest.mark.aws), "local"])
def kinesis_like(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ContractStream]:
    """A stream numbering records as Kinesis does (moto's numbers are plain counters)."""
    yield from _open(request, tmp_path)


def _open(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ContractStream]:
    if request.param == "local":
        clock = itertools.count(LOCAL_START_MS, 1_000).__next__
        local = LocalStream(tmp_path / "contract.db", shard_count=SHARDS, clock=clock)
        yield local
        local.close()
    else:
        yield from _kinesis(request.getfixturevalue(f"{request.param}_url"))


def trip_entries(count: int, *, keys: int = 10, prefix: str = "t") -> list[tuple[str, bytes]]:
    """(partition key, JSON trip) entries; key i % keys, payload unique and ordered."""
    return [
        (
            f"vendor-{i % keys}",
            b'{"id": "%s-%d", "vendorId": "%d"}' % (prefix.encode(), i, i % keys),
        )
        for i in range(count)
    ]


def read_all(stream: ContractStream) -> dict[str, list[StreamRecord]]:
    """Every record of every shard, by shard id."""
    return {shard.shard_id: read_shard(stream, shard.shard_id) for shard in stream.list_shards()}


def expected_shard(partition_key: str) -> int:
    """Index of the shard whose even slice of the 128-bit hash range holds MD5(key)."""
    digest = int.from_bytes(hashlib.md5(partition_key.encode()).digest(), "big")
    return (digest * SHARDS) >> 128


def test_list_shards_sees_every_shard_open(stream: ContractStream) -> None:
    """A new stream lists all its shards, open, without parents, with distinct ids."""
    shards = stream.list_shards()
    assert len({shard.shard_id for shard in shards}) == SHARDS
    assert not any(shard.closed or shard.parent_shard_ids for shard in shards)


def test_every_record_reads_back_once_in_order(stream: ContractStream) -> None:
    """Put 300 trips, read every shard: each trip once, in put order per partition key."""
    entries = trip_entries(300)
    result = stream.put_records(entries)
    assert (result.sent, result.failed) == (300, [])
    by_shard = read_all(stream)
    by_key: dict[str, list[bytes]] = defaultdict(list)
    for records in by_shard.values():
        for record in records:
            by_key[record.partition_key].append(record.data)
    expected: dict[str, list[bytes]] = defaultdict(list)
    for key, data in entries:
        expected[key].append(data)
    assert by_key == expected


def test_sequence_numbers_increase_within_each_shard(stream: ContractStream) -> None:
    """Sequence numbers are decimal strings, strictly increasing along a shard."""
    stream.put_records(trip_entries(120, keys=30))
    stream.put_records(trip_entries(120, keys=30, prefix="u"))
    for records in read_all(stream).values():
        numbers = [int(record.sequence_number) for record in records]
        assert numbers == sorted(set(numbers))


def test_sequence_numbers_sort_as_strings_in_shard_order(kinesis_like: ContractStream) -> None:
    """56-digit strings: a handler comparing them as text sees each shard's order."""
    for prefix in "abc":  # a shard's counter passes 9 and 99
        kinesis_like.put_records(trip_entries(100, keys=40, prefix=prefix))
    for records in read_all(kinesis_like).values():
        numbers = [record.sequence_number for record in records]
        assert all(len(number) == 56 and number.isdigit() for number in numbers)
        assert sorted(numbers) == numbers


def test_partition_key_routes_by_md5_to_a_stable_shard(stream: ContractStream) -> None:
    """All records of a key land in the one shard whose hash range holds MD5(key)."""
    stream.put_records(trip_entries(80, keys=16))
    stream.put_records(trip_entries(80, keys=16, prefix="again"))
    shard_ids = sorted(shard.shard_id for shard in stream.list_shards())
    for index, shard_id in enumerate(shard_ids):
        for record in read_shard(stream, shard_id):
            assert expected_shard(record.partition_key) == index, record.partition_key


def test_read_after_a_checkpoint_returns_only_later_records(stream: ContractStream) -> None:
    """Reading after a sequence number gives exactly the records that follow it."""
    stream.put_records(trip_entries(50, keys=1))
    shard_id = next(s for s, records in read_all(stream).items() if records)
    records = read_shard(stream, shard_id)
    checkpoint = records[19].sequence_number
    assert read_shard(stream, shard_id, after=checkpoint) == records[20:]
    assert read_shard(stream, shard_id, after=records[-1].sequence_number) == []


def test_reads_continue_from_the_last_record_returned(stream: ContractStream) -> None:
    """Records put after a read show up on the next read from the last sequence number."""
    stream.put_records(trip_entries(5, keys=1))
    shard_id = next(s for s, records in read_all(stream).items() if records)
    first = read_shard(stream, shard_id)
    stream.put_records(trip_entries(5, keys=1, prefix="later"))
    later = read_shard(stream, shard_id, after=first[-1].sequence_number)
    assert [r.data for r in later] == [data for _, data in trip_entries(5, keys=1, prefix="later")]


def test_empty_reads_are_fine(stream: ContractStream) -> None:
    """An empty open shard reads as no records, not as the end of the shard."""
    for shard in stream.list_shards():
        result = stream.read(shard.shard_id, None, 10)
        assert result.records == []
        assert not result.end_of_shard


def test_read_honours_the_limit(stream: ContractStream) -> None:
    """A read returns at most ``limit`` records; the rest follow on the next read."""
    stream.put_records(trip_entries(25, keys=1))
    shard_id = next(s for s, records in read_all(stream).items() if records)
    first = stream.read(shard_id, None, 10).records
    assert 0 < len(first) <= 10
    rest = read_shard(stream, shard_id, after=first[-1].sequence_number)
    assert len(first) + len(rest) == 25


def test_records_carry_their_arrival_time_in_put_order(stream: ContractStream) -> None:
    """Arrival times are epoch ms (past 2001), never decreasing along a shard or across puts."""
    stream.put_records(trip_entries(20, prefix="first"))
    stream.put_records(trip_entries(20, prefix="second"))
    records = [record for shard in read_all(stream).values() for record in shard]
    assert len(records) == 40
    assert all(record.arrival_ms > 10**12 for record in records)  # ms, not seconds
    for shard in read_all(stream).values():
        arrivals = [record.arrival_ms for record in shard]
        assert arrivals == sorted(arrivals)
    first = [r.arrival_ms for r in records if r.data.startswith(b'{"id": "first-')]
    second = [r.arrival_ms for r in records if r.data.startswith(b'{"id": "second-')]
    assert max(first) <= min(second)


def test_bad_entries_are_reported_failed_and_the_rest_go_in(stream: ContractStream) -> None:
    """An oversized record and an empty partition key fail alone; counts add up."""
    good = trip_entries(3)
    entries = [good[0], ("big", b"x" * (1024 * 1024 + 1)), good[1], ("", b"{}"), good[2]]
    result = stream.put_records(entries)
    assert result.sent == 3
    assert [index for index, _ in result.failed] == [1, 3]
    assert [reason.split(":")[0] for _, reason in result.failed] == [
        "too_large",
        "bad_partition_key",
    ]
    stored = sorted(r.data for records in read_all(stream).values() for r in records)
    assert stored == sorted(data for _, data in good)


def test_partition_keys_are_1_to_256_utf16_units_as_kinesis_counts(stream: ContractStream) -> None:
    """128 emoji (256 units) fit; 256 emoji (512 units), 257 letters, a lone surrogate fail."""
    entries = [
        (TAXI * 128, b"256 units"),
        (TAXI * 256, b"512 units"),
        ("é" * 256, b"256 units in 512 bytes"),
        ("a" * 257, b"257 units"),
        ("\ud800", b"not UTF-8"),
        ("k", b"1 unit"),
    ]
    result = stream.put_records(entries)
    assert result.sent == 3
    assert [index for index, _ in result.failed] == [1, 3, 4]
    assert all(reason.startswith("bad_partition_key") for _, reason in result.failed)
    stored = sorted((r.partition_key, r.data) for shard in read_all(stream).values() for r in shard)
    assert stored == sorted(entries[i] for i in (0, 2, 5))
