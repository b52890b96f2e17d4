"""A read's records as columns: each ``StreamRecord`` is built only when something reads it.

A ``RecordBatch`` is a sequence of ``StreamRecord`` like a list of them (indexing, negative
indexes, slices, iteration and equality give the same records), kept as chunks of columns: a
stored batch of the embedded stream keeps its payloads, one arrival time, its sequence numbers
as a prefix and a counter range, and its keys uncut (the batch body and the keys' offsets,
cut when a key is read); any other records (Kinesis's, an older log's rows) are kept as they
came. A reader that knows the type reads the columns (``payloads``, ``arrival_runs``,
``key_chars``, ``sequence_chars``) and builds no record at all.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import accumulate, chain, repeat
from operator import itemgetter
from typing import Final, Protocol, cast, overload

from taxi_stream.core.records import StreamRecord

_tuple_new: Final = cast(
    Callable[[type[StreamRecord], tuple[str, int, str, bytes]], StreamRecord], tuple.__new__
)  # a StreamRecord of its four fields, built in C (no Python __new__ per record)
_SEQUENCE, _ARRIVAL, _KEY, _DATA = map(itemgetter, range(4))  # StreamRecord's fields


def numbers(prefix: str, width: int, first: int, stop: int) -> list[str]:
    """``prefix`` and each counter ``first`` to ``stop - 1`` zero-padded to ``width`` digits,
    made in C: counters of one digit count share their padding."""
    out: list[str] = []
    while first < stop:
        digits = len(str(first))
        end = min(stop, 10**digits)  # the first counter with one digit more
        padded = prefix + "0" * (width - digits)
        out += map(padded.__add__, map(str, range(first, end)))
        first = end
    return out


def number_chars(prefix: str, width: int, first: int, stop: int) -> int:
    """The characters of ``numbers(prefix, width, first, stop)`` together, counted by digits."""
    total = 0
    while first < stop:
        digits = len(str(first))
        end = min(stop, 10**digits)
        total += (end - first) * (len(prefix) + max(width, digits))
        first = end
    return total


class _Chunk(Protocol):
    """What a batch asks of one run of its records."""

    def __len__(self) -> int: ...
    def record(self, index: int) -> StreamRecord: ...
    def records(self) -> list[StreamRecord]: ...
    def cut(self, start: int, stop: int) -> _Chunk: ...
    def payloads(self) -> list[bytes]: ...
    def arrivals(self) -> list[int]: ...
    def arrival_runs(self) -> list[tuple[int, int]]: ...
    def sequence_numbers(self) -> list[str]: ...
    def key_chars(self) -> int: ...
    def sequence_chars(self) -> int: ...
    def since(self, start_ms: int) -> _Chunk: ...


class StoredChunk:
    """Records ``lo`` to ``hi - 1`` of one stored batch: one arrival, consecutive counters.

    ``sequence`` is (prefix, width, counter of the batch's first record); ``ends`` are the
    batch body's offsets (the keys' bounds first); ``keys`` the decoded keys when they are not
    all ASCII (else each is cut from the body's Latin-1 text when read).
    """

    __slots__ = (
        "_all", "_body", "_ends", "_keys", "_text", "arrival_ms", "first", "hi", "lo", "prefix",
        "width",
    )  # fmt: skip

    def __init__(  # noqa: PLR0917 -- the columns of a stored batch
        self,
        payloads: list[bytes],
        arrival_ms: int,
        sequence: tuple[str, int, int],
        body: bytes,
        ends: list[int],
        keys: list[str] | None,
    ) -> None:
        self._all, self.arrival_ms = payloads, arrival_ms
        self.prefix, self.width, self.first = sequence
        self._body, self._ends, self._keys = body, ends, keys
        self._text: str | None = None
        self.lo, self.hi = 0, len(payloads)

    def __len__(self) -> int:
        return self.hi - self.lo

    def cut(self, start: int, stop: int) -> StoredChunk:
        """Its records ``start`` to ``stop - 1`` (sharing the columns)."""
        part = StoredChunk.__new__(StoredChunk)
        part._all, part.arrival_ms, part._text = self._all, self.arrival_ms, self._text
        part.prefix, part.width, part.first = self.prefix, self.width, self.first
        part._body, part._ends, part._keys = self._body, self._ends, self._keys
        part.lo, part.hi = self.lo + start, self.lo + max(start, stop)
        return part

    def _key_list(self, lo: int, hi: int) -> list[str]:
        if self._keys is not None:
            return self._keys[lo:hi]
        if self._text is None:
            self._text = self._body[: self._ends[len(self._all)]].decode("latin-1")
        ends = self._ends
        return list(map(self._text.__getitem__, map(slice, ends[lo:hi], ends[lo + 1 : hi + 1])))

    def _columns(self, lo: int, hi: int) -> Iterable[tuple[str, int, str, bytes]]:
        seqs = numbers(self.prefix, self.width, self.first + lo, self.first + hi)
        n = hi - lo
        keys = self._key_list(lo, hi)
        return zip(seqs, repeat(self.arrival_ms, n), keys, self._all[lo:hi], strict=True)

    def record(self, index: int) -> StreamRecord:
        """Its ``index``-th record."""
        at = self.lo + index
        (fields,) = self._columns(at, at + 1)
        return _tuple_new(StreamRecord, fields)

    def records(self) -> list[StreamRecord]:
        """Every record, built in C."""
        fields = self._columns(self.lo, self.hi)
        return list(map(_tuple_new, repeat(StreamRecord, len(self)), fields))

    def payloads(self) -> list[bytes]:
        """The payloads, in order."""
        return self._all[self.lo : self.hi]

    def arrivals(self) -> list[int]:
        """Each record's arrival time."""
        return [self.arrival_ms] * len(self)

    def arrival_runs(self) -> list[tuple[int, int]]:
        """(count, arrival ms) of the records: one run."""
        return [(len(self), self.arrival_ms)]

    def sequence_numbers(self) -> list[str]:
        """The records' sequence numbers."""
        first = self.first
        return numbers(self.prefix, self.width, first + self.lo, first + self.hi)

    def key_chars(self) -> int:
        """The characters of the keys together (an ASCII key has a character a byte)."""
        if self._keys is not None:
            return sum(map(len, self._keys[self.lo : self.hi]))
        return self._ends[self.hi] - self._ends[self.lo]

    def sequence_chars(self) -> int:
        """The characters of the sequence numbers together."""
        first = self.first
        return number_chars(self.prefix, self.width, first + self.lo, first + self.hi)

    def since(self, start_ms: int) -> _Chunk:
        """Its records that arrived at ``start_ms`` or later: all or none."""
        return self if self.arrival_ms >= start_ms else self.cut(0, 0)


class _Listed:
    """Records as they came (a list of ``StreamRecord``)."""

    __slots__ = ("_records",)

    def __init__(self, records: list[StreamRecord]) -> None:
        self._records = records

    def __len__(self) -> int:
        return len(self._records)

    def record(self, index: int) -> StreamRecord:
        return self._records[index]

    def records(self) -> list[StreamRecord]:
        return list(self._records)

    def cut(self, start: int, stop: int) -> _Listed:
        return _Listed(self._records[start:stop])

    def payloads(self) -> list[bytes]:
        return list(map(_DATA, self._records))

    def arrivals(self) -> list[int]:
        return list(map(_ARRIVAL, self._records))

    def arrival_runs(self) -> list[tuple[int, int]]:
        return list(zip(repeat(1), map(_ARRIVAL, self._records)))

    def sequence_numbers(self) -> list[str]:
        return list(map(_SEQUENCE, self._records))

    def key_chars(self) -> int:
        return sum(map(len, map(_KEY, self._records)))

    def sequence_chars(self) -> int:
        return sum(map(len, map(_SEQUENCE, self._records)))

    def since(self, start_ms: int) -> _Listed:
        return _Listed([record for record in self._records if record.arrival_ms >= start_ms])


class RecordBatch(Sequence[StreamRecord]):
    """Records as columns, read as a sequence of ``StreamRecord`` (each built on access)."""

    __slots__ = ("_chunks", "_ends")

    def __init__(self, chunks: Iterable[_Chunk] = ()) -> None:
        self._chunks: list[_Chunk] = [chunk for chunk in chunks if len(chunk)]
        self._ends = list(accumulate(map(len, self._chunks)))

    @classmethod
    def of(cls, records: Sequence[StreamRecord]) -> RecordBatch:
        """``records`` as a batch (a batch as it is)."""
        if isinstance(records, RecordBatch):
            return records
        return cls([_Listed(list(records))])

    def __len__(self) -> int:
        return self._ends[-1] if self._ends else 0

    @overload
    def __getitem__(self, index: int) -> StreamRecord: ...

    @overload
    def __getitem__(self, index: slice) -> RecordBatch: ...

    def __getitem__(self, index: int | slice) -> StreamRecord | RecordBatch:
        count = len(self)
        if isinstance(index, slice):
            start, stop, step = index.indices(count)
            if step != 1:
                return RecordBatch.of(list(self)[index])
            return self._cut(start, stop)
        at = index.__index__()
        at += count if at < 0 else 0
        if not 0 <= at < count:
            raise IndexError("record index out of range")
        k = bisect_right(self._ends, at)
        return self._chunks[k].record(at - (self._ends[k - 1] if k else 0))

    def _cut(self, start: int, stop: int) -> RecordBatch:
        out: list[_Chunk] = []
        base = 0
        for chunk, end in zip(self._chunks, self._ends, strict=True):
            if end > start and base < stop:
                out.append(chunk.cut(max(start - base, 0), min(stop, end) - base))
            base = end
        return RecordBatch(out)

    def __iter__(self) -> Iterator[StreamRecord]:
        return chain.from_iterable(chunk.records() for chunk in self._chunks)

    def __add__(self, other: RecordBatch) -> RecordBatch:
        return RecordBatch([*self._chunks, *other._chunks])

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str | bytes):
            return len(self) == len(other) and list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # equal to lists, so unhashable as they are

    def __repr__(self) -> str:
        return f"RecordBatch({list(self)!r})"

    def payloads(self) -> list[bytes]:
        """Every record's data, in order."""
        if len(self._chunks) == 1:
            return self._chunks[0].payloads()
        out: list[bytes] = []
        for chunk in self._chunks:
            out += chunk.payloads()
        return out

    def arrival_runs(self) -> list[tuple[int, int]]:
        """(count, arrival ms) of consecutive records, in order (a stored batch is one run)."""
        return [run for chunk in self._chunks for run in chunk.arrival_runs()]

    def arrivals(self) -> list[int]:
        """Every record's arrival time in ms, in order."""
        out: list[int] = []
        for chunk in self._chunks:
            out += chunk.arrivals()
        return out

    def arrived_before(self, end_ms: int) -> int:
        """How many leading records arrived before ``end_ms`` (a stored batch's share one)."""
        count = 0
        for run, arrival in self.arrival_runs():
            if arrival >= end_ms:
                return count
            count += run
        return count

    def sequence_numbers(self) -> SequenceNumbers:
        """The records' sequence numbers, formatted when they are read."""
        return SequenceNumbers(self)

    def key_chars(self) -> int:
        """The characters of every partition key together."""
        return sum(chunk.key_chars() for chunk in self._chunks)

    def sequence_chars(self) -> int:
        """The characters of every sequence number together."""
        return sum(chunk.sequence_chars() for chunk in self._chunks)

    def since(self, start_ms: int) -> RecordBatch:
        """The records that arrived at ``start_ms`` or later, in order."""
        return RecordBatch(chunk.since(start_ms) for chunk in self._chunks)

    def number_lists(self) -> Iterator[list[str]]:
        """The sequence numbers chunk by chunk."""
        return (chunk.sequence_numbers() for chunk in self._chunks)


class SequenceNumbers(Sequence[str]):
    """A batch's sequence numbers, formatted on access (all at once when iterated)."""

    __slots__ = ("_batch",)

    def __init__(self, batch: RecordBatch) -> None:
        self._batch = batch

    def __len__(self) -> int:
        return len(self._batch)

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return list(self)[index]
        return self._batch[index].sequence_number

    def __iter__(self) -> Iterator[str]:
        return chain.from_iterable(self._batch.number_lists())
