"""KPL aggregation: the hand-rolled protobuf encoder and decoder agree, and corruption is named."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taxi_stream.core.errors import Reason, RecordError
from taxi_stream.streams import kpl

keys = st.text(min_size=1, max_size=40)
entries = st.lists(st.tuples(keys, st.binary(max_size=300)), min_size=1, max_size=40)


def _framed(message: bytes) -> bytes:
    """A KPL record around a raw protobuf message, with a correct MD5."""
    return kpl.MAGIC + message + hashlib.md5(message).digest()


@given(entries)
def test_round_trip_keeps_every_user_record_in_order(records: list[tuple[str, bytes]]) -> None:
    """Aggregating then deaggregating gives back the same (key, data) pairs in order."""
    assert kpl.deaggregate(kpl.aggregate(records)) == records


@given(entries, st.integers(min_value=64, max_value=4_000))
def test_pack_runs_fit_the_limit_and_cover_every_entry(
    records: list[tuple[str, bytes]], max_bytes: int
) -> None:
    """Packed runs are consecutive, cover every entry, fit max_bytes, and decode to their part."""
    runs = list(kpl.pack(records, max_bytes))
    assert [i for run, _ in runs for i in run] == list(range(len(records)))
    for run, data in runs:
        part = records[run.start : run.stop]
        if len(part) == 1:
            assert data == part[0][1]
        else:
            assert data == kpl.aggregate(part)
            assert len(data) + len(part[0][0].encode()) <= max_bytes
            assert kpl.deaggregate(data) == part


def test_known_bytes_decode() -> None:
    """A hand-built aggregate (two keys, three records) decodes as the KPL wrote it."""
    message = (
        b"\x0a\x01a"  # partition_key_table: "a"
        b"\x0a\x01b"  # partition_key_table: "b"
        b"\x1a\x05\x08\x00\x1a\x01x"  # record: key 0, data "x"
        b"\x1a\x05\x08\x01\x1a\x01y"  # record: key 1, data "y"
        b"\x1a\x0c\x08\x00\x10\x00\x1a\x01z\x25\x00\x00\x00\x00"  # ehk index, unknown fixed32
    )
    assert kpl.deaggregate(_framed(message)) == [("a", b"x"), ("b", b"y"), ("a", b"z")]


def test_plain_data_is_one_record_with_the_outer_key() -> None:
    """Data without the magic comes back as one record whose key is the enclosing record's."""
    assert kpl.deaggregate(b'{"vendorId": "1"}') == [(None, b'{"vendorId": "1"}')]
    assert not kpl.is_aggregated(b"")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (kpl.MAGIC + b"\x00" * 3, "shorter than magic"),
        (kpl.aggregate([("k", b"v")])[:-1] + b"\x00", "MD5"),
        (_framed(b"\x0a\x05ab"), "runs past the end"),
        (_framed(b"\x0a\x01a\x1a\x03\x1a\x01x"), "without partition_key_index"),
        (_framed(b"\x0a\x01a\x1a\x05\x08\x07\x1a\x01x"), "outside a table"),
        (_framed(b"\x0a\x01a"), "no user records"),
        (_framed(b"\x0a\x01\xff\x1a\x05\x08\x00\x1a\x01x"), "not UTF-8"),
        (_framed(b"\x0b"), "wire type 3"),
        (_framed(b"\x08" + b"\xff" * 11), "longer than 10 bytes"),
        (_framed(b"\x08\xff"), "truncated varint"),
    ],
)
def test_corrupt_aggregate_is_a_bad_aggregate_error(data: bytes, message: str) -> None:
    """Magic present but MD5 or protobuf broken: RecordError(BAD_AGGREGATE), never silence."""
    with pytest.raises(RecordError, match=message) as caught:
        kpl.deaggregate(data)
    assert caught.value.reason == Reason.BAD_AGGREGATE


def test_aggregate_of_nothing_is_refused() -> None:
    """An aggregate must hold at least one user record."""
    with pytest.raises(ValueError, match="at least one"):
        kpl.aggregate([])


def _outcome(data: bytes) -> list[tuple[str, bytes]] | str:
    """The user records, or the reason of the RecordError; any other exception escapes."""
    try:
        members = kpl.deaggregate(data)
    except RecordError as exc:
        return exc.reason
    assert all(key is not None for key, _ in members)
    return [(str(key), payload) for key, payload in members]


def _bounded(data: bytes, outcome: list[tuple[str, bytes]] | str) -> bool:
    """A corrupt aggregate, or user records whose data and (shared) keys fit in the aggregate."""
    if isinstance(outcome, str):
        return outcome == Reason.BAD_AGGREGATE
    keys = {key.encode() for key, _ in outcome}
    return sum(map(len, keys)) + sum(len(payload) for _, payload in outcome) <= len(data)


@settings(max_examples=500)
@given(st.binary(max_size=300))
def test_any_protobuf_behind_a_correct_md5_decodes_or_is_a_bad_aggregate(message: bytes) -> None:
    """Whatever bytes sit between the magic and a matching MD5: user records that fit inside
    them, or RecordError(bad_kpl_aggregate); never another exception."""
    data = _framed(message)
    assert _bounded(data, _outcome(data))


@settings(max_examples=500)
@given(entries, st.lists(st.tuples(st.integers(0, 2**16), st.integers(0, 255)), max_size=6),
       st.integers(0, 2**16))  # fmt: skip
def test_a_mutated_or_truncated_aggregate_decodes_or_is_a_bad_aggregate(
    records: list[tuple[str, bytes]], edits: list[tuple[int, int]], cut: int
) -> None:
    """A real aggregate with bytes changed and cut short, its MD5 made to match again (lengths
    that lie, varints that run on): bounded user records or bad_kpl_aggregate."""
    message = bytearray(kpl.aggregate(records)[len(kpl.MAGIC) : -kpl.DIGEST_BYTES])
    for at, value in edits:
        message[at % len(message)] = value
    data = _framed(bytes(message[: max(1, len(message) - cut % len(message))]))
    assert _bounded(data, _outcome(data))


@pytest.mark.parametrize(
    ("message", "why"),
    [
        (b"\x0a\x01k\x1a" + b"\xff" * 9 + b"\x01" + b"\x08\x00\x1a\x01x", "runs past the end"),
        (b"\x0a\x01k\x1a\xff\xff\xff\xff\x0f\x08\x00\x1a\x01x", "runs past the end"),
        (b"\x0a\x01k\x1a\x0e\x08" + b"\xff" * 9 + b"\x01\x1a\x01x", "outside a table of 1"),
        (b"\x0a\x01k\x1a\x04\x08\x00\x1a\x01x", "runs past the end"),
        (b"\x0a\x01k" + b"\x1a\x00" * 50_000, "without partition_key_index"),
        (b"\x0a\x01k\x1a\x05\x08\x00\x1c\x01x", "wire type 4"),
    ],
)
def test_lengths_that_lie_are_a_bad_aggregate(message: bytes, why: str) -> None:
    """A 2**64 length, a 4 GiB record, a key index of 2**64-1, a record shorter than its data,
    50,000 empty records, a group end: named corruption, nothing allocated for the lie."""
    with pytest.raises(RecordError, match=why) as caught:
        kpl.deaggregate(_framed(message))
    assert caught.value.reason == Reason.BAD_AGGREGATE


def test_an_aggregate_inside_an_aggregate_is_one_user_record() -> None:
    """KPL does not nest: an inner aggregate comes back as one user record's bytes, unopened."""
    inner = kpl.aggregate([("a", b"x"), ("b", b"y")])
    assert kpl.deaggregate(kpl.aggregate([("k", inner)])) == [("k", inner)]
