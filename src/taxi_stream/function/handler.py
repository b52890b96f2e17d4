"""The Kinesis tumbling-window handler: aggregate a window's trips, write them once at its end.

Contract (AWS Lambda, Kinesis event source with TumblingWindowInSeconds): each invocation gets
``Records``, ``window``, ``state``, ``shardId``, ``eventSourceARN``, ``isFinalInvokeForWindow``
and ``isWindowTerminatedEarly``; it returns ``{"state": ..., "batchItemFailures": [...]}``.
Records are aggregated into the state; on the final invoke (or an early termination) the
window's totals are written as contributions whose ids come from the stream, shard, window and
the first sequence number of the part, so a redelivered invoke writes nothing twice. Bad records
are dead-lettered at once (idempotently, by origin) and never fail the batch: whatever one
record's bytes do to the decoders, even an exception nobody foresaw (``undecodable``), that record
becomes a dead letter. Store failures raise, so Lambda retries the batch; the store is called
only outside the per-record decoding. Without a ``window`` (tumbling windows off) every
invocation writes its own contributions.
"""

from __future__ import annotations

import binascii
import hashlib
import json
import logging
import reprlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, tzinfo
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pybase64

from taxi_stream.core.errors import ConfigError, HandlerContractError, Reason, RecordError
from taxi_stream.core.records import Contribution, DeadLetter, Origin, contribution_id
from taxi_stream.core.timefmt import parse_iso_ms
from taxi_stream.core.totals import Totals
from taxi_stream.core.windows import (
    FIRST_INSTANT_MS,
    LAST_INSTANT_MS,
    check_window_seconds,
    window_start_ms,
)
from taxi_stream.function.codec import decode_values
from taxi_stream.ports import TotalsStore
from taxi_stream.streams.kpl import MAGIC, deaggregate

log = logging.getLogger(__name__)

CLOCKS: Final = ("arrival", "event")
STATE_VERSION: Final = 1
MAX_RAW_CHARS: Final = 1_400_000  # a Kinesis record's base64 data is at most this long
MAX_ERROR_CHARS: Final = 500  # of an unforeseen exception's text in a dead letter's message

_REPR = reprlib.Repr()  # bounded in depth and size: safe on any nesting or cycle
_REPR.maxlevel, _REPR.maxdict, _REPR.maxlist, _REPR.maxstring, _REPR.maxother = 8, 40, 40, 200, 200


@dataclass(frozen=True, slots=True)
class HandlerConfig:
    """How the handler windows trips; checks its own values."""

    clock: str = "arrival"
    window_seconds: int = 60  # event clock, or arrival clock when the event has no window
    naive_timezone: str = "UTC"  # zone of wire timestamps written without an offset

    def __post_init__(self) -> None:
        if self.clock not in CLOCKS:
            raise ConfigError(f"window clock must be one of {', '.join(CLOCKS)}: {self.clock!r}")
        check_window_seconds(self.window_seconds)
        self.tz()

    def tz(self) -> tzinfo:
        """The zone for naive timestamps."""
        if self.naive_timezone.upper() == "UTC":
            return UTC
        try:
            return ZoneInfo(self.naive_timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"unknown time zone: {self.naive_timezone!r}") from None


@dataclass(slots=True)
class _Part:
    """The running totals of one shard's part of a window (Lambda carries it as ``state``)."""

    first_sequence: str | None
    records: int
    totals: dict[tuple[str, int], list[int]]

    def to_state(self) -> dict[str, Any]:
        nested: dict[str, dict[str, list[int]]] = {}
        for (vendor, start), cell in self.totals.items():
            nested.setdefault(str(start), {})[vendor] = cell
        return {
            "taxiStream": STATE_VERSION,
            "firstSequenceNumber": self.first_sequence,
            "records": self.records,
            "totals": nested,
        }


def part_from_state(state: Any) -> _Part:
    """Rebuild a part from Lambda state; empty or foreign state starts a fresh part.

    Our own state that is damaged raises HandlerContractError: its counts cannot be recovered,
    and starting afresh would drop them silently, so the shard stops where alarms see it.
    """
    if not isinstance(state, Mapping) or state.get("taxiStream") != STATE_VERSION:
        if state:
            what = sorted(map(str, state))[:5] if isinstance(state, Mapping) else type(state)
            log.warning("ignoring state not written by this handler: %s", what)
        return _Part(None, 0, {})
    try:
        totals = {
            (str(vendor), int(start)): _cell(cell)
            for start, vendors in state["totals"].items()
            for vendor, cell in vendors.items()
        }
        return _Part(state.get("firstSequenceNumber"), int(state.get("records", 0)), totals)
    except (KeyError, AttributeError, TypeError, ValueError) as exc:
        raise HandlerContractError(f"the window state is damaged: {exc!r}") from exc


def _cell(cell: Any) -> list[int]:
    if not isinstance(cell, list) or len(cell) != 4 or not all(type(x) is int for x in cell):
        raise ValueError(f"a total must be four whole numbers, got {cell!r}")
    return list(cell)


class TumblingWindowHandler:
    """A Lambda handler (``handler(event, context)``) writing to an injected store."""

    def __init__(self, store: TotalsStore, config: HandlerConfig | None = None) -> None:
        self._store = store
        self._config = config or HandlerConfig()
        self._tz = self._config.tz()

    def __call__(self, event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
        """Handle one invocation; raise on infrastructure failure so the batch is retried."""
        shard = str(event.get("shardId") or _first(event, "eventID", "").split(":")[0])
        stream = _stream_name(event)
        window = event.get("window")
        fixed_start = _window_ms(window, "start")
        part = part_from_state(event.get("state"))
        dead = self._aggregate(event.get("Records") or [], part, stream, shard, fixed_start)
        if dead:
            self._store.put_dead_letters(dead)
        closing = bool(event.get("isFinalInvokeForWindow") or event.get("isWindowTerminatedEarly"))
        if window is None or closing:
            if window is None and part.first_sequence is not None:
                # Without windows an invocation is its own part; its id names both ends, so a
                # retry that carries other records is another part (at least once, never lost).
                part.first_sequence += f"..{_last_sequence(event.get('Records') or [])}"
            end = _window_ms(window, "end")
            written = self._store.apply(self._contributions(part, stream, shard, end))
            log.info(
                "window part written: shard=%s records=%d contributions_new=%d dead_letters=%d",
                shard, part.records, written, len(dead),
            )  # fmt: skip
            return {"state": {}, "batchItemFailures": []}
        return {"state": part.to_state(), "batchItemFailures": []}

    def _aggregate(
        self,
        records: Sequence[Mapping[str, Any]],
        part: _Part,
        stream: str,
        shard: str,
        fixed_start: int | None,
    ) -> list[DeadLetter]:
        dead: list[DeadLetter] = []
        acc = part.totals
        size = self._config.window_seconds
        by_event = self._config.clock == "event"
        tz = self._tz
        b64decode = _strict_b64decode
        decode = decode_values
        start = fixed_start or 0
        for record in records:
            kinesis = record.get("kinesis") if isinstance(record, Mapping) else None
            if not isinstance(kinesis, Mapping) or "sequenceNumber" not in kinesis:
                dead.append(_foreign(record, stream, shard))
                part.records += 1
                continue
            if part.first_sequence is None:
                part.first_sequence = str(kinesis["sequenceNumber"])
            part.records += 1
            try:
                data = b64decode(kinesis.get("data"))
            except (binascii.Error, ValueError, TypeError) as exc:
                dead.append(_not_base64(stream, shard, kinesis, exc))
                continue
            payloads = (
                [(None, data)]
                if data[:4] != MAGIC
                else _members(kinesis, data, dead, stream=stream, shard=shard)
            )
            for sub, payload in payloads:
                try:
                    vendor, pickup_ms, distance, duration, passengers = decode(payload, tz)
                except RecordError as exc:
                    dead.append(_dead(stream, shard, kinesis, sub, payload, why=exc))
                    continue
                except MemoryError:
                    raise  # the process's, not the record's: the batch is retried
                except Exception as exc:  # noqa: BLE001 -- only decoding in here, never the store
                    dead.append(_dead(stream, shard, kinesis, sub, payload, why=_undecodable(exc)))
                    continue
                if by_event:
                    start = window_start_ms(pickup_ms, size)
                elif fixed_start is None:
                    start = window_start_ms(_arrival_ms(kinesis), size)
                key = (vendor, start)
                cell = acc.get(key)
                if cell is None:
                    acc[key] = [1, distance, duration, passengers]
                else:
                    cell[0] += 1
                    cell[1] += distance
                    cell[2] += duration
                    cell[3] += passengers
        return dead

    def _contributions(
        self, part: _Part, stream: str, shard: str, fixed_end: int | None
    ) -> list[Contribution]:
        if part.first_sequence is None:
            return []
        size_ms = self._config.window_seconds * 1000
        out = []
        for (vendor, start), cell in sorted(part.totals.items()):
            end = fixed_end if fixed_end is not None and self._config.clock == "arrival" else None
            out.append(
                Contribution(
                    contribution_id=contribution_id(stream, shard, start, part.first_sequence),
                    vendor_id=vendor,
                    window_start_ms=start,
                    window_end_ms=end if end is not None else start + size_ms,
                    totals=Totals(*cell),
                    clock=self._config.clock,
                )
            )
        return out


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


def _window_ms(window: Any, edge: str) -> int | None:
    """The window's start or end in epoch ms (None without a window)."""
    if window is None:
        return None
    try:
        return parse_iso_ms(window[edge])
    except (KeyError, TypeError, ValueError) as exc:
        raise HandlerContractError(f"event window {edge} is not ISO-8601: {window!r}") from exc


def _last_sequence(records: Sequence[Any]) -> str:
    for record in reversed(records):
        kinesis = record.get("kinesis") if isinstance(record, Mapping) else None
        if isinstance(kinesis, Mapping) and "sequenceNumber" in kinesis:
            return str(kinesis["sequenceNumber"])
    return ""


def _stream_name(event: Mapping[str, Any]) -> str:
    arn = str(event.get("eventSourceARN") or _first(event, "eventSourceARN", "stream/unknown"))
    return arn.rsplit("/", 1)[-1]


def _first(event: Mapping[str, Any], key: str, default: str) -> str:
    records = event.get("Records") or []
    first = records[0] if records else None
    value = first.get(key) if isinstance(first, Mapping) else None
    return str(value) if isinstance(value, str | int) else default
