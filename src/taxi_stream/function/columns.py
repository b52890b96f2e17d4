"""The handler's batch fast path: clean records decoded, checked and summed column by column.

Why it gives what the record-by-record path gives, for any bytes:

- Decoding. Each payload is decoded alone by the same typed msgspec decoder as
  ``codec.decode_values`` (``map`` over a chunk of payloads; a chunk that fails is decoded
  record by record), under the same conditions (bytes, ASCII, at most 1 MiB). A payload that
  does not decode goes to ``decode_values`` itself, so it gets exactly today's verdict; one
  payload's bytes never reach another's decoder.
- Checks. ``codec._fast`` returns None (the liberal rules decide) for a record whose vendor is
  not an int, that has neither distance nor duration, or whose pickup (with the dropoff clock:
  its dropoff; else: a ``dropoffDate`` that is not ISO-8601) the core's timestamp rule rejects.
  ``_columns`` finds exactly those records by the same rules, over whole columns, and sends them
  to ``decode_values`` too. Timestamps go through the memos of ``function/instants.py``: a
  text read once gives the same instant, or the same verdict, every time.
- Values. The same float and integer operations as ``_fast``, by ``map``: the distance
  ``round(miles * 1000)``; cents by ``function/cents.py``, whose docstring says why its two
  streamed sums give ``_fast``'s cents, and which takes ``_fast``'s own rule for every amount
  of a column where one is near a half cent.
- Sums. Totals are integers, so their sums do not depend on order, grouping (by vendor, by
  chunk of CHUNK records, by (vendor, window) mask: ``sums.py``) or on being streamed instead
  of listed.
- Event clock (``fold``). Before record k the watermark is the running maximum of the starting
  watermark and every earlier trip's event time minus the out-of-orderness
  (``itertools.accumulate``): a late trip cannot raise it (its event time is before its
  window's end, which is at or before the watermark, and both bounds are >= 0), so the dead
  letters of the ``late`` policy would not change it either. The marks only rise, so when the
  earliest window of the chunk closes after the last mark, no trip is late and the marks are
  not listed. Whenever a trip would be a dead
  letter (out of range, or late under the dead-letter policy), or a chunk holds a record the
  core decides, the handler folds that chunk record by record; chunks go in batch order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import tzinfo
from itertools import accumulate, compress, repeat
from operator import add, eq, itemgetter, le, mod, mul, sub
from typing import Any, Final

from msgspec.structs import astuple

from taxi_stream.core.limits import MAX_RECORD_BYTES
from taxi_stream.core.watermarks import LatePolicy
from taxi_stream.core.windows import LAST_INSTANT_MS
from taxi_stream.function.cents import cents_column, cents_sum
from taxi_stream.function.codec import CleanTrip, Stamps, decode_clean
from taxi_stream.function.eventtime import FIRST_EVENT_MS, MAX_AHEAD_MS, EventRules
from taxi_stream.function.instants import Checked, dropoff_instants, instants, unparsed
from taxi_stream.function.state import Part
from taxi_stream.function.sums import K, add_cells, group_sums, masks

__all__ = ["CHUNK", "Columns", "add_cells", "decode_batch", "decode_chunks", "fold", "group_sums"]

CHUNK: Final = 256  # payloads decoded by one map and summed at once; a failing one: by record
NO_MARK: Final = -(2**63)  # below any watermark: "none yet"


@dataclass(slots=True)
class Columns:
    """The fields of the records the fast rules decided, checked, in batch order.

    ``values()`` gives the per-record columns a total sums (as ``TripValues`` after the event
    time: distance in thousandths of a mile, duration s, passengers, fare, tip and total amount
    in cents); ``totals()`` their sums alone, without a list per column.
    """

    index: Sequence[int]  # the records' positions in the batch
    vendor: Sequence[int]  # vendor ids as the wire has them (ints; their keys are str(vendor))
    event_ms: Sequence[int]
    miles: Sequence[float]
    duration_s: Sequence[int]
    passengers: Sequence[int | None]
    dollars: Sequence[Sequence[float | None]]  # fare, tip and total amount

    def values(self) -> list[Sequence[int]]:
        """The per-record columns, in ``TripValues`` order after the event time."""
        passengers: Sequence[Any] = self.passengers
        if None in passengers:
            passengers = [count or 0 for count in passengers]
        money = [cents_column(amounts, name) for amounts, name in zip(self.dollars, _MONEY)]  # noqa: B905
        milli = list(map(round, map(mul, self.miles, repeat(1000))))
        return [milli, self.duration_s, passengers, *money]

    def totals(self) -> list[int]:
        """[trips, then the sum of each column of ``values()``], by streams, not lists."""
        return _totals(len(self.index), self.miles, self.duration_s, self.passengers, self.dollars)

    def totals_by(self, keys: Sequence[K]) -> dict[K, list[int]]:
        """Per key (``keys``: one per record): ``totals()`` of the key's records alone.

        A few keys take one mask each over the columns as the wire gave them (no list of
        cents); more keys, the per-record ``values()`` summed by ``sums.group_sums``.
        """
        if len(set(keys)) == 1:
            return {keys[0]: self.totals()}
        found = masks(keys)
        if found is None:
            return group_sums(list(keys), self.values())
        return {
            key: _totals(
                count,
                list(compress(self.miles, mask)),
                list(compress(self.duration_s, mask)),
                list(compress(self.passengers, mask)),
                [list(compress(column, mask)) for column in self.dollars],
            )
            for key, (count, mask) in found.items()
        }


def _totals(
    trips: int,
    miles: Sequence[float],
    duration_s: Sequence[int],
    passengers: Sequence[int | None],
    dollars: Sequence[Sequence[float | None]],
) -> list[int]:
    """[trips, then the sum of each column ``Columns.values()`` would give]."""
    money = [cents_sum(amounts, name) for amounts, name in zip(dollars, _MONEY)]  # noqa: B905
    milli = sum(map(round, map(mul, miles, repeat(1000))))
    return [trips, milli, sum(duration_s), sum(filter(None, passengers)), *money]


def decode_chunks(
    payloads: Sequence[bytes],
    naive_tz: tzinfo,
    stamps: Stamps,
    dropoff: bool,
    *,
    by_vendor: bool = False,
    checked: Checked | None = None,
) -> Iterator[tuple[list[Columns], list[int]]]:
    """``decode_batch`` of each CHUNK of the payloads in turn (positions in the whole batch).

    A chunk's structs are checked and summed while the processor's caches still hold them.
    """
    memo = set() if checked is None else checked  # the chunks share it
    for start in range(0, len(payloads), CHUNK):
        chunk = payloads[start : start + CHUNK]
        yield decode_batch(
            chunk, naive_tz, stamps, dropoff, by_vendor=by_vendor, offset=start, checked=memo
        )


def decode_batch(
    payloads: Sequence[bytes],
    naive_tz: tzinfo,
    stamps: Stamps,
    dropoff: bool,
    *,
    by_vendor: bool = False,
    offset: int = 0,
    checked: Checked | None = None,
) -> tuple[list[Columns], list[int]]:
    """The columns of every record the fast rules decide, and the positions of the rest.

    One Columns in batch order, or with ``by_vendor`` one per vendor id (each in batch order);
    positions count from ``offset``. ``checked``: the dropoff texts already checked (updated).
    """
    index, structs, slow = _typed(payloads, offset)
    rows = list(map(astuple, structs))  # each struct's fields, in _FIELDS order
    groups = _by_vendor(index, rows) if by_vendor else [(index, rows)]
    memo = set() if checked is None else checked
    found = []
    for group_index, group in groups:
        columns, rest = _decided(group_index, group, (naive_tz, stamps, memo), dropoff)
        found.append(columns)
        slow += rest
    return found, sorted(slow)


Memos = tuple[tzinfo, Stamps, Checked]  # the naive zone and the timestamp memos it reads with


Row = tuple[Any, ...]  # one struct's fields, in _FIELDS order (``msgspec.structs.astuple``)


def _decided(
    index: list[int], rows: list[Row], memos: Memos, dropoff: bool
) -> tuple[Columns, list[int]]:
    """The columns of the rows the fast rules decide; the positions of the others."""
    slow: list[int] = []
    while True:
        columns = _columns(rows, memos, dropoff)
        if isinstance(columns, Columns):
            columns.index = index
            return columns, slow
        rest = set(columns)  # positions in rows the core rules must decide (once each)
        slow += (index[k] for k in rest)
        keep = [k not in rest for k in range(len(rows))]
        index, rows = list(compress(index, keep)), list(compress(rows, keep))


def _by_vendor(index: list[int], rows: list[Row]) -> list[tuple[list[int], list[Row]]]:
    """The rows (and their positions) split by vendor id, each part in batch order.

    Vendor ids 0 to 255 (every TLC and simulated one) are masked by ``bytes.translate``, a
    C loop; any other id (or a text, which ``_columns`` will leave to the core) by ``eq``.
    """
    vendors = list(map(_VENDOR, rows))
    try:
        small = bytes(vendors)
    except (TypeError, ValueError):
        return _by_value(index, rows, vendors)
    rest = small.translate(None, small[:1])
    if not rest:
        return [(index, rows)]
    parts = [_part(index, rows, small.translate(_ONLY[small[0]]))]
    while rest:
        parts.append(_part(index, rows, small.translate(_ONLY[rest[0]])))
        rest = rest.translate(None, rest[:1])
    return parts


_ONLY: Final = [bytes(value) + b"\x01" + bytes(255 - value) for value in range(256)]  # 1: v


def _part(index: list[int], rows: list[Row], mask: Any) -> tuple[list[int], list[Row]]:
    return list(compress(index, mask)), list(compress(rows, mask))


def _by_value(
    index: list[int], rows: list[Row], vendors: list[Any]
) -> list[tuple[list[int], list[Row]]]:
    """``_by_vendor`` of any ids: one ``eq`` mask per distinct id."""
    kinds = Counter(vendors)  # msgspec gives ints and texts only: no 1 == True == 1.0 here
    if len(kinds) <= 1:
        return [(index, rows)]
    return [_part(index, rows, list(map(eq, vendors, repeat(vendor)))) for vendor in kinds]


def _typed(payloads: Sequence[bytes], offset: int) -> tuple[list[int], list[CleanTrip], list[int]]:
    """(positions, structs) of the payloads the typed decoder takes, and the other positions."""
    if set(map(type, payloads)) - {bytes}:
        return [], [], list(range(offset, offset + len(payloads)))
    index: list[int] = []
    structs: list[CleanTrip] = []
    slow: list[int] = []
    for start in range(0, len(payloads), CHUNK):
        chunk = payloads[start : start + CHUNK]
        if all(map(bytes.isascii, chunk)) and max(map(len, chunk)) <= MAX_RECORD_BYTES:
            try:
                decoded = list(map(decode_clean, chunk))
            except MemoryError:
                raise
            except Exception:  # noqa: BLE001, S110 -- which record it was is found one by one
                pass
            else:
                index += range(offset + start, offset + start + len(chunk))
                structs += decoded
                continue
        for position, data in enumerate(chunk, offset + start):
            wire = _one(data)
            if wire is None:
                slow.append(position)
            else:
                index.append(position)
                structs.append(wire)
    return index, structs, slow


def _one(data: bytes) -> CleanTrip | None:
    if not data.isascii() or len(data) > MAX_RECORD_BYTES:
        return None
    try:
        return decode_clean(data)
    except MemoryError:
        raise
    except Exception:  # noqa: BLE001 -- decode_values gives this record its verdict
        return None


_FIELDS: Final = CleanTrip.__struct_fields__
_VENDOR: Final = itemgetter(_FIELDS.index("vendorId"))
_MONEY: Final = ("fareAmount", "tipAmount", "totalAmount")


def _columns(rows: list[Row], memos: Memos, dropoff: bool) -> Columns | list[int]:
    """The records' columns, or the positions of those ``codec._fast`` leaves to the core."""
    naive_tz, stamps, checked = memos
    if not rows:
        return Columns([], [], [], [], [], [], [[], [], []])
    field = dict(zip(_FIELDS, zip(*rows, strict=True), strict=True))  # one transposition
    vendor = field["vendorId"]
    distance = _either(field["googleDistance"], field["gcDistance"])
    duration = _either(field["tripDuration"], field["googleDuration"])
    pickup = instants(field["pickupDate"], "pickupDate", naive_tz, stamps)
    bad = _nones(distance) + _nones(duration) + _nones(pickup)
    if set(map(type, vendor)) - {int}:
        bad += [k for k, value in enumerate(vendor) if value.__class__ is not int]
    if bad:
        return bad
    texts = field["dropoffDate"]
    if dropoff:
        event = dropoff_instants(texts, pickup, duration, naive_tz, stamps)
        bad = _nones(event)
    else:
        event = pickup
        bad = unparsed(texts, stamps, checked)
    if bad:
        return bad
    dollars = [field[name] for name in _MONEY]
    return Columns([], vendor, event, distance, duration, field["passengerCount"], dollars)


def _either(first: Sequence[Any], second: Sequence[Any]) -> Sequence[Any]:
    """Each value of ``first``, else (where it is None) that of ``second``."""
    if None not in first:
        return first
    return [one if one is not None else other for one, other in zip(first, second)]  # noqa: B905 -- equal lengths


def _nones(values: Sequence[Any]) -> list[int]:
    return [k for k, value in enumerate(values) if value is None] if None in values else []


def fold(part: Part, rules: EventRules, columns: Columns, arrivals: list[int]) -> bool:
    """Fold every trip of the columns as ``eventtime.fold`` would one by one, in order.

    False, with the part untouched, when some trip would be a dead letter (out of range, or
    late under the dead-letter policy): then the trips take ``eventtime.fold``.
    """
    event = columns.event_ms
    if not event:
        return True
    low, high = min(event), max(event)
    if low < FIRST_EVENT_MS or high >= LAST_INSTANT_MS:
        return False
    if max(map(sub, event, arrivals)) > MAX_AHEAD_MS:
        return False  # maybe ahead of its arrival (or the arrival is unknown): fold decides
    size = rules.size_ms
    first = NO_MARK if part.watermark_ms is None else part.watermark_ms
    last = max(first, high - rules.out_of_orderness_ms)  # the mark after every trip
    window = low - low % size
    none_late = window + size + rules.allowed_lateness_ms > last  # none closes before `last`
    if none_late and high - high % size == window:  # and all in one window: keyed by vendor
        _advance(part, last, arrivals)
        by_vendor = columns.totals_by(columns.vendor)
        add_cells(part, {(str(vendor), window): cell for vendor, cell in by_vendor.items()})
        return True
    starts = list(map(sub, event, map(mod, event, repeat(size))))
    late = None if none_late else _late(rules, event, starts, first)
    if late is not None and rules.late is LatePolicy.DEAD_LETTER:
        return False
    _advance(part, last, arrivals)
    keys = list(zip(columns.vendor, starts, strict=True))
    sums = columns.totals_by(keys) if late is None else group_sums(keys, [*columns.values(), late])
    add_cells(part, {(str(vendor), start): cell for (vendor, start), cell in sums.items()})
    return True


def _late(
    rules: EventRules, event: Sequence[int], starts: list[int], first: int
) -> list[bool] | None:
    """Each trip's lateness against the watermark before it; None when none is late."""
    candidates = map(sub, event, repeat(rules.out_of_orderness_ms))
    marks = accumulate(candidates, max, initial=first)  # marks[k]: before trip k
    closes = map(add, starts, repeat(rules.size_ms + rules.allowed_lateness_ms))
    late = list(map(le, closes, marks))
    return late if True in late else None


def _advance(part: Part, watermark_ms: int, arrivals: list[int]) -> None:
    """The part's watermark and last arrival after the chunk's trips."""
    part.watermark_ms = watermark_ms
    part.last_arrival_ms = max(part.last_arrival_ms, *arrivals)
