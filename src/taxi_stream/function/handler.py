"""The Kinesis tumbling-window handler: aggregate a window's trips, write them once at its end.

Contract (AWS Lambda, Kinesis event source with TumblingWindowInSeconds): each invocation gets
``Records``, ``window``, ``state``, ``shardId``, ``eventSourceARN``, ``isFinalInvokeForWindow``
and ``isWindowTerminatedEarly``; it returns ``{"state": ..., "batchItemFailures": [...]}``.
The event and response are typed by ``function/contract.py``; the state's layout is
``function/state.py``'s. Records are aggregated into the state; on the final invoke (or an early
termination) the window's totals are written as contributions whose ids come from the stream,
shard, window and the first sequence number of the part, so a redelivered invoke writes nothing
twice. Bad records are dead-lettered at once (idempotently, by origin) and never fail the batch:
whatever one record's bytes do to the decoders, even an exception nobody foresaw
(``undecodable``), that record becomes a dead letter. Store failures raise, so Lambda retries the
batch; the store is called only outside the per-record decoding. Without a ``window`` (tumbling
windows off) every invocation writes its own contributions, named by its first and last sequence
numbers.

A batch is unpacked by ``function/payloads.py`` and decoded and summed column by column by
``function/columns.py``, whose docstring says why that equals the record-by-record path (kept
here as ``_aggregate_each``, the reference); the records its fast rules cannot decide take that
path's own verdict.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import tzinfo
from itertools import repeat
from operator import mod, sub

from taxi_stream.core.errors import HandlerContractError, RecordError
from taxi_stream.core.records import Contribution, DeadLetter, contribution_id
from taxi_stream.core.timefmt import parse_iso_ms
from taxi_stream.core.watermarks import EventTime
from taxi_stream.core.windows import WindowClock, window_start_ms
from taxi_stream.function import columns, eventtime, payloads
from taxi_stream.function.codec import Stamps, TripValues, decode_values
from taxi_stream.function.config import CLOCKS, HandlerConfig, naive_zone
from taxi_stream.function.contract import KinesisEvent, LambdaContext, WindowResponse
from taxi_stream.function.instants import Checked
from taxi_stream.function.payloads import arrival_ms, undecodable
from taxi_stream.function.payloads import dead_letter as _dead
from taxi_stream.function.payloads import strict_b64decode as _strict_b64decode
from taxi_stream.function.state import LATE, Part, part_from_state
from taxi_stream.function.stats import InvocationStats
from taxi_stream.ports import TotalsStore
from taxi_stream.streams.kpl import deaggregate

__all__ = ["CLOCKS", "HandlerConfig", "TumblingWindowHandler", "naive_zone"]  # the settings too

log = logging.getLogger(__name__)


class TumblingWindowHandler:
    """A Lambda handler (``handler(event, context)``) writing to an injected store."""

    def __init__(
        self, store: TotalsStore, config: HandlerConfig | None = None, *, exact: bool = False
    ) -> None:
        self._store = store
        self.exact = exact  # record by record: the reference the batch path must equal
        self._config = config or HandlerConfig()
        self._tz = self._config.tz()
        self._stamps: Stamps = {}  # this handler's own: timestamp text -> ms in its zone
        self._checked: Checked = set()  # and the dropoff texts it found ISO-8601
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
        """Add the records' trips to the part; the dead letters of the rest, in record order."""
        if self.exact:
            return self._aggregate_each(records, part, stream, shard, fixed_start)
        batch = payloads.unpack(records, part, stream, shard, _decoders())
        by_vendor = self._rules is None and fixed_start is not None  # then one window each
        arrivals = [] if by_vendor else batch.arrivals()
        letters: list[tuple[int, DeadLetter]] = []
        chunks = columns.decode_chunks(
            batch.payloads,
            self._tz,
            self._stamps,
            self._dropoff,
            by_vendor=by_vendor,
            checked=self._checked,
        )
        for found, slow in chunks:
            decoded: list[tuple[int, TripValues]] = []
            for index in slow:
                verdict = _verdict(batch.payloads[index], self._tz, self._stamps, self._dropoff)
                if isinstance(verdict, RecordError):
                    letters.append((index, _letter(batch, index, verdict, stream, shard)))
                else:
                    decoded.append((index, verdict))
            if self._rules is None:
                self._add_by_arrival(part, arrivals, found, decoded, fixed_start)
            else:
                letters += self._fold_by_event(part, batch, found, decoded, (stream, shard))
        return batch.ordered(letters)

    def _add_by_arrival(
        self,
        part: Part,
        arrivals: list[int],
        found: list[columns.Columns],
        decoded: list[tuple[int, TripValues]],
        fixed_start: int | None,
    ) -> None:
        """Sum the trips into their arrival windows (``fixed_start``: the invocation's, and
        ``found`` one Columns per vendor; else one, windowed by each record's arrival)."""
        size_ms = self._config.window_seconds * 1000
        if fixed_start is None:
            (every,) = found
            times = list(map(arrivals.__getitem__, every.index))
            starts = list(map(sub, times, map(mod, times, repeat(size_ms))))
            keys = list(zip(every.vendor, starts, strict=True))
            sums = columns.group_sums(keys, every.values())
            columns.add_cells(part, {(str(v), start): c for (v, start), c in sums.items()})
        else:
            columns.add_cells(part, {
                (str(vendor.vendor[0]), fixed_start): vendor.totals()
                for vendor in found
                if vendor.index
            })  # fmt: skip
        size_s = self._config.window_seconds
        for index, (vendor, _, *values) in decoded:
            start = window_start_ms(arrivals[index], size_s) if fixed_start is None else fixed_start
            columns.add_cells(part, {(vendor, start): [1, *values]})

    def _fold_by_event(
        self,
        part: Part,
        batch: payloads.Batch,
        found: list[columns.Columns],
        decoded: list[tuple[int, TripValues]],
        where: tuple[str, str],
    ) -> list[tuple[int, DeadLetter]]:
        """Fold the trips in record order into their event windows; the dead letters of some."""
        rules = self._rules
        assert rules is not None  # the event clock's
        arrivals = batch.arrivals()
        (every,) = found
        times = list(map(arrivals.__getitem__, every.index))
        if not decoded and columns.fold(part, rules, every, times):
            return []
        trips = dict(decoded)
        trips.update(
            zip(
                every.index,
                zip(map(str, every.vendor), every.event_ms, *every.values(), strict=True),
                strict=True,
            )
        )
        letters: list[tuple[int, DeadLetter]] = []
        for index in sorted(trips):
            why = eventtime.fold(part, rules, trips[index], arrivals[index])
            if why is not None:
                letters.append((index, _letter(batch, index, why, *where)))
        return letters

    def _aggregate_each(
        self,
        records: Sequence[object],
        part: Part,
        stream: str,
        shard: str,
        fixed_start: int | None,
    ) -> list[DeadLetter]:
        """``_aggregate`` record by record: the exact path the batch path is measured against."""
        dead: list[DeadLetter] = []
        acc = part.cells
        size = self._config.window_seconds
        rules, dropoff, fold = self._rules, self._dropoff, eventtime.fold
        tz, stamps = self._tz, self._stamps
        start = fixed_start or 0
        walk = payloads.each(records, part, dead, stream, shard, _decoders())
        for kinesis, sub_index, payload in walk:
            values = _verdict(payload, tz, stamps, dropoff)
            if isinstance(values, RecordError):
                dead.append(_dead(stream, shard, kinesis, sub_index, payload, why=values))
                continue
            if rules is not None:
                why = fold(part, rules, values, arrival_ms(kinesis))
                if why is not None:
                    dead.append(_dead(stream, shard, kinesis, sub_index, payload, why=why))
                continue
            vendor, _, distance, duration, passengers, fare, tip, amount = values
            if fixed_start is None:
                start = window_start_ms(arrival_ms(kinesis), size)
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


def _decoders() -> payloads.Decoders:
    """This module's base64 and KPL decoders, as they are now (a test may substitute them)."""
    return payloads.Decoders(_strict_b64decode, deaggregate)


def _verdict(payload: bytes, tz: tzinfo, stamps: Stamps, dropoff: bool) -> TripValues | RecordError:
    """One payload's values, or the RecordError of its dead letter: never an exception."""
    try:
        return decode_values(payload, tz, stamps, dropoff)
    except RecordError as exc:
        return exc
    except MemoryError:
        raise  # the process's, not the record's: the batch is retried
    except Exception as exc:  # noqa: BLE001 -- only decoding in here, never the store
        return undecodable(exc)


def _letter(
    batch: payloads.Batch, index: int, why: RecordError, stream: str, shard: str
) -> DeadLetter:
    kinesis, member = batch.kinesis(index), batch.sub(index)
    return _dead(stream, shard, kinesis, member, batch.payloads[index], why=why)


def _trips(part: Part) -> int:
    return sum(totals.trip_count for totals in part.totals().values())


def _late(part: Part) -> int:
    return sum(cell[LATE] for cell in part.cells.values())


def _count_written(stats: InvocationStats, contributions: list[Contribution], new: int) -> None:
    stats.contributions_written = new
    if contributions:
        stats.newest_window_end_ms = max(c.window_end_ms for c in contributions)


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
