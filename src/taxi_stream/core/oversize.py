"""The oversize envelope: a line too large for a stream record travels as a small marker record.

A stream record is at most ``core.limits.MAX_RECORD_BYTES`` (data + partition key, as Kinesis
counts it). The producer sends a line over that limit as an envelope instead, so the line still
enters the stream and still ends as a dead letter (reason ``too_large``) with its line number and
first bytes; nothing is lost on the way:

    {"taxiStreamOversize": {"line": 17, "source": "trips.jsonl", "bytes": 1500000,
                            "limitBytes": 1048576, "headBase64": "<the first 4 KiB>"}}

A replayed CSV or Parquet row's envelope adds ``"unit": "row"``: ``line`` is then its row
number, ``bytes`` the size of the record the row made (its JSON, not the row's own bytes: a
Parquet row has none), and the dead letter's message says so: ``row 5 of trips.csv makes a
record of 1,500,000 bytes`` (a consumer that predates ``unit`` ignores it).

The consumer takes an object with the ``taxiStreamOversize`` key and no ``vendorId`` for an
envelope; the dead letter's raw bytes are the head, not the envelope.

``replay`` sends a CSV row with the wrong number of fields as another marker, its raw text
under ``csvRow`` (no ``vendorId``), with ``csvColumns`` (its fields) and ``headerColumns``: the
consumer dead-letters it as ``bad_csv_row``, saying how many columns it had of how many. A row
whose quote never closes (so it runs to the end of the file) has ``csvOpenQuote``, the lines
after its first that it took, and says so instead.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any, Final

from taxi_stream.core.errors import Reason, RecordError
from taxi_stream.core.limits import MAX_RECORD_BYTES, record_bytes

KEY: Final = "taxiStreamOversize"
CSV_ROW: Final = "csvRow"  # a replayed CSV row that does not fit its header
HEAD_BYTES: Final = 4_096  # how much of an oversize line the envelope keeps
MAX_SOURCE_CHARS: Final = 1_024


def is_over_limit(partition_key: str, data: bytes) -> bool:
    """Whether a record of this key and data exceeds the stream's record limit."""
    return record_bytes(partition_key, data) > MAX_RECORD_BYTES


def envelope(data: bytes, *, line: int, source: str, unit: str = "line") -> bytes:
    """The small record that stands for the oversize ``data`` read at ``line`` of ``source``
    (``unit``: ``line``, or ``row`` for a row of a trip file)."""
    head = base64.b64encode(data[:HEAD_BYTES]).decode("ascii")
    body: dict[str, int | str] = {
        "line": line,
        "source": source[:MAX_SOURCE_CHARS],
        "bytes": len(data),
        "limitBytes": MAX_RECORD_BYTES,
        "headBase64": head,
    }
    if unit != "line":
        body["unit"] = unit
    return json.dumps({KEY: body}, separators=(",", ":")).encode()


def is_envelope(value: Mapping[str, Any]) -> bool:
    """Whether a decoded record object is an envelope or a CSV row marker (a trip, with a
    vendorId, never is)."""
    return (KEY in value or CSV_ROW in value) and "vendorId" not in value


def rejection(value: Mapping[str, Any]) -> RecordError:
    """The dead-letter verdict on an envelope: ``too_large``, its raw bytes the line's head.

    A malformed envelope is rejected as such (reason ``bad_oversize_envelope``), its own bytes
    kept. A CSV row marker is ``bad_csv_row``, with its columns and the header's.
    """
    if KEY not in value:
        return _row_rejection(value)
    try:
        unit, line, source, size, limit, head = _fields(value[KEY])
    except ValueError as exc:
        return RecordError(Reason.BAD_ENVELOPE, f"a malformed {KEY} record: {exc}")
    where = f"{unit} {line:,} of {'standard input' if source == '-' else source or 'the input'}"
    what = f"is {size:,} bytes" if unit == "line" else f"makes a record of {size:,} bytes"
    message = (
        f"{where} {what}, over the {_limit(limit)} record limit "
        f"(data + partition key); its first {len(head):,} bytes are kept"
    )
    return RecordError(Reason.TOO_LARGE, message, raw=head)


def _row_rejection(value: Mapping[str, Any]) -> RecordError:
    """A CSV row that does not fit its header: which row, how many columns of how many."""
    source, _, row = str(value.get("id", "")).rpartition(":")
    where = f"row {row} of {source}" if source and row.isdigit() else "a CSV row"
    columns, header = value.get("csvColumns"), value.get("headerColumns")
    taken = value.get("csvOpenQuote")
    if type(taken) is int:
        what = (
            f"opens a quote that never closes: it took the {taken:,} line(s) after it, to the"
            " end of the file"
        )
    elif type(columns) is int and type(header) is int:
        what = f"has {columns:,} of the header's {header:,} columns"
    else:
        what = "does not have the header's number of columns"
    return RecordError(Reason.BAD_CSV_ROW, f"{where} {what}; its text is in csvRow")


def _limit(limit: int) -> str:
    mib, rest = divmod(limit, 1_048_576)
    return f"{mib} MiB ({limit:,}-byte)" if mib and not rest else f"{limit:,}-byte"


def _fields(body: Any) -> tuple[str, int, str, int, int, bytes]:
    if not isinstance(body, Mapping):
        raise ValueError(f"{KEY} must be an object")
    line, size, limit = (_count(body, name) for name in ("line", "bytes", "limitBytes"))
    unit = body.get("unit", "line")
    if unit not in ("line", "row"):
        raise ValueError(f"unit must be line or row, got {unit!r}")
    source, head = body.get("source", ""), body.get("headBase64")
    if not isinstance(source, str):
        raise ValueError(f"source must be a string, got {source!r}")
    if not isinstance(head, str):
        raise ValueError("headBase64 must be a string")
    try:
        raw = base64.b64decode(head, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("headBase64 is not base64") from None
    return unit, line, source[:MAX_SOURCE_CHARS], size, limit, raw


def _count(body: Mapping[str, Any], name: str) -> int:
    number = body.get(name)
    if type(number) is not int or number < 1:
        raise ValueError(f"{name} must be a whole number of at least 1, got {number!r}")
    return number
