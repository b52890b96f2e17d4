"""KPL record aggregation: many user records in one Kinesis record (stdlib only, Lambda-safe).

Wire format of the Kinesis Producer Library: the 4-byte magic ``F3 89 9A C2``, then a protobuf
``AggregatedRecord``, then the 16-byte MD5 of that protobuf::

    message AggregatedRecord {
      repeated string partition_key_table     = 1;
      repeated string explicit_hash_key_table = 2;
      repeated Record records                 = 3;
    }
    message Record {
      required uint64 partition_key_index     = 1;
      optional uint64 explicit_hash_key_index = 2;
      required bytes  data                    = 3;
      repeated Tag    tags                    = 4;   // skipped when decoding
    }

``deaggregate`` always returns a list: for data without the magic it is the single record
``[(None, data)]`` (None: the partition key is the enclosing Kinesis record's). Data with the magic
whose MD5 or protobuf is corrupt raises ``RecordError(Reason.BAD_AGGREGATE, ...)``, so a caller
dead-letters it instead of losing its user records silently.
"""

from __future__ import annotations

import functools
import hashlib
import sys
from collections.abc import Iterator, Sequence
from typing import Final

from taxi_stream.core.errors import Reason, RecordError

MAGIC: Final = b"\xf3\x89\x9a\xc2"
DIGEST_BYTES: Final = 16
OVERHEAD_BYTES: Final = len(MAGIC) + DIGEST_BYTES

_VARINT: Final = 0
_FIXED64: Final = 1
_LENGTH: Final = 2
_FIXED32: Final = 5
_MAX_VARINT_BYTES: Final = 10

# field numbers
_PK_TABLE: Final = 1
_EHK_TABLE: Final = 2
_RECORDS: Final = 3
_PK_INDEX: Final = 1
_EHK_INDEX: Final = 2
_DATA: Final = 3


# -- encoding -----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


_PK_TABLE_TAG: Final = _varint(_PK_TABLE << 3 | _LENGTH)
_RECORDS_TAG: Final = _varint(_RECORDS << 3 | _LENGTH)
_PK_INDEX_TAG: Final = _varint(_PK_INDEX << 3 | _VARINT)
_DATA_TAG: Final = _varint(_DATA << 3 | _LENGTH)


class _Aggregate:
    """One aggregated record being built: key table, encoded records, exact size so far."""

    __slots__ = ("count", "keys", "parts", "size")

    def __init__(self, outer_key: str) -> None:
        self.keys: dict[str, int] = {}
        self.parts: list[bytes] = []
        self.count = 0
        self.size = OVERHEAD_BYTES + len(outer_key.encode())  # Kinesis counts the key too

    def add(self, key: str, data: bytes, max_bytes: int) -> bool:
        """Append a user record unless it would take a non-empty aggregate over max_bytes."""
        index = self.keys.get(key)
        new_key = index is None
        if index is None:
            index = len(self.keys)
        record = _PK_INDEX_TAG + _varint(index) + _DATA_TAG + _varint(len(data))
        head = _RECORDS_TAG + _varint(len(record) + len(data)) + record
        added = len(head) + len(data)
        if new_key:
            encoded = len(key.encode())
            added += len(_PK_TABLE_TAG) + len(_varint(encoded)) + encoded
        if self.count and self.size + added > max_bytes:
            return False
        self.keys.setdefault(key, index)
        self.parts += (head, data)
        self.size += added
        self.count += 1
        return True

    def encode(self) -> bytes:
        """Magic, protobuf, MD5."""
        table: list[bytes] = []
        for key in self.keys:
            encoded = key.encode()
            table += (_PK_TABLE_TAG, _varint(len(encoded)), encoded)
        message = b"".join(table) + b"".join(self.parts)
        return MAGIC + message + hashlib.md5(message).digest()  # noqa: S324 -- format checksum


def aggregate(entries: Sequence[tuple[str, bytes]]) -> bytes:
    """One KPL aggregated record holding ``entries`` (partition key, data), in order."""
    if not entries:
        raise ValueError("an aggregated record holds at least one user record")
    built = _Aggregate(entries[0][0])
    for key, data in entries:
        built.add(key, data, sys.maxsize)
    return built.encode()


def pack(entries: Sequence[tuple[str, bytes]], max_bytes: int) -> Iterator[tuple[range, bytes]]:
    """Consecutive runs of entries, each with its record data: an aggregate of at most
    ``max_bytes`` (data + outer partition key, the run's first entry's), or the entry's own
    data for a run of one (an entry too big to share an aggregate runs alone)."""
    start = 0
    built: _Aggregate | None = None
    for index, (key, data) in enumerate(entries):
        if built is None:
            built = _Aggregate(key)
        if not built.add(key, data, max_bytes):
            yield range(start, index), _finish(built, entries[start][1])
            start, built = index, _Aggregate(key)
            built.add(key, data, max_bytes)
    if built is not None:
        yield range(start, len(entries)), _finish(built, entries[start][1])


def _finish(built: _Aggregate, first_data: bytes) -> bytes:
    return first_data if built.count == 1 else built.encode()


# -- decoding -----------------------------------------------------------------------------------


def is_aggregated(data: bytes) -> bool:
    """Whether ``data`` starts with the KPL magic."""
    return data[: len(MAGIC)] == MAGIC


def _corrupt(message: str) -> RecordError:
    return RecordError(Reason.BAD_AGGREGATE, message)


def _read_varint(buf: memoryview, pos: int) -> tuple[int, int]:
    value = shift = 0
    for offset in range(_MAX_VARINT_BYTES):
        if pos + offset >= len(buf):
            raise _corrupt("truncated varint")
        byte = buf[pos + offset]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos + offset + 1
        shift += 7
    raise _corrupt("varint longer than 10 bytes")


def _fields(buf: memoryview) -> Iterator[tuple[int, int, int | memoryview]]:
    """(field number, wire type, value) of each field; length-delimited values as views."""
    pos = 0
    while pos < len(buf):
        key, pos = _read_varint(buf, pos)
        field, wire_type = key >> 3, key & 0x7
        if field == 0:
            raise _corrupt("field number 0")
        if wire_type == _VARINT:
            value, pos = _read_varint(buf, pos)
            yield field, wire_type, value
        elif wire_type == _LENGTH:
            size, pos = _read_varint(buf, pos)
            if pos + size > len(buf):
                raise _corrupt("length-delimited field runs past the end")
            yield field, wire_type, buf[pos : pos + size]
            pos += size
        elif wire_type in (_FIXED64, _FIXED32):
            pos += 8 if wire_type == _FIXED64 else 4
            if pos > len(buf):
                raise _corrupt("fixed-width field runs past the end")
        else:
            raise _corrupt(f"unsupported wire type {wire_type}")


def _text(value: int | memoryview, what: str) -> str:
    if not isinstance(value, memoryview):
        raise _corrupt(f"{what} is not length-delimited")
    try:
        return bytes(value).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _corrupt(f"{what} is not UTF-8") from exc


def _user_record(buf: memoryview) -> tuple[int, bytes]:
    key_index: int | None = None
    data: bytes | None = None
    for field, wire_type, value in _fields(buf):
        if field == _PK_INDEX and wire_type == _VARINT and isinstance(value, int):
            key_index = value
        elif field == _DATA and isinstance(value, memoryview):
            data = bytes(value)
    if key_index is None or data is None:
        raise _corrupt("user record without partition_key_index or data")
    return key_index, data


def _parse(message: memoryview) -> list[tuple[str, bytes]]:
    keys: list[str] = []
    records: list[tuple[int, bytes]] = []
    for field, _wire_type, value in _fields(message):
        if field == _PK_TABLE:
            keys.append(_text(value, "partition key"))
        elif field == _EHK_TABLE:
            _text(value, "explicit hash key")
        elif field == _RECORDS:
            if not isinstance(value, memoryview):
                raise _corrupt("records entry is not length-delimited")
            records.append(_user_record(value))
    if not records:
        raise _corrupt("aggregate holds no user records")
    out = []
    for key_index, data in records:
        if key_index >= len(keys):
            raise _corrupt(f"partition key index {key_index} outside a table of {len(keys)}")
        out.append((keys[key_index], data))
    return out


def deaggregate(data: bytes) -> list[tuple[str | None, bytes]]:
    """The user records in ``data``; ``[(None, data)]`` when it is not a KPL aggregate."""
    if not is_aggregated(data):
        return [(None, data)]
    if len(data) < OVERHEAD_BYTES:
        raise _corrupt(f"aggregate of {len(data)} bytes is shorter than magic + MD5")
    message = data[len(MAGIC) : -DIGEST_BYTES]
    if hashlib.md5(message).digest() != data[-DIGEST_BYTES:]:  # noqa: S324 -- format checksum
        raise _corrupt("MD5 of the aggregate does not match")
    return list(_parse(memoryview(message)))
