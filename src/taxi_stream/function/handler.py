"""The Kinesis tumbling-window handler: aggregate a window's trips, write them once at its end.

Contract (AWS Lambda, Kinesis event source with TumblingWindowInSeconds): each invocation gets
``Records``, ``window``, ``state``, ``shardId``, ``eventSourceARN``, ``isFinalInvokeForWindow``
and ``isWindowTerminatedEarly``; it returns ``{"state": ..., "batchItemFailures": [...]}``.
The event and response are typed by ``function/contract.py``; the state's layout is
``function/state.py``'s. Records are aggregated into the state; on the final invoke (or an early
termination) the window's totals are written as contributions whose ids come from the stream,
shard, window and the first sequence number of the part, so a redelivered invoke writes nothing
twice. Bad records
are dead-lettered at once (idempotently, by origin) and never fail the batch: whatever one
record's bytes do to the decoders, even an exception nobody foresaw (``undecodable``), that record
becomes a dead letter. Store failures raise, so Lambda retries the batch; the store is called
only outside the per-record decoding. Without a ``window`` (tumbling windows off) every
invocation writes its own contributions, named by its first and last sequence numbers.
"""

from __future__ import annotations

import binascii
import hashlib
import json
import logging
import reprlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final

import pybase64

from taxi_stream.core.errors import HandlerContractError, Reason, RecordError
from taxi_stream.core.records import (
    Contribution,
    DeadLetter,
    Origin,
    StreamRecord,
    contribution_id,
)
from taxi_stream.core.timefmt import parse_iso_ms
from taxi_stream.core.watermarks import EventTime
from taxi_stream.core.windows import (
    FIRST_INSTANT_MS,
    LAST_INSTANT_MS,
    WindowClock,
    window_start_ms,
)
from taxi_stream.function import eventtime
from taxi_stream.function.codec import Stamps, decode_values
from taxi_stream.function.config import CLOCKS, HandlerConfig, naive_zone
from taxi_stream.function.contract import (
    KinesisEvent,
    KinesisRecords,
    LambdaContext,
    WindowResponse,
)
from taxi_stream.function.state import LATE, Part, part_from_state
from taxi_stream.function.stats import InvocationStats
from taxi_stream.ports import TotalsStore
from taxi_stream.streams.kpl import MAGIC, deaggregate

__all__ = ["CLOCKS", "HandlerConfig", "TumblingWindowHandler", "naive_zone"]  # the settings too

log = logging.getLogger(__name__)

MAX_RAW_CHARS: Final = 1_400_000  # a Kinesis record's base64 data is at most this long
MAX_ERROR_CHARS: Final = 500  # of an unforeseen exception's text in a dead letter's message

_REPR = reprlib.Repr()  # bounded in depth and size: safe on any nesting or cycle
_REPR.maxlevel, _REPR.maxdict, _REPR.maxlist, _REPR.maxstring, _REPR.maxother = 8, 40, 40, 200, 200


class TumblingWindowHandler:
    """A Lambda handler (``handler(event, context)``) writing to an injected store."""

    def __init__(self, store: TotalsStore, config: HandlerConfig | None = None) -> None:
        self._store = store
        self._config = config or HandlerConfig()
        self._tz = self._config.tz()
        self._stamps: Stamps = {}  # this handler's own: timestamp text -> ms in its zone
        by_event = self._config.clock is WindowClock.EVENT
        self._rules = self._config.rules() if by_event else None
        self._dropoff = by_event and self._config.event_time is EventTime.DROPOFF
        self.stats = InvocationStats()  # what the last invocation did (its metrics read it)

    def __call__(self, event: KinesisEvent, context: LambdaContext | None = None) -> WindowResponse:
        """Handle one invocation; raise on infrastructure failure so the batch is retried."""
        shard = str(event.get("shardId") or _first(event, "eventID", "").split(":")[0])
        stream = _stream_name(event)
        window = event.get("window")
        records: Sequence[object] = event.get("Records") or []  # untrusted, read field by field
        fixed_start = _window_ms(window, "start")
        part = part_from_state(event.get("state"))
        stats = self.stats = InvocationStats(records=len(records))
        trips_before, late_before = _trips(part), _late(part)
        if self._rules is not None and part.first_sequence is None:
            first = _first_sequence(records)
            if first is not None:  # a new part: it starts from the shard's stored watermark
                eventtime.begin(part, self._store.watermark(stream, shard), first)
        dead = self._aggregate(records, part, stream, shard, fixed_start)
        stats.trips = _trips(part) - trips_before
        stats.late_trips = _late(part) - late_before
        stats.count_dead(letter.reason for letter in dead)
        if dead:
            self._store.put_dead_letters(dead)
        closing = bool(event.get("isFinalInvokeForWindow") or event.get("isWindowTerminatedEarly"))
        if window is None or closing:
            sequences = part.first_sequence
            if window is None and sequences is not None:
                # Without windows an invocation is its own part; its id names both ends, so a
                # retry that carries other records is another part (at least once, never lost).
                sequences += f"..{_last_sequence(records)}"
            end = _window_ms(window, "end")
            contributions = self._contributions(part, sequences, stream, shard, end)
            mark = eventtime.watermark_of(part, stream, shard)
            if mark is None:
                written = self._store.apply(contributions)
            else:
                written = self._store.apply(contributions, mark)
            _count_written(stats, contributions, written)
            log.info(
                "window part written: shard=%s records=%d contributions_new=%d dead_letters=%d",
                shard, part.records, written, len(dead),
            )  # fmt: skip
            return {"state": {}, "batchItemFailures": []}
        return {"state": part.to_state(), "batchItemFailures": []}

    def _aggregate(
        self,
        records: Sequence[object],
        part: Part,
        stream: str,
        shard: str,
        fixed_start: int | None,
    ) -> list[DeadLetter]:
        dead: list[DeadLetter] = []
        acc = part.cells
        size = self._config.window_seconds
        rules, dropoff, fold = self._rules, self._dropoff, eventtime.fold
        tz, stamps, decode = self._tz, self._stamps, decode_values  # locals: faster in the loop
        start = fixed_start or 0
        for kinesis, sub, payload in _payloads(records, part, dead, stream, shard):
            try:
                values = decode(payload, tz, stamps, dropoff)
            except RecordError as exc:
                dead.append(_dead(stream, shard, kinesis, sub, payload, why=exc))
                continue
            except MemoryError:
                raise  # the process's, not the record's: the batch is retried
            except Exception as exc:  # noqa: BLE001 -- only decoding in here, never the store
                dead.append(_dead(stream, shard, kinesis, sub, payload, why=_undecodable(exc)))
                continue
            if rules is not None:
                why = fold(part, rules, values, _arrival_ms(kinesis))
                if why is not None:
                    dead.append(_dead(stream, shard, kinesis, sub, payload, why=why))
                continue
            vendor, _, distance, duration, passengers, fare, tip, amount = values
            if fixed_start is None:
                start = window_start_ms(_arrival_ms(kinesis), size)
            key = (vendor, start)
            cell = acc.get(key)
            if cell is None:
                acc[key] = [1, distance, duration, passengers, fare, tip, amount, 0]
            else:
                cell[0] += 1
                cell[1] += distance
                cell[2] += duration
                cell[3] += passengers
                cell[4] += fare
                cell[5] += tip
                cell[6] += amount
        return dead

    def _contributions(
        self, part: Part, sequences: str | None, stream: str, shard: str, fixed_end: int | None
    ) -> list[Contribution]:
        """The part's contributions; ``sequences`` names the part in their ids (None: empty)."""
        if sequences is None:
            return []
        clock = self._config.clock
        size_ms = self._config.window_seconds * 1000
        end = fixed_end if clock is WindowClock.ARRIVAL else None
        return [
            Contribution(
                contribution_id=contribution_id(stream, shard, start, sequences),
                vendor_id=vendor,
                window_start_ms=start,
                window_end_ms=end if end is not None else start + size_ms,
                totals=totals,
                clock=clock,
            )
            for (vendor, start), totals in sorted(part.totals().items())
        ]


def _payloads(
    records: Sequence[object], part: Part, dead: list[DeadLetter], stream: str, shard: str
) -> Iterator[tuple[Mapping[str, Any], int | None, bytes]]:
    """Each trip payload of the records (KPL members one by one), as (kinesis, sub, bytes).

    Counts the records into the part and names its first sequence number; a record that is no
    Kinesis record, or whose data is not base64, becomes a dead letter here.
    """
    if records.__class__ is KinesisRecords:  # the local runner's view: the bytes themselves
        yield from _viewed(records.stream_records, part, dead, stream, shard)
        return
    b64decode = _strict_b64decode
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
            for sub, payload in _members(kinesis, data, dead, stream=stream, shard=shard):
                yield kinesis, sub, payload


def _viewed(
    records: Sequence[StreamRecord], part: Part, dead: list[DeadLetter], stream: str, shard: str
) -> Iterator[tuple[Mapping[str, Any], int | None, bytes]]:
    """``_payloads`` of the runner's view: the bytes as they are, no base64 to decode.

    The kinesis part beside each payload carries what a verdict reads of it (its sequence
    number and arrival time), with the values the record's event form gives.
    """
    if records and part.first_sequence is None:
        part.first_sequence = records[0].sequence_number
    part.records += len(records)
    for record in records:
        kinesis = {
            "sequenceNumber": record.sequence_number,
            "approximateArrivalTimestamp": record.arrival_ms / 1000,
        }
        data = record.data
        if data[:4] != MAGIC:
            yield kinesis, None, data
        else:
            for sub, payload in _members(kinesis, data, dead, stream=stream, shard=shard):
                yield kinesis, sub, payload


def _kinesis_part(record: object) -> Mapping[str, Any] | None:
    """The record's ``kinesis`` mapping when it has a sequence number, else None."""
    is_map = record.__class__ is dict or isinstance(record, Mapping)
    kinesis = record.get("kinesis") if is_map else None  # type: ignore[attr-defined]
    if (kinesis.__class__ is dict or isinstance(kinesis, Mapping)) and "sequenceNumber" in kinesis:
        return kinesis
    return None


def _trips(part: Part) -> int:
    return sum(totals.trip_count for totals in part.totals().values())


def _late(part: Part) -> int:
    return sum(cell[LATE] for cell in part.cells.values())


def _count_written(stats: InvocationStats, contributions: list[Contribution], new: int) -> None:
    stats.contributions_written = new
    if contributions:
        stats.newest_window_end_ms = max(c.window_end_ms for c in contributions)


def _strict_b64decode(text: Any) -> bytes:
    return pybase64.b64decode(text, validate=True)


def _members(
    kinesis: Mapping[str, Any], data: bytes, dead: list[DeadLetter], *, stream: str, shard: str
) -> list[tuple[int | None, bytes]]:
    """The user records of a KPL aggregate; a corrupt one becomes a dead letter."""
    try:
        members = deaggregate(data)
    except RecordError as exc:
        why = exc
    except MemoryError:
        raise  # the process's, not the record's: the batch is retried
    except Exception as exc:  # noqa: BLE001 -- only decoding in here, never the store
        why = _undecodable(exc)
    else:
        return [(index, payload) for index, (_key, payload) in enumerate(members)]
    dead.append(_dead(stream, shard, kinesis, None, data, why=why))
    return []


def _undecodable(exc: Exception) -> RecordError:
    """A decoder failure no rule foresaw: the record's dead letter, and a warning with the trace."""
    log.warning("a record could not be decoded: %s", type(exc).__name__, exc_info=exc)
    text = str(exc)[:MAX_ERROR_CHARS]
    return RecordError(Reason.UNDECODABLE, f"the decoder failed: {type(exc).__name__}: {text}")


def _not_base64(stream: str, shard: str, kinesis: Mapping[str, Any], exc: Exception) -> DeadLetter:
    value = kinesis.get("data", "")
    text = value if isinstance(value, str) else _REPR.repr(value)
    raw = text[:MAX_RAW_CHARS].encode("utf-8", "replace")
    why = RecordError(Reason.NOT_BASE64, f"data is not base64: {exc}")
    return _dead(stream, shard, kinesis, None, raw, why=why)


def _dead(
    stream: str,
    shard: str,
    kinesis: Mapping[str, Any],
    sub: int | None,
    raw: bytes,
    *,
    why: RecordError,
) -> DeadLetter:
    origin = Origin(stream, shard, str(kinesis.get("sequenceNumber")), sub, _arrival_ms(kinesis))
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


def _arrival_ms(kinesis: Mapping[str, Any]) -> int:
    """ApproximateArrivalTimestamp in ms; 0 when it is missing, not a number or out of range."""
    value = kinesis.get("approximateArrivalTimestamp")
    if isinstance(value, int | float) and FIRST_INSTANT_MS <= value * 1000 < LAST_INSTANT_MS:
        return round(value * 1000)
    return 0


def _window_ms(window: object, edge: str) -> int | None:
    """The window's start or end in epoch ms (None without a window)."""
    if window is None:
        return None
    value = window.get(edge) if isinstance(window, Mapping) else None
    try:
        if not isinstance(value, str):
            raise TypeError(f"the window's {edge} is {type(value).__name__}, not text")
        return parse_iso_ms(value)
    except (TypeError, ValueError) as exc:
        raise HandlerContractError(f"event window {edge} is not ISO-8601: {window!r}") from exc


def _first_sequence(records: Sequence[object]) -> str | None:
    for record in records:
        kinesis = record.get("kinesis") if isinstance(record, Mapping) else None
        if isinstance(kinesis, Mapping) and "sequenceNumber" in kinesis:
            return str(kinesis["sequenceNumber"])
    return None


def _last_sequence(records: Sequence[object]) -> str:
    for record in reversed(records):
        kinesis = record.get("kinesis") if isinstance(record, Mapping) else None
        if isinstance(kinesis, Mapping) and "sequenceNumber" in kinesis:
            return str(kinesis["sequenceNumber"])
    return ""


def _stream_name(event: KinesisEvent) -> str:
    arn = str(event.get("eventSourceARN") or _first(event, "eventSourceARN", "stream/unknown"))
    return arn.rsplit("/", 1)[-1]


def _first(event: KinesisEvent, key: str, default: str) -> str:
    records: Sequence[object] = event.get("Records") or []
    first = records[0] if records else None
    value = first.get(key) if isinstance(first, Mapping) else None
    return str(value) if isinstance(value, str | int) else default
