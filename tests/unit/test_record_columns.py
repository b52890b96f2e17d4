"""A read's records kept as columns, read any way, are the records built one by one."""

from __future__ import annotations

import json
import random
from itertools import product
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from taxi_stream.core.recordbatch import RecordBatch, StoredChunk
from taxi_stream.core.records import StreamRecord
from taxi_stream.runner.events import fit_payload, kinesis_records, record_view
from taxi_stream.streams import batches
from taxi_stream.streams.local import LocalStream
from tests.support import hostile
from tests.unit.test_record_view import ARN, SHARD, outcome

START_MS = 1_730_419_200_000

keys = st.text(min_size=1, max_size=6)  # any characters, non-ASCII among them
payloads = st.binary(max_size=12) | st.sampled_from([b"", b"\xf3\x89\x9a\xc2", b"{}"])
digits = st.integers(min_value=1, max_value=54)  # the first counter's digit count
entries = st.lists(st.tuples(keys, payloads), min_size=1, max_size=14)


@st.composite
def chunk_specs(draw: st.DrawFn) -> tuple[bool, str, int, int, int, list[tuple[str, bytes]]]:
    """(stored?, prefix, width, first counter, arrival ms, entries) of one run of records."""
    first = 10 ** (draw(digits) - 1) + draw(st.integers(0, 12)) - 6
    prefix, width = draw(st.sampled_from([("490002", 50), ("", 0), ("7", 3)]))
    arrival = START_MS + draw(st.integers(-3, 3)) * 1_000
    return draw(st.booleans()), prefix, width, max(first, 1), arrival, draw(entries)


def written_out(prefix: str, width: int, counter: int) -> str:
    """A sequence number as the stream's format spells it: the prefix, the counter padded."""
    text = str(counter)
    return prefix + "0" * (width - len(text)) + text


def build(specs: list[tuple[bool, str, int, int, int, list[tuple[str, bytes]]]]) -> tuple[
    RecordBatch, list[StreamRecord]
]:  # fmt: skip
    """The batch of these runs (stored ones encoded and decoded as the stream does), and the
    records written out one by one."""
    chunks, expected = [], []
    for stored, prefix, width, first, arrival, run in specs:
        records = [
            StreamRecord(written_out(prefix, width, first + n), arrival, key, data)
            for n, (key, data) in enumerate(run)
        ]
        expected += records
        if stored:
            codec, size, body = batches.encode([k for k, _ in run], [d for _, d in run])
            columns = batches.decode_columns(len(run), codec, size, body)
            body_bytes, ends, decoded_keys, cut = columns
            sequence = (prefix, width, first)
            chunks.append(StoredChunk(cut, arrival, sequence, body_bytes, ends, decoded_keys))
        else:
            chunks.append(RecordBatch.of(records)._chunks[0])
    return RecordBatch(chunks), expected


@settings(max_examples=150, deadline=None)
@given(st.lists(chunk_specs(), max_size=4), st.data())
def test_a_batch_reads_as_the_list_of_its_records(
    specs: list[tuple[bool, str, int, int, int, list[tuple[str, bytes]]]], data: st.DataObject
) -> None:
    """Iterated, indexed (negative indexes too), sliced with any step, its columns and cuts
    summed, a batch gives what the records built one by one give."""
    batch, expected = build(specs)
    n = len(expected)
    assert len(batch) == n
    assert list(batch) == expected
    assert batch == expected
    assert [batch[i] for i in range(-n, n)] == expected + expected
    for bad in (n, -n - 1):
        try:
            batch[bad]
        except IndexError:
            pass
        else:
            raise AssertionError(f"index {bad} of {n} records did not raise")
    bounds = st.integers(-n - 2, n + 2) | st.none()
    start, stop = data.draw(bounds), data.draw(bounds)
    step = data.draw(st.sampled_from([None, 1, 2, -1, 3]))
    part = batch[start:stop:step]
    assert list(part) == expected[start:stop:step]
    assert part.payloads() == [r.data for r in expected[start:stop:step]]
    inner = data.draw(st.integers(-n - 1, n + 1))
    assert list(batch[start:stop][inner:]) == expected[start:stop][inner:]  # a cut of a cut
    assert list(part.sequence_numbers()) == [r.sequence_number for r in part]
    assert batch[1:][1:].sequence_chars() == sum(len(r.sequence_number) for r in expected[2:])
    assert batch.payloads() == [r.data for r in expected]
    assert batch.arrivals() == [r.arrival_ms for r in expected]
    assert sum(c for c, _ in batch.arrival_runs()) == n
    assert batch.key_chars() == sum(len(r.partition_key) for r in expected)
    assert batch.sequence_chars() == sum(len(r.sequence_number) for r in expected)
    numbers = batch.sequence_numbers()
    assert list(numbers) == [r.sequence_number for r in expected]
    assert [numbers[i] for i in range(-n, n)] == [r.sequence_number for r in expected] * 2
    cut_ms = START_MS + data.draw(st.integers(-3, 4)) * 1_000
    assert list(batch.since(cut_ms)) == [r for r in expected if r.arrival_ms >= cut_ms]
    leading = next((i for i, r in enumerate(expected) if r.arrival_ms >= cut_ms), n)
    assert batch.arrived_before(cut_ms) == leading
    joined = batch[: n // 2] + batch[n // 2 :]
    assert list(joined) == expected


@settings(max_examples=80, deadline=None)
@given(st.lists(chunk_specs(), min_size=1, max_size=4), st.integers(1, 4_000), st.data())
def test_the_events_and_the_payload_cut_of_a_batch_are_those_of_its_records(
    specs: list[tuple[bool, str, int, int, int, list[tuple[str, bytes]]]],
    limit: int,
    data: st.DataObject,
) -> None:
    """The AWS records a handler sees (the view by index, negative index or slice, and the
    plain list) and the payload cut are the same over the batch and over the records."""
    batch, expected = build(specs)
    n = len(expected)
    plain = kinesis_records(expected, SHARD, ARN)
    assert kinesis_records(batch, SHARD, ARN) == plain
    view = record_view(batch, SHARD, ARN)
    assert list(view) == plain
    assert [view[i] for i in range(-n, n)] == plain + plain
    start, stop = data.draw(st.integers(-n - 1, n + 1)), data.draw(st.integers(-n - 1, n + 1))
    assert view[start:stop] == plain[start:stop]
    assert view[::-1] == plain[::-1]
    assert fit_payload(batch, limit) == fit_payload(expected, limit)


def stream_of(tmp_path: Path, count: int, seed: int, *, kpl: bool) -> LocalStream:
    """An embedded stream holding hostile and good payloads (KPL aggregates among them, if
    ``kpl``), non-ASCII keys among them, put 70 at a time 7 s apart."""
    puts = iter(range(10**6))
    stream = LocalStream(tmp_path / f"s{seed}.db", 1, clock=lambda: START_MS + 7_000 * next(puts))
    rng = random.Random(seed)
    makers = [hostile.deep, hostile.numbers, hostile.types, hostile.bad_utf8, hostile.truncated,
              hostile.garbage, hostile.stamps] + [hostile.kpl_corrupt] * kpl  # fmt: skip
    entries = []
    for n in range(count):
        item = rng.choice(makers)(rng, n)
        data = json.dumps(hostile.good_trip(rng, n)).encode() if n % 2 else item.data
        entries.append((f"k{n}" if n % 5 else f"ключ-{n}", data or b""))
    for start in range(0, count, 70):
        stream.put_records(entries[start : start + 70])
    return stream


def test_the_handler_reads_a_read_batch_as_it_reads_the_records_built(tmp_path: Path) -> None:
    """Over a read of several stored batches (hostile payloads, KPL aggregates or none,
    non-ASCII keys), both clocks: the same state, totals and dead letters, field by field,
    from the columns as from the AWS-shaped list."""
    for seed, (clock, kpl) in enumerate(product(("arrival", "event"), (False, True))):
        stream = stream_of(tmp_path, 400, seed, kpl=kpl)
        result = stream.read("shardId-000000000000", None, 1_000).records
        stream.close()
        assert isinstance(result, RecordBatch)
        built: list[Any] = list(result)
        assert len(built) == 400
        plain = outcome(kinesis_records(built, SHARD, ARN), clock)
        assert outcome(record_view(result, SHARD, ARN), clock) == plain
        assert outcome(record_view(result[37:333], SHARD, ARN), clock) == outcome(
            kinesis_records(built[37:333], SHARD, ARN), clock
        )
        assert plain[2]  # some windows
        assert plain[3]  # some dead letters
