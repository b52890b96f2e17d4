"""A block of file rows to wire records (DESIGN section 3): one JSON object per row, none dropped.

Per row: ``id`` (``<file name>:<row>``), ``vendorId``, ``pickupDate`` and ``dropoffDate`` with
their New York offset, ``passengerCount``, the coordinates, ``storeAndFwdFlag``, the distance
(TLC ``trip_distance`` as ``googleDistance``; Kaggle: ``gcDistance``, the haversine of the
coordinates), ``tripDuration`` (TLC: dropoff - pickup in whole seconds, negative too; Kaggle: its
``trip_duration``), ``fareAmount``, ``tipAmount``, ``totalAmount``, ``puLocationId`` and
``doLocationId``. An absent value leaves its field out; a value that cannot be read is sent
as text for the consumer to dead-letter (docs/records.md). A row with a cell that is no UTF-8 is
sent with its cells' bytes as they are (dead letter ``not_utf8``); a record over the stream's
record limit as the oversize envelope ``produce`` sends (dead letter ``too_large``).
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from taxi_stream.core import oversize
from taxi_stream.core.limits import MAX_RECORD_BYTES
from taxi_stream.sources.replay import times, values
from taxi_stream.sources.replay.layouts import Layout

EARTH_RADIUS_MI: Final = 3958.8
BLANK: Final = " \t\r\n\v\f"  # what a blank row holds, as bytes.strip() strips
_LINE_BREAK: Final = re.compile(r"\r\n|\r|\n")
NO_TIME: Final = np.iinfo(np.int64).min  # the event time of a row without a readable pickup

_Spec = tuple[tuple[str, str, Callable[[pa.Array], pa.Array], bool], ...]
"""(wire name, canonical column, how to write it, whether its values repeat enough to share)."""

_NUMBERS: Final[_Spec] = (
    ("passengerCount", "passengers", values.whole_number_text, True),
    ("pickupLongitude", "pickup_lon", values.number_text, False),
    ("pickupLatitude", "pickup_lat", values.number_text, False),
    ("dropoffLongitude", "dropoff_lon", values.number_text, False),
    ("dropoffLatitude", "dropoff_lat", values.number_text, False),
    ("storeAndFwdFlag", "flag", values.flag_text, True),
)
_KAGGLE_DURATION: Final[_Spec] = (("tripDuration", "duration", values.number_text, True),)
_TLC_DISTANCE: Final[_Spec] = (("googleDistance", "distance", values.number_text, True),)
_AFTER: Final[_Spec] = (
    ("fareAmount", "fare", values.number_text, True),
    ("tipAmount", "tip", values.number_text, True),
    ("totalAmount", "total", values.number_text, True),
    ("puLocationId", "pu_zone", values.whole_number_text, True),
    ("doLocationId", "do_zone", values.whole_number_text, True),
)


@dataclass(frozen=True, slots=True)
class Records:
    """Wire records of a block, in row order: data, partition key, pickup and dropoff of each."""

    rows: npt.NDArray[np.int64]
    event_ms: npt.NDArray[np.int64]  # epoch ms of the pickup, NO_TIME when there is none
    keys: list[str]
    data: list[bytes]
    dropoff_ms: npt.NDArray[np.int64]  # epoch ms of the dropoff written, NO_TIME when none


Part: TypeAlias = Any
"""A piece of a record's JSON text: a pyarrow string array (a text per row) or a str constant."""


@dataclass(frozen=True, slots=True)
class _Times:
    pickup_s: npt.NDArray[np.int64]  # epoch seconds (meaningless where there is no pickup)
    has_pickup: npt.NDArray[np.bool_]
    dropoff_s: npt.NDArray[np.int64]
    has_dropoff: npt.NDArray[np.bool_]
    parts: list[Part]  # the pickupDate and dropoffDate fields


def event_ms(batch: pa.RecordBatch) -> npt.NDArray[np.int64]:
    """Epoch ms of each row's pickup, ``NO_TIME`` where it has none (for ``--start-at``)."""
    wall, _ = times.wall_times(batch.column("pickup"), "pickup")
    seconds, valid = _seconds(wall)
    return np.where(valid, times.instants(seconds)[0] * 1000, NO_TIME)


def to_records(
    batch: pa.RecordBatch, rows: npt.NDArray[np.int64], layout: Layout, source: str
) -> Records:
    """The wire records of ``batch`` (canonical columns), one per row, ids from ``source``."""
    row_text = pa.array(rows, pa.int64()).cast(pa.string())
    at = _times(batch)
    parts: list[Part] = ['{"id":' + json.dumps(source)[:-1] + ":", row_text, '"']
    parts += _field("vendorId", [values.by_distinct(batch.column("vendor"), values.vendor_text)])
    parts += at.parts
    parts += _columns(batch, _NUMBERS)
    if layout.great_circle:
        parts += _field("gcDistance", [_great_circle(batch)])
        parts += _columns(batch, _KAGGLE_DURATION)
    else:
        valid = at.has_pickup & at.has_dropoff
        duration = pa.array(at.dropoff_s - at.pickup_s, mask=~valid).cast(pa.string())
        parts += _field("tripDuration", [duration])
        parts += _columns(batch, _TLC_DISTANCE)
    parts += _columns(batch, _AFTER)
    parts.append("}")
    data = _join(parts, batch.num_rows).cast(pa.binary()).to_pylist()
    events = np.where(at.has_pickup, at.pickup_s * 1000, NO_TIME)
    drops = np.where(at.has_dropoff, at.dropoff_s * 1000, NO_TIME)
    return Records(rows, events, _keys(rows), data, drops)


def is_blank(text: str) -> bool:
    """Whether a CSV row holds only ASCII whitespace (as a blank line for ``produce --from``)."""
    return not text.strip(BLANK)


def malformed_records(rows: list[tuple[int, str]], source: str, width: int) -> Records:
    """A CSV row with the wrong number of fields: its id, its raw text (``csvRow``), how many
    fields it has (``csvColumns``, as the csv module reads it) and the header (``headerColumns``).
    A row whose quote never closes took the rest of the file: its first line only, and how many
    lines it took after it (``csvOpenQuote``).

    Bytes of the line that are no UTF-8 (surrogate escapes in ``text``) are sent as they are.
    """
    data = [
        json.dumps(_marker(f"{source}:{row}", text, width), ensure_ascii=False).encode(
            "utf-8", "surrogateescape"
        )
        for row, text in rows
    ]
    numbers = np.array([row for row, _ in rows], dtype=np.int64)
    events = np.full(len(rows), NO_TIME, dtype=np.int64)
    return Records(numbers, events, _keys(numbers), data, events)


def open_quote(text: str) -> int | None:
    """The lines after its first that a malformed row took because a quote in it never closes
    (an odd number of quotes, the rest of the file read as that one row); else None."""
    if text.count('"') % 2 == 0:
        return None
    taken = len(_LINE_BREAK.split(text.rstrip("\r\n"))) - 1
    return taken or None


def _marker(row_id: str, text: str, width: int) -> dict[str, str | int]:
    """A malformed row's marker; one whose quote never closes keeps only its first line."""
    taken = open_quote(text)
    if taken is None:
        return {"id": row_id, "csvRow": text, **_widths(text, width)}
    first = _LINE_BREAK.split(text, maxsplit=1)[0]
    return {"id": row_id, "csvRow": first, "csvOpenQuote": taken, "headerColumns": width}


def _widths(text: str, width: int) -> dict[str, int]:
    """``csvColumns`` and ``headerColumns`` of a malformed row; none when the csv module cannot
    read it either."""
    try:
        fields = next(csv.reader([text]), [])
    except csv.Error:
        return {}
    return {"csvColumns": len(fields), "headerColumns": width}


def not_utf8_records(
    rows: list[tuple[int, list[bytes | None]]], names: list[str], source: str
) -> Records:
    """A row with a cell that is no UTF-8: its id and its cells by column name, bytes as read.

    ``{"id": "<file>:<row>", "csvCells": {"VendorID": "2", ...}}``, quotes, backslashes and
    control bytes escaped and every other byte kept, so the consumer dead-letters it as
    ``not_utf8`` with these bytes.
    """
    head = [b'"' + _escaped(name.encode()) + b'":' for name in names]
    data = []
    for row, cells in rows:
        fields = b",".join(
            key + (b"null" if cell is None else b'"' + _escaped(cell) + b'"')
            for key, cell in zip(head, cells, strict=True)
        )
        row_id = json.dumps(f"{source}:{row}").encode()
        data.append(b'{"id":' + row_id + b',"csvCells":{' + fields + b"}}")
    numbers = np.array([row for row, _ in rows], dtype=np.int64)
    events = np.full(len(rows), NO_TIME, dtype=np.int64)
    return Records(numbers, events, _keys(numbers), data, events)


def within_limit(records: Records, source: str) -> Records:
    """The records, each one over the stream's record limit replaced by its oversize envelope."""
    if not records.data or max(map(len, records.data)) <= MAX_RECORD_BYTES - 256:
        return records  # the common case: even the longest key leaves every record in bounds
    data = [
        oversize.envelope(d, line=int(row), source=source, unit="row")
        if oversize.is_over_limit(key, d)
        else d
        for row, key, d in zip(records.rows, records.keys, records.data, strict=True)
    ]
    return Records(records.rows, records.event_ms, records.keys, data, records.dropoff_ms)


def _escaped(raw: bytes) -> bytes:
    """Bytes for inside a JSON string: quote, backslash and control bytes escaped, others kept."""
    out = raw.replace(b"\\", b"\\\\").replace(b'"', b'\\"')
    if any(b < 0x20 for b in out):
        out = b"".join(b"\\u%04x" % b if b < 0x20 else bytes([b]) for b in out)
    return out


def _times(batch: pa.RecordBatch) -> _Times:
    """Pickup read at its first occurrence; dropoff too, unless only its second is not before."""
    pick_wall, pick_raw = times.wall_times(batch.column("pickup"), "pickup")
    pick, has_pick = _seconds(pick_wall)
    pick_s = times.instants(pick)[0]
    if "dropoff" in batch.schema.names:
        drop_wall, drop_raw = times.wall_times(batch.column("dropoff"), "dropoff")
    else:
        drop_wall = pa.nulls(batch.num_rows, pa.timestamp("s"))
        drop_raw = pa.nulls(batch.num_rows, pa.string())
    drop, has_drop = _seconds(drop_wall)
    first, second = times.instants(drop)
    drop_s = np.where((first < pick_s) & (second >= pick_s) & has_pick, second, first)
    parts = _time_field("pickupDate", pick_wall, pick, pick_s, pick_raw)
    parts += _time_field("dropoffDate", drop_wall, drop, drop_s, drop_raw)
    return _Times(pick_s, has_pick, drop_s, has_drop, parts)


def _seconds(wall: pa.Array) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    valid = pc.is_valid(wall).to_numpy(zero_copy_only=False)
    return wall.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False), valid


def _time_field(
    name: str,
    wall: pa.Array,
    wall_s: npt.NDArray[np.int64],
    instant_s: npt.NDArray[np.int64],
    raw: pa.Array,
) -> list[Part]:
    """``,"name":"2024-11-03T01:30:00-04:00"``; the raw text of a cell that is no time."""
    iso = [times.wall_text(wall), times.offset_texts(wall_s, instant_s)]
    if not wall.null_count:
        return [f',"{name}":"', *iso, '"']
    fragment = pc.binary_join_element_wise(f',"{name}":"', *iso, '"', "")
    if raw.null_count < len(raw):
        text = pc.binary_join_element_wise(f',"{name}":', values.string_text(raw), "")
        fragment = pc.coalesce(fragment, text)
    return [fragment]


def _columns(batch: pa.RecordBatch, spec: _Spec) -> list[Part]:
    """The fields of ``spec`` whose columns the batch has."""
    parts: list[Part] = []
    for wire, column, text, repeats in spec:
        if column in batch.schema.names:
            value = batch.column(column)
            parts += _field(wire, [values.by_distinct(value, text) if repeats else text(value)])
    return parts


def _field(name: str, texts: list[Part]) -> list[Part]:
    """``,"name":text``; where a text is null the whole field is left out of that row."""
    if not any(isinstance(text, pa.Array) and text.null_count for text in texts):
        return [f',"{name}":', *texts]
    return [pc.binary_join_element_wise(f',"{name}":', *texts, "")]


def _great_circle(batch: pa.RecordBatch) -> pa.Array:
    lat1, lon1, lat2, lon2 = (
        values.float_values(batch.column(name))
        for name in ("pickup_lat", "pickup_lon", "dropoff_lat", "dropoff_lon")
    )
    miles = values.haversine_miles(lat1, lon1, lat2, lon2, EARTH_RADIUS_MI)
    return values.number_text(miles)


def _join(parts: list[Part], n: int) -> pa.Array:
    """Each row's parts end to end; a null part (a field left out) adds nothing."""
    if n == 0:
        return pa.array([], pa.string())
    return pc.binary_join_element_wise(*parts, "", null_handling="replace", null_replacement="")


def _keys(rows: npt.NDArray[np.int64]) -> list[str]:
    """Partition keys: the row numbers (their MD5s spread the rows evenly over the shards)."""
    return list(map(str, rows.tolist()))
