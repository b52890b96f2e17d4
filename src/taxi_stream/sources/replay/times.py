"""New York wall times from a column (typed or text), read as instants with their UTC offset.

TLC and Kaggle times are naive New York local time. A wall time is read at its first occurrence
(``fold=0``, as ``zoneinfo`` does): in the repeated autumn hour that is daylight time (EDT,
-04:00); a spring-forward time that does not exist (02:30 on the March change day) is read with
the offset before the gap (EST, -05:00), so 02:30-05:00, the instant 03:30 EDT. The second
occurrence (``fold=1``) is offered too, for the dropoff rule in ``records.py``.

The offsets come from ``zoneinfo`` (the system's tz database), one table of transitions per
year, applied to whole columns with numpy. Times are whole seconds: a fraction of a second
(TLC files have none) is dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Final
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from taxi_stream.core.errors import SourceError
from taxi_stream.core.timefmt import EPOCH
from taxi_stream.sources.replay.layouts import NEW_YORK, Columns

_NY: Final = ZoneInfo(NEW_YORK)
_SECONDS: Final = pa.timestamp("s")
_NO_TIME: Final = pa.scalar(None, _SECONDS)
_ISO_TEXT: Final = "%Y-%m-%d %H:%M:%S"
_US_TEXT: Final = "%m/%d/%Y %I:%M:%S %p"  # the NYC Open Data export: 01/15/2015 07:05:39 PM
_DAY_S: Final = 86_400
_MIN_YEAR, _MAX_YEAR = 2, 9998  # what datetime can take, with a day to spare either side

Seconds = npt.NDArray[np.int64]


def wall_times(values: pa.Array, column: str) -> tuple[pa.Array, pa.Array]:
    """Naive wall times (timestamp[s]) of a column, and the text of cells that hold no time.

    Text is read as ``YYYY-MM-DD HH:MM:SS``, ``MM/DD/YYYY HH:MM:SS AM``, or anything
    ``datetime.fromisoformat`` takes; a time with its own offset is moved to New York time.
    A cell that is none of these is null in the first array and kept, as text, in the second.
    """
    kind = values.type
    no_text = pa.nulls(len(values), pa.string())
    if pa.types.is_timestamp(kind):
        if kind.tz is not None:
            values = pc.local_timestamp(values.cast(pa.timestamp(kind.unit, tz=NEW_YORK)))
        return values.cast(_SECONDS, safe=False), no_text
    if pa.types.is_date(kind):
        return values.cast(_SECONDS), no_text
    if pa.types.is_null(kind):
        return pa.nulls(len(values), _SECONDS), no_text
    if not is_time_type(kind):
        raise refusal(column, kind, "the file")
    text = pc.utf8_trim_whitespace(values.cast(pa.string()))
    try:
        return text.cast(_SECONDS), no_text  # the usual case, strict and fast
    except pa.ArrowInvalid:
        return _parse_text(text)


def is_time_type(kind: pa.DataType) -> bool:
    """Whether ``wall_times`` reads a column of this type (a dictionary's: of its values)."""
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    kinds = (pa.types.is_timestamp, pa.types.is_date, pa.types.is_null, pa.types.is_string)
    return any(bool(of(kind)) for of in (*kinds, pa.types.is_large_string))


def check_types(columns: Columns, types: Mapping[str, pa.DataType], source: str) -> Columns:
    """``columns``, or SourceError naming its pickup or dropoff column when ``wall_times`` does
    not read its type (epoch numbers, say), before any row is read; a column not in ``types``
    (a CSV file's) is text."""
    for column in (columns.get("pickup"), columns.get("dropoff")):
        kind = None if column is None else types.get(column)
        if column is not None and kind is not None and not is_time_type(kind):
            raise refusal(column, kind, source)
    return columns


def refusal(column: str, kind: pa.DataType, source: str) -> SourceError:
    """The error for a time column of a type replay does not read, naming the file's column."""
    return SourceError(
        f"{source}: column {column} holds {kind}, not times: replay reads a timestamp column"
        " (naive: New York time; with a time zone: that instant), a date, or text such as"
        " 2024-11-01 00:10:00; epoch numbers carry no unit replay can be sure of: cast the column"
        " to a timestamp with time zone UTC first (docs/records.md)"
    )


def _parse_text(text: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Cell by cell: the ISO form, the US form, then ``fromisoformat``; the rest is kept."""
    parsed = pc.strptime(text, format=_ISO_TEXT, unit="s", error_is_null=True)
    same = pc.equal(parsed.cast(pa.string()), text)  # strptime takes 2015-02-30 as March 2
    wall = pc.if_else(same, parsed, _NO_TIME)
    unread = pc.and_(pc.is_null(wall), pc.is_valid(text))
    if pc.any(unread).as_py():
        rest = text.filter(unread)
        us = pc.strptime(rest, format=_US_TEXT, unit="s", error_is_null=True)
        us = pc.if_else(pc.equal(pc.strftime(us, format=_US_TEXT), rest), us, _NO_TIME)
        cells = zip(rest.to_pylist(), us.to_pylist(), strict=True)
        found = [_python_wall(cell) if time is None else time for cell, time in cells]
        wall = pc.replace_with_mask(wall, unread, pa.array(found, _SECONDS))
    left = pc.and_(pc.is_null(wall), pc.is_valid(text))
    return wall, pc.if_else(left, text, pa.scalar(None, pa.string()))


def _python_wall(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        try:
            moment = datetime.strptime(text, _US_TEXT)  # a naive wall time
        except ValueError:
            return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(_NY).replace(tzinfo=None)
    return moment.replace(microsecond=0)


def instants(wall: Seconds) -> tuple[Seconds, Seconds]:
    """Epoch seconds of wall times (seconds) read at their first and at their second occurrence.

    The two differ only in the repeated autumn hour (by 3,600 s) and in the spring gap.
    """
    first_at, second_at, offsets = _table(_years(wall))
    first = np.maximum(np.searchsorted(first_at, wall, side="right") - 1, 0)
    second = np.maximum(np.searchsorted(second_at, wall, side="right") - 1, 0)
    return wall - offsets[first], wall - offsets[second]


def offset_texts(wall: Seconds, instant: Seconds) -> pa.Array:
    """``-04:00`` or ``-05:00`` (or whatever the offset of each reading was), per row."""
    distinct, index = np.unique(wall - instant, return_inverse=True)
    texts = pa.array([_offset_text(int(value)) for value in distinct], pa.string())
    return texts.take(pa.array(index))


def wall_text(wall: pa.Array) -> pa.Array:
    """``2024-11-03T01:30:00``: the wall time as written, in ISO-8601."""
    return pc.utf8_replace_slice(wall.cast(pa.string()), 10, 11, "T")


def _years(wall: Seconds) -> list[int]:
    """The years the wall times fall in: all between the first and last, or the distinct ones."""
    if not len(wall):
        return [1970]
    low, high = _year_of(np.array([wall.min(), wall.max()]))
    if high - low < 64:
        return list(range(int(low), int(high) + 1))
    return [int(year) for year in np.unique(_year_of(wall))]


def _year_of(wall: Seconds) -> npt.NDArray[np.int64]:
    days = (wall // _DAY_S).astype("datetime64[D]")
    years = days.astype("datetime64[Y]").astype(np.int64) + 1970
    return np.clip(years, _MIN_YEAR, _MAX_YEAR)


def _table(years: list[int]) -> tuple[Seconds, Seconds, Seconds]:
    """Where each offset starts, in wall seconds for either reading, over these years."""
    rows = [row for year in years for row in _year_table(year)]
    columns = np.array(rows, dtype=np.int64).T
    return columns[0], columns[1], columns[2]


@lru_cache(maxsize=512)
def _year_table(year: int) -> tuple[tuple[int, int, int], ...]:
    """(first-reading start, second-reading start, offset) from Jan 1 and at each change.

    Offsets are sampled daily and each change found to the second: New York's offset changes
    at most once a day.
    """
    start = datetime(year, 1, 1)  # a naive wall time
    before = _offset_at(_utc_s(start.replace(tzinfo=_NY)))
    rows = [(_wall_s(start), _wall_s(start), before)]
    noon = _utc_s(datetime(year, 1, 1, 12, tzinfo=UTC))
    days = (datetime(year + 1, 1, 1) - start).days
    for day in range(1, days + 1):
        after = _offset_at(noon + day * _DAY_S)
        if after != before:
            change = _change_between(noon + (day - 1) * _DAY_S, noon + day * _DAY_S)
            rows.append((change + max(before, after), change + min(before, after), after))
            before = after
    return tuple(rows)


def _change_between(low: int, high: int) -> int:
    """The first instant in (low, high] with the offset in force at ``high``."""
    target = _offset_at(high)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if _offset_at(middle) == target else (middle, high)
    return high


def _offset_at(utc_s: int) -> int:
    offset = (EPOCH + timedelta(seconds=utc_s)).astimezone(_NY).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def _utc_s(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(seconds=1)


def _wall_s(naive: datetime) -> int:
    return (naive.replace(tzinfo=UTC) - EPOCH) // timedelta(seconds=1)


def _offset_text(offset_s: int) -> str:
    sign = "-" if offset_s < 0 else "+"
    hours, rest = divmod(abs(offset_s), 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{sign}{hours:02d}:{minutes:02d}" + (f":{seconds:02d}" if seconds else "")
