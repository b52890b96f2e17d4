"""An invocation's records as trip payloads: base64 and KPL unpacked, each with its origin.

``each`` walks the records one by one (the exact path). ``unpack`` gives the same payloads as
a list: for a plain list of well-formed Kinesis records (or the local runner's view) without
KPL aggregates by C-level calls over the whole batch, for any other batch by ``each`` itself.
Either way the part counts the same records and names the same first sequence number, and a
record that is no Kinesis record, not base64, or a corrupt aggregate becomes the same dead
letter, at the same place among the others (``Batch.ordered``).
"""

from __future__ import annotations

import binascii
import hashlib
import json
import logging
import math
import reprlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import repeat
from operator import itemgetter, mul, truediv
from typing import Any, Final

import pybase64

from taxi_stream.core.errors import Reason, RecordError
from taxi_stream.core.recordbatch import RecordBatch
from taxi_stream.core.records import DeadLetter, Origin, StreamRecord
from taxi_stream.core.windows import FIRST_INSTANT_MS, LAST_INSTANT_MS
from taxi_stream.function.contract import KinesisRecords
from taxi_stream.function.state import Part
from taxi_stream.streams.kpl import MAGIC, deaggregate

log = logging.getLogger(__name__)

MAX_RAW_CHARS: Final = 1_400_000  # a Kinesis record's base64 data is at most this long
MAX_ERROR_CHARS: Final = 500  # of an unforeseen exception's text in a dead letter's message

_REPR = reprlib.Repr()  # bounded in depth and size: safe on any nesting or cycle
_REPR.maxlevel, _REPR.maxdict, _REPR.maxlist, _REPR.maxstring, _REPR.maxother = 8, 40, 40, 200, 200

Source = tuple[Mapping[str, Any], int | None, bytes]
"""One payload as ``each`` yields it: (the record's kinesis part, KPL member index, bytes)."""


def strict_b64decode(text: Any) -> bytes:
    """Strict base64 (the alphabet and padding checked), as Kinesis data must be."""
    return pybase64.b64decode(text, validate=True)


@dataclass(frozen=True, slots=True)
class Decoders:
    """The base64 and KPL decoders the unpacking calls (the handler passes its own)."""

    b64decode: Callable[[Any], bytes] = strict_b64decode
    deaggregate: Callable[[bytes], list[tuple[str | None, bytes]]] = deaggregate


_KINESIS, _SEQUENCE, _DATA = itemgetter("kinesis"), itemgetter("sequenceNumber"), itemgetter("data")
_HEAD, _FIRST = itemgetter(slice(0, len(MAGIC))), itemgetter(0)


class Batch:
    """The payloads of one invocation, in order, and the dead letters met while unpacking.

    ``dead_at[k]`` is how many payloads came before ``dead[k]``, so ``ordered`` can put the
    letters of the payloads' own verdicts among them as the record-by-record walk would.
    """

    __slots__ = ("_arrivals", "_kinesis", "_records", "_subs", "dead", "dead_at", "payloads")

    def __init__(self, payloads: list[bytes]) -> None:
        self.payloads = payloads
        self.dead: list[DeadLetter] = []
        self.dead_at: list[int] = []
        self._kinesis: list[Mapping[str, Any]] | None = None  # the records' kinesis parts
        self._records: RecordBatch | None = None  # or the runner's stream records
        self._subs: list[int | None] | None = None  # KPL member indexes (None: no aggregates)
        self._arrivals: list[int] | None = None

    def kinesis(self, index: int) -> Mapping[str, Any]:
        """The kinesis part of payload ``index``'s record (what a verdict reads of it)."""
        if self._kinesis is not None:
            return self._kinesis[index]
        return _view_kinesis(self._records[index])  # type: ignore[index]  # one is always set

    def sub(self, index: int) -> int | None:
        """Payload ``index``'s member index in its KPL aggregate (None: a plain record)."""
        return None if self._subs is None else self._subs[index]

    def arrivals(self) -> list[int]:
        """Each payload's arrival time in ms, as ``arrival_ms`` reads its kinesis part."""
        if self._arrivals is None:
            self._arrivals = self._arrival_times()
        return self._arrivals

    def _arrival_times(self) -> list[int]:
        if self._records is not None:
            return _viewed_arrivals(self._records)
        kinesis = self._kinesis or []
        found: list[object]
        if set(map(type, kinesis)) == {dict}:  # the common case: no Python frame per record
            plain: list[dict[str, Any]] = kinesis  # type: ignore[assignment]  # as checked
            found = list(map(dict.get, plain, repeat(_ARRIVAL_KEY)))
        else:
            found = list(map(_get_arrival, kinesis))
        return _arrival_column(found) or list(map(arrival_of, found))

    def ordered(self, letters: list[tuple[int, DeadLetter]]) -> list[DeadLetter]:
        """Every dead letter in walk order; ``letters`` are (payload index, letter) pairs."""
        keyed = [((at, 0), letter) for at, letter in zip(self.dead_at, self.dead, strict=True)]
        keyed += [((index, 1), letter) for index, letter in letters]
        keyed.sort(key=itemgetter(0))
        return [letter for _, letter in keyed]


def unpack(
    records: Sequence[object], part: Part, stream: str, shard: str, decoders: Decoders
) -> Batch:
    """The batch's payloads; counts the records into the part and names its first sequence."""
    if records.__class__ is KinesisRecords:
        batch = _viewed_batch(records.columns)
    else:
        batch = _plain_batch(records, decoders.b64decode)
    if batch is None:
        return _walked(records, part, stream, shard, decoders)
    if records and part.first_sequence is None:
        part.first_sequence = str(batch.kinesis(0)["sequenceNumber"])
    part.records += len(records)
    return batch


def _plain_batch(records: Sequence[object], b64decode: Callable[[Any], bytes]) -> Batch | None:
    """A plain list of dict records, each with a sequence number and base64 text, no KPL."""
    if not records or records.__class__ is not list or set(map(type, records)) != {dict}:
        return None
    try:
        kinesis = list(map(_KINESIS, records))
        if set(map(type, kinesis)) != {dict}:
            return None
        list(map(_SEQUENCE, kinesis))
        texts = list(map(_DATA, kinesis))
        if set(map(type, texts)) != {str}:
            return None
        if b64decode is strict_b64decode:  # the same call, without a Python frame per record
            payloads = list(map(pybase64.b64decode, texts, repeat(None), repeat(True)))
        else:
            payloads = list(map(b64decode, texts))
    except (KeyError, binascii.Error, ValueError, TypeError):
        return None  # the walk finds which record it was, and says why
    if _aggregated(payloads):
        return None
    batch = Batch(payloads)
    batch._kinesis = kinesis
    return batch


def _viewed_batch(records: RecordBatch) -> Batch | None:
    """The runner's stream records as columns, when none is a KPL aggregate."""
    payloads = records.payloads()
    if _aggregated(payloads):
        return None
    batch = Batch(payloads)
    batch._records = records
    return batch


def _aggregated(payloads: list[bytes]) -> bool:
    """Whether a payload starts with the KPL magic: none can when no first byte is the magic's
    (one C pass over the first bytes); else, or with an empty payload, each head is compared."""
    try:
        if MAGIC[0] not in bytes(map(_FIRST, payloads)):
            return False
    except IndexError:  # an empty payload has no first byte
        pass
    return MAGIC in map(_HEAD, payloads)


def _viewed_arrivals(records: RecordBatch) -> list[int]:
    """``arrival_of`` each record's arrival in seconds: once a run of one arrival time."""
    runs = records.arrival_runs()
    if len(runs) * 4 > len(records):  # records as they came: the column in C
        seconds = list(map(truediv, records.arrivals(), repeat(1000)))
        return _arrival_column(seconds) or list(map(arrival_of, seconds))
    out: list[int] = []
    for count, arrival in runs:
        out += repeat(arrival_of(arrival / 1000), count)
    return out


def _walked(
    records: Sequence[object], part: Part, stream: str, shard: str, decoders: Decoders
) -> Batch:
    """``unpack`` by the record-by-record walk, remembering where each dead letter fell."""
    batch = Batch([])
    kinesis: list[Mapping[str, Any]] = []
    subs: list[int | None] = []
    dead: list[DeadLetter] = []
    for source, member, payload in each(records, part, dead, stream, shard, decoders):
        while len(batch.dead) < len(dead):
            batch.dead.append(dead[len(batch.dead)])
            batch.dead_at.append(len(batch.payloads))
        kinesis.append(source)
        subs.append(member)
        batch.payloads.append(payload)
    batch.dead_at += repeat(len(batch.payloads), len(dead) - len(batch.dead))
    batch.dead = dead
    batch._kinesis, batch._subs = kinesis, subs
    return batch


def each(  # noqa: PLR0917 -- the walk's whole context
    records: Sequence[object],
    part: Part,
    dead: list[DeadLetter],
    stream: str,
    shard: str,
    decoders: Decoders,
) -> Iterator[Source]:
    """Each trip payload of the records (KPL members one by one), as (kinesis, sub, bytes).

    Counts the records into the part and names its first sequence number; a record that is no
    Kinesis record, or whose data is not base64, becomes a dead letter here.
    """
    if records.__class__ is KinesisRecords:  # the local runner's view: the bytes themselves
        viewed = records.stream_records
        yield from _viewed(viewed, part, dead, stream, shard, decoders.deaggregate)
        return
    b64decode, unpack_kpl = decoders.b64decode, decoders.deaggregate
    for record in records:
        kinesis = _kinesis_part(record)
        part.records += 1
        if kinesis is None:
            dead.append(_foreign(record, stream, shard))
            continue
        if part.first_sequence is None:
            part.first_sequence = str(kinesis["sequenceNumber"])
        try:
            data = b64decode(kinesis.get("data"))
        except (binascii.Error, ValueError, TypeError) as exc:
            dead.append(_not_base64(stream, shard, kinesis, exc))
            continue
        if data[:4] != MAGIC:
            yield kinesis, None, data
        else:
            for sub, payload in _members(kinesis, data, dead, stream, shard, unpack_kpl):
                yield kinesis, sub, payload


def _viewed(  # noqa: PLR0917 -- the walk's whole context
    records: Sequence[StreamRecord],
    part: Part,
    dead: list[DeadLetter],
    stream: str,
    shard: str,
    unpack_kpl: Callable[[bytes], list[tuple[str | None, bytes]]],
) -> Iterator[Source]:
    """``each`` of the runner's view: the bytes as they are, no base64 to decode.

    The kinesis part beside each payload carries what a verdict reads of it (its sequence
    number and arrival time), with the values the record's event form gives.
    """
    if records and part.first_sequence is None:
        part.first_sequence = records[0].sequence_number
    part.records += len(records)
    for record in records:
        kinesis = _view_kinesis(record)
        data = record.data
        if data[:4] != MAGIC:
            yield kinesis, None, data
        else:
            for sub, payload in _members(kinesis, data, dead, stream, shard, unpack_kpl):
                yield kinesis, sub, payload


def _view_kinesis(record: StreamRecord) -> dict[str, Any]:
    return {
        "sequenceNumber": record.sequence_number,
        "approximateArrivalTimestamp": record.arrival_ms / 1000,
    }


def _kinesis_part(record: object) -> Mapping[str, Any] | None:
    """The record's ``kinesis`` mapping when it has a sequence number, else None."""
    is_map = record.__class__ is dict or isinstance(record, Mapping)
    kinesis = record.get("kinesis") if is_map else None  # type: ignore[attr-defined]
    if (kinesis.__class__ is dict or isinstance(kinesis, Mapping)) and "sequenceNumber" in kinesis:
        return kinesis
    return None


def _members(  # noqa: PLR0917 -- the walk's whole context
    kinesis: Mapping[str, Any],
    data: bytes,
    dead: list[DeadLetter],
    stream: str,
    shard: str,
    unpack_kpl: Callable[[bytes], list[tuple[str | None, bytes]]],
) -> list[tuple[int | None, bytes]]:
    """The user records of a KPL aggregate; a corrupt one becomes a dead letter."""
    try:
        members = unpack_kpl(data)
    except RecordError as exc:
        why = exc
    except MemoryError:
        raise  # the process's, not the record's: the batch is retried
    except Exception as exc:  # noqa: BLE001 -- only decoding in here, never the store
        why = undecodable(exc)
    else:
        return [(index, payload) for index, (_key, payload) in enumerate(members)]
    dead.append(dead_letter(stream, shard, kinesis, None, data, why=why))
    return []


def undecodable(exc: Exception) -> RecordError:
    """A decoder failure no rule foresaw: the record's dead letter, and a warning with the trace."""
    log.warning("a record could not be decoded: %s", type(exc).__name__, exc_info=exc)
    text = str(exc)[:MAX_ERROR_CHARS]
    return RecordError(Reason.UNDECODABLE, f"the decoder failed: {type(exc).__name__}: {text}")


def _not_base64(stream: str, shard: str, kinesis: Mapping[str, Any], exc: Exception) -> DeadLetter:
    value = kinesis.get("data", "")
    text = value if isinstance(value, str) else _REPR.repr(value)
    raw = text[:MAX_RAW_CHARS].encode("utf-8", "replace")
    why = RecordError(Reason.NOT_BASE64, f"data is not base64: {exc}")
    return dead_letter(stream, shard, kinesis, None, raw, why=why)


def dead_letter(
    stream: str,
    shard: str,
    kinesis: Mapping[str, Any],
    sub: int | None,
    raw: bytes,
    *,
    why: RecordError,
) -> DeadLetter:
    """The dead letter of one payload (or record), with its origin and reason."""
    origin = Origin(stream, shard, str(kinesis.get("sequenceNumber")), sub, arrival_ms(kinesis))
    return DeadLetter(origin, why.reason, why.message, raw if why.raw is None else why.raw)


def _foreign(record: Any, stream: str, shard: str) -> DeadLetter:
    """A record that is not a Kinesis record (a misrouted event source): kept, not raised on.

    Its raw bytes are its JSON; one that JSON cannot hold (nested too deep for the encoder, a
    cycle, keys that are not text) is kept as a shortened repr, and the message says so.
    """
    why = "the record has no 'kinesis' part with a sequenceNumber"
    try:
        raw = json.dumps(record, default=str).encode()[:MAX_RAW_CHARS]
    except (RecursionError, ValueError, TypeError) as exc:
        raw = _REPR.repr(record).encode("utf-8", "replace")
        why += f" (kept as a shortened repr: not JSON-serialisable, {type(exc).__name__})"
    event_id = record.get("eventID") if isinstance(record, Mapping) else None
    event_id = str(event_id) if isinstance(event_id, str | int) else ""
    origin = Origin(stream, shard, event_id or hashlib.sha256(raw).hexdigest()[:32])
    return DeadLetter(origin, Reason.NOT_KINESIS, why, raw)


def arrival_ms(kinesis: Mapping[str, Any]) -> int:
    """ApproximateArrivalTimestamp in ms; 0 when it is missing, not a number or out of range."""
    return arrival_of(kinesis.get("approximateArrivalTimestamp"))


def arrival_of(value: object) -> int:
    """``arrival_ms`` of one ApproximateArrivalTimestamp value (epoch seconds)."""
    if isinstance(value, int | float) and FIRST_INSTANT_MS <= value * 1000 < LAST_INSTANT_MS:
        return round(value * 1000)
    return 0


_ARRIVAL_KEY: Final = "approximateArrivalTimestamp"


def _get_arrival(kinesis: Mapping[str, Any]) -> object:
    return kinesis.get(_ARRIVAL_KEY)


def _arrival_column(values: list[Any]) -> list[int] | None:
    """``arrival_of`` of each value by C-level calls: None unless every value is a finite
    float (or every one an int) in range, when the per-value rule must decide."""
    kinds = set(map(type, values))
    if not values or kinds not in ({float}, {int}):
        return None
    scaled = list(map(mul, values, repeat(1000)))
    if kinds == {float} and not math.isfinite(sum(scaled)):
        return None  # a NaN or an infinity, which min and max cannot be trusted with
    if min(scaled) >= FIRST_INSTANT_MS and max(scaled) < LAST_INSTANT_MS:
        return list(map(round, scaled))
    return None
