"""Record batches of the embedded stream: one shard's records of one put in one row, compressed.

A batch body holds ``n`` records: ``n`` key lengths (uint16), ``n`` data lengths (uint32), all
little-endian, then the UTF-8 partition keys back to back, then the payloads back to back. The
body is stored zstd-compressed (level -3, python-zstandard) when that makes it smaller, else as
it is; the row says which (``RAW`` or ``ZSTD``) and how long the body is. Records in a batch share
their shard, their arrival time and consecutive sequence numbers, so the row carries those once
(as Kafka's record batches do).
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Sequence
from itertools import accumulate
from typing import Final

import zstandard

from taxi_stream.core.errors import StreamError

RAW: Final = 0
ZSTD: Final = 1
ZSTD_LEVEL: Final = -3  # fast to write and to read; level 1 is 0.6x the bytes, more CPU
MAX_BODY_BYTES: Final = 4 * 1024 * 1024  # a put's records of one shard past this take more rows
MAX_ROW_BODY_BYTES: Final = 1 << 30
"""The largest body a row may say it holds (1 GiB), well above any row a writer made: a row
holds at most MAX_BODY_BYTES since puts are split at it; before, a put's records of one shard
took one row, and ``produce`` and ``replay`` put 500 records of at most 1 MiB each (at most
524,291,000 bytes of body; ``run`` put 5,000 trips). SQLite's default limit on a value,
1,000,000,000 bytes, bounds a raw body too. A larger size is a damaged row, refused before any
memory is taken for it."""


_contexts = threading.local()  # a zstd context serves one thread at a time


def _compressor() -> zstandard.ZstdCompressor:
    """This thread's compressor: one context kept, not one made a call."""
    found: zstandard.ZstdCompressor | None = getattr(_contexts, "compressor", None)
    if found is None:
        found = _contexts.compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
    return found


def _decompressor() -> zstandard.ZstdDecompressor:
    """This thread's decompressor."""
    found: zstandard.ZstdDecompressor | None = getattr(_contexts, "decompressor", None)
    if found is None:
        found = _contexts.decompressor = zstandard.ZstdDecompressor()
    return found


def _unpacked(stored: bytes, size: int) -> bytes:
    """The body of the one zstd frame ``stored``, said to hold ``size`` bytes; never more is
    allocated.

    The frame's own header names its content size (every writer of this format puts it there);
    a header that names another size, or a row size past MAX_ROW_BODY_BYTES (or below 0), is a
    damaged batch, refused before any memory is taken. Bytes after the frame (our writers put
    none there) are a damaged batch too.
    """
    if not 0 <= size <= MAX_ROW_BODY_BYTES:
        raise StreamError(
            f"a batch of the embedded stream says its body is {size:,} bytes, outside 0 to"
            f" {MAX_ROW_BODY_BYTES:,}"
        )
    said = zstandard.frame_content_size(stored)
    if said not in (size, -1):
        raise StreamError(f"a batch of the embedded stream says {said} bytes, not {size}")
    return _decompressor().decompress(stored, max_output_size=size, allow_extra_data=False)


def split(
    keys: Sequence[str], payloads: Sequence[bytes]
) -> list[tuple[Sequence[str], Sequence[bytes]]]:
    """Consecutive runs of the records whose bodies stay within MAX_BODY_BYTES (one at least)."""
    if 6 * len(keys) + len("".join(keys).encode()) + sum(map(len, payloads)) <= MAX_BODY_BYTES:
        return [(keys, payloads)]  # the usual case: the whole put's records of the shard
    runs: list[tuple[Sequence[str], Sequence[bytes]]] = []
    start, size = 0, 0
    for index, (key, data) in enumerate(zip(keys, payloads, strict=True)):
        grown = size + 6 + len(key.encode()) + len(data)
        if grown > MAX_BODY_BYTES and index > start:
            runs.append((keys[start:index], payloads[start:index]))
            start, grown = index, 6 + len(key.encode()) + len(data)
        size = grown
    runs.append((keys[start:], payloads[start:]))
    return runs


def encode(keys: Sequence[str], payloads: Sequence[bytes]) -> tuple[int, int, bytes]:
    """(codec, body length, stored bytes) of a batch of partition ``keys`` and their ``payloads``.

    The keys are written as UTF-8 in one piece; when they are all ASCII (the piece is as long
    as the keys' characters), a key's length in bytes is its length in characters.
    """
    n = len(keys)
    key_bytes = "".join(keys).encode()
    ascii_keys = len(key_bytes) == sum(map(len, keys))
    key_lengths = map(len, keys) if ascii_keys else [len(key.encode()) for key in keys]
    header = struct.pack(f"<{n}H{n}I", *key_lengths, *map(len, payloads))
    body = b"".join([header, key_bytes, *payloads])
    packed = _compressor().compress(body)
    if len(packed) < len(body):
        return ZSTD, len(body), packed
    return RAW, len(body), body


def decode(count: int, codec: int, size: int, stored: bytes) -> tuple[list[str], list[bytes]]:
    """The partition keys and payloads of a stored batch of ``count`` records."""
    body, ends, keys, payloads = decode_columns(count, codec, size, stored)
    if keys is None:
        cut = body[: ends[count]].decode("latin-1").__getitem__
        keys = list(map(cut, map(slice, ends[:count], ends[1 : count + 1])))
    return keys, payloads


def decode_columns(
    count: int, codec: int, size: int, stored: bytes
) -> tuple[bytes, list[int], list[str] | None, list[bytes]]:
    """(body, offsets, keys, payloads) of a stored batch of ``count`` records.

    ``offsets`` are the body's: the keys' bounds (``count + 1``), then the payloads' ends.
    ``keys`` is None when the keys are all ASCII: each is then ``body[offsets[i]:offsets[i +
    1]]`` read as Latin-1, cut when it is wanted.
    """
    if codec not in (RAW, ZSTD):
        raise StreamError(f"a batch of the embedded stream has an unknown codec {codec}")
    try:
        body = _unpacked(stored, size) if codec == ZSTD else stored
        lengths = struct.unpack_from(f"<{count}H{count}I", body)
    except (zstandard.ZstdError, ValueError, struct.error) as exc:
        raise StreamError(f"a batch of the embedded stream cannot be read: {exc}") from exc
    ends = list(accumulate(lengths, initial=6 * count))
    if len(body) != size or ends[-1] != size:
        raise StreamError(f"a batch of the embedded stream is {len(body)} bytes, not {size}")
    cut = body.__getitem__  # slices made and applied in C: no Python call per record
    payloads = list(map(cut, map(slice, ends[count:-1], ends[count + 1 :])))
    return body, ends, _keys(body, ends, count), payloads


def _keys(body: bytes, ends: list[int], count: int) -> list[str] | None:
    """None when the batch's partition keys are all ASCII, else the keys decoded one by one.

    Latin-1 gives one character per byte, so the key bytes' offsets cut the Latin-1 string as
    they cut the bytes; for ASCII bytes it reads as UTF-8 does. Otherwise each key is decoded
    alone (a character split across two keys, valid once they are joined, must still fail
    as its own key does).
    """
    if body[ends[0] : ends[count]].isascii():
        return None
    spans = map(slice, ends[:count], ends[1 : count + 1])
    try:
        return list(map(bytes.decode, map(body.__getitem__, spans)))
    except UnicodeDecodeError as exc:  # written as text: only a damaged file has this
        raise StreamError(
            f"a batch of the embedded stream has a key that is no UTF-8: {exc}"
        ) from exc
